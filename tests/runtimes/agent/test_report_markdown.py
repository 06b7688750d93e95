"""The web report: GitHub-flavoured Markdown, read back with markdown-it-py (CommonMark plus GFM tables)."""

from __future__ import annotations

import re

from deep_insight_agent.report import Citation, Cover, Report
from deep_insight_agent.report_content import parse_report
from deep_insight_agent.report_markdown import render_markdown
from markdown_it import MarkdownIt

SECTIONS = [
    {"heading": "요약", "paragraphs": ["총 매출은 157,685,452원입니다 [1]."],
     "keyFigures": [{"label": "총 매출", "value": "157,685,452원 [1]"}]},
    {"heading": "카테고리별 매출", "bullets": ["과일 | 채소"],
     "tables": [{"header": ["카테고리", "금액"], "rows": [["과일", 44800000], ["채소", 41203110]], "caption": "합계"}],
     "charts": [{"path": "artifacts/sales_by_category.png", "caption": "카테고리별 매출"}]},
]  # fmt: skip


def rendered() -> tuple[str, list]:
    content, problems = parse_report("신선식품 매출 분석", SECTIONS)
    assert content is not None, problems
    report = Report(
        content.title,
        (),
        (Citation(1, "calc-total-sales", "157,685,452", "sum of 금액"),),
        cover=Cover("카테고리별 매출을 분석해줘", ("fresh-food-sales.csv",), "2026-12-07", "session-0123"),
    )
    text = render_markdown(report, content)
    return text, MarkdownIt("commonmark").enable("table").parse(text)


def test_headings_table_image_and_figures():
    text, tokens = rendered()
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["신선식품 매출 분석", "핵심 요약", "1. 요약", "2. 카테고리별 매출", "참고 문헌"]
    cells = [
        t.content for t in tokens if t.type == "inline" and tokens[tokens.index(t) - 1].type in ("th_open", "td_open")
    ]
    assert cells == ["카테고리", "금액", "과일", "44,800,000", "채소", "41,203,110"]
    aligned = [t.attrs.get("style") for t in tokens if t.type in ("th_open", "td_open")]
    assert aligned[1::2] == ["text-align:right"] * 3  # the numeric column
    images = [child for t in tokens if t.type == "inline" for child in (t.children or []) if child.type == "image"]
    assert [image.attrs["src"] for image in images] == ["sales_by_category.png"]  # beside the report in artifacts/
    captions = [t.content for t in tokens if t.type == "inline" and re.fullmatch(r"\*[^*]+\*", t.content)]
    assert captions == ["*합계*", "*카테고리별 매출*"]  # paragraphs of their own, not table rows
    assert "157,685,452" in text
    assert "과일 \\| 채소" not in text  # a bullet is not a cell: no escaping there
    assert "- 과일 | 채소" in text


def test_citations_link_to_their_reference():
    text, _ = rendered()
    assert '157,685,452원입니다<sup><a href="#ref-1">1</a></sup>.' in text
    assert '<a id="ref-1"></a>[1] 157,685,452 (`calc-total-sales`): sum of 금액' in text
