"""The audit before publication, and the figure reading it rests on. Expectations are literals a person can
check by hand: the reference total 157,685,452 (../shared/data/fresh-food-sales.csv) written the ways
reports write it, and Korean place values (만 10^4, 억 10^8, 조 10^12)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from deep_insight_agent.audit import audit
from deep_insight_agent.figures import read_figure

TOTAL = "157685452"
CITATIONS = [
    {"number": 1, "calculationId": "calc-total-sales", "value": "157,685,452", "derivation": "sum of 금액"},
    {"number": 2, "calculationId": "calc-fruit-share", "value": "0.2841", "derivation": "과일 / total"},
]
CALCULATIONS = [
    {"id": "calc-total-sales", "description": "총 매출", "value": TOTAL, "code": "df['금액'].sum()"},
    {"id": "calc-fruit-share", "description": "과일 비중", "value": 0.2841, "code": "..."},
]


@pytest.mark.parametrize(
    "written",
    [
        "157,685,452",
        "157685452",
        "157,685,452원",
        "1.58억",
        "1.58 억 원",
        "1.6억",
        "2억",
        "1억 5,769만",
        "157.7 million",
    ],
)
def test_the_total_written_any_usual_way_states_it(written):
    figure = read_figure(written)
    assert figure is not None
    assert figure.states(Decimal(TOTAL))


@pytest.mark.parametrize("written", ["157,685,453", "1.57억", "1.59억", "1억 5,768만", "157.6 million", "15768545"])
def test_a_different_figure_does_not(written):
    figure = read_figure(written)
    assert figure is not None
    assert not figure.states(Decimal(TOTAL))


def test_korean_place_values():
    assert read_figure("3조").value == Decimal(3 * 10**12)  # type: ignore[union-attr]
    assert read_figure("2천만 원").value == Decimal(2 * 10**7)  # type: ignore[union-attr]
    assert read_figure("1억 2천만").value == Decimal(10**8 + 2 * 10**7)  # type: ignore[union-attr]
    assert read_figure("no number") is None


def test_a_correct_report_passes_with_no_warning():
    result = audit(
        [
            ("sections[0].paragraphs[0]", "2024년 총 매출은 157,685,452원 [1]이며 과일이 28.41% [2]를 차지합니다."),
            ("sections[0].keyFigures[0]", "1.58억 원 [1]"),
        ],
        CITATIONS,
        CALCULATIONS,
    )
    assert result.passed, result
    assert result.warnings == []  # 2024년 is a year, not a figure to cite


def test_a_wrong_figure_an_unknown_mark_and_a_stray_citation_are_defects():
    citations = [*CITATIONS, {"number": 3, "calculationId": "calc-gone", "value": "5", "derivation": ""}]
    result = audit([("p", "총 매출 158,000,000원 [1], 과일 30% [2], 채소 [7]")], citations, CALCULATIONS)
    assert not result.passed
    assert [str(d) for d in result.defects] == [
        "citation [3]: calculation 'calc-gone' is not recorded",
        "p: 158,000,000 [1] does not state the cited value 157,685,452",
        "p: 30% [2] does not state the cited value 0.2841",
        "p: [7] names no citation in citations.json",
    ]


def test_a_citation_that_disagrees_with_its_calculation_is_a_defect():
    citations = [{**CITATIONS[0], "value": "157,685,000"}]
    result = audit([("p", "157,685,000 [1]")], citations, CALCULATIONS)
    assert [str(d) for d in result.defects] == [
        "citation [1]: says '157,685,000' but calculation 'calc-total-sales' recorded '157685452'"
    ]


def test_uncited_figures_and_marks_without_figures_are_warnings():
    result = audit(
        [("p", "채소 매출은 41,203,110원이고, 이는 분석 결과입니다 [1]. 상위 3개 품목.")], CITATIONS, CALCULATIONS
    )
    assert result.passed
    assert [str(w) for w in result.warnings] == ["p: [1] follows no figure", "p: 41,203,110 has no citation"]


def test_a_korean_ending_may_stand_between_the_figure_and_its_mark():
    result = audit([("p", "총 매출은 158,000,000원입니다 [1].")], CITATIONS, CALCULATIONS)
    assert [str(d) for d in result.defects] == ["p: 158,000,000 [1] does not state the cited value 157,685,452"]
