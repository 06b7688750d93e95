"""The console's report page runs nothing from the report's text (a data file can steer the model that
writes it), and keeps the runtime's own citation links."""

from __future__ import annotations

from ops.web.app import REPORT_POLICY, safe_report_html


def test_html_in_the_models_text_is_shown_not_run():
    html = safe_report_html("합계 <script>fetch('/api/jobs')</script> <img src=x onerror=alert(1)>\n")
    assert "<script" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html


def test_the_runtimes_citation_links_stay_links():
    markdown = '총 매출 157,685,452원<sup><a href="#ref-1">1</a></sup>\n\n<a id="ref-1"></a>[1] 157,685,452\n'
    html = safe_report_html(markdown)
    assert '157,685,452원<sup><a href="#ref-1">1</a></sup>' in html
    assert '<a id="ref-1"></a>[1] 157,685,452' in html


def test_a_look_alike_citation_with_an_attribute_is_text():
    html = safe_report_html('<sup><a href="#ref-1" onclick="x()">1</a></sup>')
    assert "<sup>" not in html
    assert "onclick" in html  # as text


def test_the_report_page_may_run_no_script():
    assert "default-src 'none'" in REPORT_POLICY
    assert "script-src" not in REPORT_POLICY
