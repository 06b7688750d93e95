"""The write_report tool's input: what the reporter may put in a report, and one line per mistake."""

from __future__ import annotations

import pytest
from deep_insight_agent.report_content import Chart, KeyFigure, Table, parse_report

SECTION = {
    "heading": "카테고리별 매출",
    "paragraphs": ["과일이 가장 큽니다 [2]."],
    "bullets": ["과일", "채소"],
    "tables": [{"header": ["카테고리", "금액"], "rows": [["과일", 44800000], ["채소", 41203110.0]], "caption": "합계"}],
    "charts": [{"path": "artifacts/sales_by_category.png", "caption": "카테고리별 매출"}],
    "keyFigures": [{"label": "총 매출", "value": "157,685,452원 [1]"}, {"label": "품목 수", "value": 2726}],
}


def test_a_full_section_is_read_as_written():
    content, problems = parse_report("신선식품 매출 분석", [SECTION])
    assert problems == []
    assert content is not None
    (section,) = content.sections
    assert section.tables == (Table(("카테고리", "금액"), (("과일", 44800000), ("채소", 41203110.0)), "합계"),)
    assert section.charts == (Chart("artifacts/sales_by_category.png", "카테고리별 매출"),)
    assert section.key_figures == (KeyFigure("총 매출", "157,685,452원 [1]"), KeyFigure("품목 수", "2,726"))
    where = dict(content.fragments())
    assert where["sections[0].keyFigures[0]"] == "157,685,452원 [1]"
    assert where["sections[0].tables[0].rows[1][1]"] == "41203110.0"
    assert where["title"] == "신선식품 매출 분석"


def test_only_a_heading_is_required():
    content, problems = parse_report("t", [{"heading": "요약"}])
    assert problems == []
    assert content is not None


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ({"paragraphs": ["x"]}, "sections[0].heading must be a non-empty string"),
        ({"heading": "h", "chart": "artifacts/a.png"}, "sections[0] has unknown keys ['chart']; allowed: "),
        ({"heading": "h", "paragraphs": "one"}, "sections[0].paragraphs must be a list of strings"),
        (
            {"heading": "h", "tables": [{"header": ["a", "b"], "rows": [[1]]}]},
            "sections[0].tables[0].rows[0] has 1 cells; the header has 2",
        ),
        (
            {"heading": "h", "tables": [{"header": ["a"], "rows": [[True]]}]},
            "sections[0].tables[0].rows[0] must be a list of strings and numbers",
        ),
        (
            {"heading": "h", "tables": [{"header": [], "rows": [[1]]}]},
            "sections[0].tables[0].header must name at least one column",
        ),
        (
            {"heading": "h", "tables": [{"header": ["a"], "rows": []}]},
            "sections[0].tables[0].rows must hold at least one row",
        ),
        (
            {"heading": "h", "charts": [{"path": "/etc/passwd", "caption": "c"}]},
            "sections[0].charts[0].path must be a chart the coder saved",
        ),
        (
            {"heading": "h", "charts": [{"path": "artifacts/../x.png", "caption": "c"}]},
            "sections[0].charts[0].path must be",
        ),
        (
            {"heading": "h", "charts": [{"path": "artifacts/a.png"}]},
            "sections[0].charts[0].caption must be a non-empty string",
        ),
        (
            {"heading": "h", "keyFigures": [{"label": "x"}]},
            "sections[0].keyFigures[0].value must be a non-empty string",
        ),
        ({"heading": "h", "charts": "artifacts/a.png"}, "sections[0].charts must be a list of objects"),
    ],
)
def test_each_mistake_is_one_line_naming_where_it_is(section, problem):
    content, problems = parse_report("t", [section])
    assert content is None
    assert any(line.startswith(problem) for line in problems), problems


def test_no_sections_and_no_title_are_reported_together():
    assert parse_report("", [])[1] == [
        "title must be a non-empty string",
        "sections must be a non-empty list of objects",
    ]


def test_the_tool_hands_mistakes_back_to_the_model_and_records_nothing():
    from deep_insight_agent.tools import executor_tools  # noqa: PLC0415

    holder: dict = {}
    (write_report,) = executor_tools(None, holder)["reporter"]  # type: ignore[arg-type]  # needs no executor
    answer = write_report(title="t", sections=[{"heading": "h", "tables": [{"header": ["a", "b"], "rows": [[1]]}]}])
    assert answer.startswith("The report was not recorded. Fix these and call write_report again:")
    assert "- sections[0].tables[0].rows[0] has 1 cells; the header has 2" in answer
    assert holder == {}
    assert write_report(title="t", sections=[SECTION]) == "report with 1 sections recorded"
    assert holder["content"].sections[0].heading == "카테고리별 매출"
