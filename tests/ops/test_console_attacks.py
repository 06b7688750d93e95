"""The console against a hostile job: what the model writes (an HTML page, an SVG, a page named like a
chart, the report's link to them) must not run on the console's origin, where the page's cookie opens
every job. A real ``deep-insight console --local`` with scripted models (only the LLM replaced) runs one
job whose code writes those files; headless Chromium then opens them the ways a person could. A marker the
scripts would set in the console origin's localStorage says whether any of them ran."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ops.web.jobs import MAX_UPLOAD_BYTES
from tests.browser import CHROMIUM, DRIVER
from tests.ops.test_console import QUESTION, TOKEN, Console, wait
from tests.runtimes.agent.test_workflow import CODER, scripts
from tests.runtimes.conftest import DATA

MARKERS = ("pwned-html", "pwned-svg", "stolen")
PAGE = """<!doctype html><title>x</title><p>hostile page</p><script>
localStorage.setItem("pwned-html", "ran");
fetch("/api/jobs").then((r) => r.text()).then((t) => localStorage.setItem("stolen", t));
</script>"""
SVG = """<svg xmlns="http://www.w3.org/2000/svg"><script>localStorage.setItem("pwned-svg", "ran")</script></svg>"""
HOSTILE_FILES = {"x.html": PAGE, "x.svg": SVG, "trap.png": PAGE, "trap_svg.png": SVG}
LINK = "자세히 보기"
MIB = 1024 * 1024
OVERSIZED = MAX_UPLOAD_BYTES + 56 * MIB


def hostile_turns(folder: Path) -> Path:
    """The reference job, with a coder that also writes the hostile files and a report that links to them."""
    turns = scripts(list(pd.read_csv(DATA)["카테고리"].unique()))
    writes = "".join(f"open('artifacts/{name}', 'w').write({text!r})\n" for name, text in HOSTILE_FILES.items())
    turns["coder"][0]["tools"][0]["input"]["code"] = CODER + writes
    section = turns["reporter"][0]["tools"][0]["input"]["sections"][0]
    section["paragraphs"].append(f"[{LINK}](x.html) · [SVG](x.svg) · [chart](trap.png)")
    path = folder / "hostile.json"
    path.write_text(json.dumps(turns, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console-attacks")
    started = Console(folder / "runs", hostile_turns(folder))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def job(console) -> str:
    """The hostile job, started and finished through the console's API, as the page does it."""
    with httpx.Client(base_url=console.url, params={"token": TOKEN}, timeout=60) as client:
        staged = client.put(f"/api/uploads/{DATA.name}", content=DATA.read_bytes()).json()
        started = client.post("/api/jobs", json={"question": QUESTION, "uploads": [staged["id"]]})
        session_id = started.json()["sessionId"]
        deadline = time.monotonic() + 300
        while True:
            (listed,) = [j for j in client.get("/api/jobs").json()["jobs"] if j["sessionId"] == session_id]
            if listed["state"] != "running":
                break
            assert time.monotonic() < deadline, "the hostile job did not finish"
            time.sleep(0.5)
        assert listed["state"] == "complete", (console.runs / session_id / "events.jsonl").read_text()
        files = set(client.get(f"/api/jobs/{session_id}").json()["files"])
    assert set(HOSTILE_FILES) <= files  # the attack is in place
    return session_id


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1100"):
        options.add_argument(argument)
    downloads = tmp_path_factory.mktemp("downloads")
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def open_console(browser: WebDriver, console: Console, fragment: str = "#/history") -> None:
    """The console's page, logged in (its cookie set), with no marker left from an earlier attack."""
    browser.get(f"{console.url}/?token={TOKEN}{fragment}")
    browser.execute_script("localStorage.clear()")


def markers(browser: WebDriver, console: Console) -> dict[str, str | None]:
    """What the hostile scripts would have left in the console origin's storage (read from the console page)."""
    browser.switch_to.default_content()
    if not browser.current_url.startswith(console.url + "/"):
        browser.get(f"{console.url}/?token={TOKEN}#/history")
    time.sleep(1)  # a script that ran may still be waiting for its fetch
    return {key: browser.execute_script("return localStorage.getItem(arguments[0])", key) for key in MARKERS}


@pytest.mark.parametrize("name", ["x.html", "x.svg"])
def test_a_model_written_page_opened_from_its_address_runs_no_script(browser, console, job, name):
    open_console(browser, console)
    browser.get(f"{console.url}/api/jobs/{job}/files/{name}")
    time.sleep(1)
    assert markers(browser, console) == dict.fromkeys(MARKERS)


def test_a_model_written_page_opened_from_the_reports_link_runs_no_script(browser, console, job):
    open_console(browser, console, f"#/job/{job}")
    report = wait(
        browser, lambda: [f for f in browser.find_elements(By.CSS_SELECTOR, "[data-testid=report]") if f.is_displayed()]
    )[0]
    browser.switch_to.frame(report)
    link = wait(browser, lambda: browser.find_elements(By.LINK_TEXT, LINK))[0]
    link.click()
    time.sleep(1)
    assert markers(browser, console) == dict.fromkeys(MARKERS)


def test_the_report_frame_is_sandboxed_without_scripts(browser, console, job):
    open_console(browser, console, f"#/job/{job}")
    report = wait(
        browser, lambda: [f for f in browser.find_elements(By.CSS_SELECTOR, "[data-testid=report]") if f.is_displayed()]
    )[0]
    sandbox = report.get_attribute("sandbox")
    assert sandbox is not None
    assert "allow-scripts" not in sandbox.split()


def test_the_sandboxed_report_still_shows_its_chart_and_styles(browser, console, job):
    open_console(browser, console, f"#/job/{job}")
    report = wait(
        browser, lambda: [f for f in browser.find_elements(By.CSS_SELECTOR, "[data-testid=report]") if f.is_displayed()]
    )[0]
    browser.switch_to.frame(report)
    chart = wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "img[src='sales_by_category.png']"))[0]
    wait(browser, lambda: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", chart))
    heading = browser.find_element(By.TAG_NAME, "h1")
    assert heading.value_of_css_property("color") == "rgba(31, 58, 95, 1)"  # report.css's heading colour
    browser.switch_to.default_content()


@pytest.mark.parametrize("name", ["trap.png", "trap_svg.png", "x.svg", "x.html"])
def test_a_file_that_is_not_an_image_is_never_served_inline(console, job, name):
    answer = httpx.get(f"{console.url}/api/jobs/{job}/files/{name}", params={"token": TOKEN})
    assert answer.status_code == 200
    assert answer.headers.get("content-disposition", "").startswith("attachment")
    assert not answer.headers["content-type"].startswith(("image/", "text/html"))
    assert answer.headers.get("x-content-type-options") == "nosniff"
    assert "sandbox" in answer.headers.get("content-security-policy", "")


def test_every_file_of_a_job_carries_nosniff_and_a_sandbox(console, job):
    with httpx.Client(base_url=console.url, params={"token": TOKEN}) as client:
        for name in client.get(f"/api/jobs/{job}").json()["files"]:
            answer = client.get(f"/api/jobs/{job}/files/{name}")
            assert answer.headers.get("x-content-type-options") == "nosniff", name
            assert "sandbox" in answer.headers.get("content-security-policy", ""), name


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def chunked_upload(port: int, name: str, total: int) -> tuple[bytes, int]:
    """PUT ``total`` bytes of CSV rows with no Content-Length (chunked), as a script can; returns what the
    server answered and how much it took before it stopped reading."""
    block = b"x" * MIB  # one endless field: whatever a script sends
    head = (
        f"PUT /api/uploads/{name}?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(head.encode())
        try:
            while sent < total:
                connection.sendall(b"%x\r\n" % len(block) + block + b"\r\n")
                sent += len(block)
            connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server stopped reading and closed
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except OSError:
            pass
    return answer, sent


def test_a_chunked_upload_past_the_limit_is_refused_and_nothing_of_it_is_kept(console):
    uploads = console.runs / ".uploads"
    before = set(uploads.rglob("*")) if uploads.exists() else set()
    Path(f"/proc/{console.process.pid}/clear_refs").write_text("5")  # peak RSS from now on
    resident = peak_rss(console.process.pid)
    answer, sent = chunked_upload(console.port, "endless.csv", OVERSIZED)
    left = set(uploads.rglob("*")) - before if uploads.exists() else set()
    assert left == set(), f"kept after the refused upload: {sorted(left)}"
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    (problem,) = json.loads(answer.split(b"\r\n\r\n", 1)[1]).values()
    assert "endless.csv" in problem
    assert "\n" not in problem
    assert sent < OVERSIZED, "the console read the whole upload"
    assert peak_rss(console.process.pid) - resident < 100 * MIB  # it held no upload in memory
    assert httpx.get(console.url).status_code == 403  # still serving
