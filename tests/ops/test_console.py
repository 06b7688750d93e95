"""The web console in a real headless Chromium (Debian's chromium and chromium-driver, installed by .ci/run),
against ``deep-insight console --local`` started as a person starts it, with scripted models (only the LLM
replaced; ``--scripted`` is the test-only switch). Screenshots of the main screens land in
``$TMPDIR/deep-insight-console-screens/`` (not committed)."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from pypdf import PdfReader
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import CHROMIUM, DRIVER
from tests.ops.test_run import environment, executors_of_runs
from tests.runtimes.agent.test_workflow import scripts
from tests.runtimes.conftest import DATA

COMMAND = str(Path(sys.executable).with_name("deep-insight"))
TOKEN = "console-test-token"
QUESTION = "카테고리별 매출을 분석해줘"
SCREENS = Path(tempfile.gettempdir()) / "deep-insight-console-screens"
CHART = "import matplotlib.pyplot as plt\nplt.bar(['a', 'b'], [1, 2])\nplt.savefig('artifacts/early_chart.png')"
SLOW = [
    {"tools": [{"name": "python", "input": {"code": "open('artifacts/early.txt', 'w').write('1')"}}]},
    {"tools": [{"name": "python", "input": {"code": "import time\ntime.sleep(120)"}}]},
]


class Console:
    def __init__(self, runs: Path, turns: Path | None, *, stack: Path | None = None, env: dict | None = None) -> None:
        """``stack``: the outputs file of a deployed stack to run jobs in (else --local with ``turns``)."""
        self.runs = runs
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = runs.parent / f"console-{self.port}.log"
        with self.log.open("wb") as output:
            where = ["--stack", "dev", "--outputs", str(stack)] if stack else ["--local", "--scripted", str(turns)]
            self.process = subprocess.Popen(
                [COMMAND, "console", *where, "--no-browser", "--port", str(self.port), "--token", TOKEN,
                 "--runs", str(runs)],
                env=environment(**(env or {})), stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log.read_text()
            try:
                httpx.get(self.url, timeout=1)
                return
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the console did not start"
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def turns_file(folder: Path, **replace: list[dict]) -> Path:
    turns = scripts(list(pd.read_csv(DATA)["카테고리"].unique())) | replace
    path = folder / ("slow.json" if replace else "turns.json")
    path.write_text(json.dumps(turns, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("console") / "runs"


@pytest.fixture(scope="module")
def console(runs) -> Iterator[Console]:
    started = Console(runs, turns_file(runs.parent))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    SCREENS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def find(browser: WebDriver, test_id: str):
    return browser.find_element(By.CSS_SELECTOR, f"[data-testid={test_id}]")


def wait(browser: WebDriver, condition, seconds: float = 90):
    return WebDriverWait(browser, seconds, poll_frequency=0.1).until(lambda _: condition())


def state(browser: WebDriver) -> str:
    return find(browser, "job-state").get_attribute("data-state") or ""


def start_job(browser: WebDriver, console: Console, *, review: bool = False, screenshot: str | None = None) -> str:
    browser.get(f"{console.url}/?token={TOKEN}#/new")
    find(browser, "files").send_keys(str(DATA))
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid=preview]"))
    find(browser, "question").send_keys(QUESTION)
    if review:
        find(browser, "review").click()
    if screenshot:
        browser.save_screenshot(str(SCREENS / screenshot))
    find(browser, "start").click()
    wait(browser, lambda: "#/job/" in browser.current_url)
    return browser.current_url.rsplit("/", 1)[-1]


def test_without_the_token_the_page_and_api_are_closed(console):
    assert httpx.get(console.url).status_code == 403
    assert httpx.get(f"{console.url}/api/jobs").status_code == 403
    assert httpx.get(f"{console.url}/api/jobs", params={"token": "wrong"}).status_code == 403


def test_a_job_from_the_dropped_file_to_the_report_and_its_pdf(browser, console):
    session_id = start_job(browser, console, screenshot="new-job.png")
    wait(browser, lambda: state(browser) in ("complete", "error"))
    assert state(browser) == "complete", find(browser, "timeline").text
    timeline = find(browser, "timeline").text
    assert "coder → python" in timeline
    assert "총 매출 157,685,452원을 계산했습니다." in timeline
    chart = find(browser, "chart")
    wait(browser, lambda: browser.execute_script("return arguments[0].naturalWidth", chart) > 0)
    browser.save_screenshot(str(SCREENS / "job.png"))
    browser.switch_to.frame(find(browser, "report"))
    wait(browser, lambda: "157,685,452" in browser.find_element(By.TAG_NAME, "body").text)
    assert "유제품" in browser.find_element(By.TAG_NAME, "body").text
    browser.switch_to.default_content()
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "[data-testid=download]")}
    assert {"final_report.pdf", "final_report_with_citations.docx", "sales_by_category.png"} <= set(links)
    pdf = httpx.get(links["final_report.pdf"], cookies={c["name"]: c["value"] for c in browser.get_cookies()})
    assert pdf.status_code == 200
    text = "".join(page.extract_text() for page in PdfReader(_bytes(pdf.content)).pages)
    assert "157,685,452" in text
    assert session_id in text  # the cover names the session
    assert list((console.runs / ".uploads").iterdir()) == []  # the staged upload went with the job


def test_the_preview_shows_the_columns_and_first_rows(browser, console):
    browser.get(f"{console.url}/?token={TOKEN}#/new")
    find(browser, "files").send_keys(str(DATA))
    preview = wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid=preview]"))[0]
    headers = [th.text for th in preview.find_elements(By.TAG_NAME, "th")]
    assert headers == list(pd.read_csv(DATA).columns)
    assert f"{len(pd.read_csv(DATA)):,}" in preview.text
    assert len(preview.find_elements(By.CSS_SELECTOR, "tbody tr")) == 5


def test_plan_review_approved_in_the_page(browser, console):
    start_job(browser, console, review=True)
    wait(browser, lambda: find(browser, "review-panel").is_displayed())
    assert "1. 총 매출 계산" in (find(browser, "plan").get_attribute("value") or "")
    find(browser, "approve").click()
    wait(browser, lambda: state(browser) in ("complete", "error"))
    assert state(browser) == "complete"
    assert "plan approved" in find(browser, "timeline").text


def test_history_lists_finished_jobs_after_a_restart(browser, console, runs):
    console.stop()
    again = Console(runs, turns_file(runs.parent))
    try:
        browser.get(f"{again.url}/?token={TOKEN}#/history")
        rows = wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid=history-row]"))
        states = [row.find_elements(By.TAG_NAME, "td")[2].get_attribute("data-state") for row in rows]
        assert states
        assert set(states) == {"complete"}
        browser.save_screenshot(str(SCREENS / "history.png"))
        rows[0].find_element(By.TAG_NAME, "a").click()
        wait(browser, lambda: state(browser) == "complete")
        browser.switch_to.frame(find(browser, "report"))
        wait(browser, lambda: "157,685,452" in browser.find_element(By.TAG_NAME, "body").text)
        browser.switch_to.default_content()
    finally:
        again.stop()


def test_cancel_stops_the_job_and_its_executor(browser, tmp_path):
    runs = tmp_path / "runs"
    slow = Console(runs, turns_file(tmp_path, coder=SLOW))
    try:
        start_job(browser, slow)
        wait(browser, lambda: find(browser, "timeline").text.count("coder → python") >= 2)
        assert executors_of_runs()  # the job's own executor is running
        find(browser, "cancel").click()
        wait(browser, lambda: state(browser) == "cancelled")
        wait(browser, lambda: not executors_of_runs(), seconds=60)
        (folder,) = [p for p in runs.iterdir() if not p.name.startswith(".")]
        assert (folder / "early.txt").read_text() == "1"  # what it made before, kept
    finally:
        slow.stop()


def _bytes(content: bytes) -> io.BytesIO:
    return io.BytesIO(content)


if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):  # pragma: no cover
    pytest.fail(f"{CHROMIUM} and {DRIVER} are needed (.ci/run installs Debian's chromium and chromium-driver)")


def test_a_chart_shows_while_the_job_still_runs(browser, tmp_path):
    runs = tmp_path / "runs"
    chart_then_wait = [
        {"tools": [{"name": "python", "input": {"code": CHART}}]},
        {"tools": [{"name": "python", "input": {"code": "import time\ntime.sleep(120)"}}]},
    ]
    slow = Console(runs, turns_file(tmp_path, coder=chart_then_wait))
    try:
        start_job(browser, slow)
        chart = wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid=chart]"))[0]
        wait(browser, lambda: browser.execute_script("return arguments[0].naturalWidth", chart) > 0)
        assert state(browser) == "running"
        find(browser, "cancel").click()
        wait(browser, lambda: state(browser) == "cancelled")
    finally:
        slow.stop()
