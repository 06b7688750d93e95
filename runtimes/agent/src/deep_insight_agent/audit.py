"""The audit before publication: every citation mark resolves, and every cited figure is the cited value.

Code, not a model. Each ``[n]`` in the report's text must name a citation of ``citations.json`` whose
calculation id is in ``calculation_metadata.json``, the citation's value must be that calculation's value,
and the figure written just before the mark (figures.py: 157,685,452 = 157685452 = 1.58억 at the stated
precision) must state it. Any of those failing is a defect, which blocks publication. Figures the report
states without a mark, and marks with no figure before them, are warnings: worth a look, not wrong.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from deep_insight_agent.figures import Figure, computed_value, figures_in
from deep_insight_agent.report_content import MARK

# What may stand between a figure and its mark: a few letters of the same clause, such as a currency word
# and a Korean ending ("157,685,452원입니다 [1]"), but no digit, no clause punctuation and no other mark.
BETWEEN = re.compile(r"[^\d.,;:!?()\[\]\n]{0,12}")
YEAR = re.compile(r"(?:19|20)\d\d")


@dataclass(frozen=True)
class Finding:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Audit:
    defects: list[Finding] = field(default_factory=list)
    """Each blocks publication."""
    warnings: list[Finding] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.defects

    def as_event_fields(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "defects": [str(finding) for finding in self.defects],
            "warnings": [str(finding) for finding in self.warnings],
        }


def _figure_before(text: str, mark_start: int) -> Figure | None:
    for figure, _start, end in reversed(figures_in(text[:mark_start])):
        if BETWEEN.fullmatch(text[end:mark_start]):
            return figure
        return None
    return None


def _is_year(figure: Figure) -> bool:
    return not figure.percent and figure.step == 1 and YEAR.fullmatch(figure.text) is not None


def audit(
    fragments: Iterable[tuple[str, str]],
    citations: Iterable[Mapping[str, Any]],
    calculations: Iterable[Mapping[str, Any]],
) -> Audit:
    """``fragments``: (where, text) of every text of the report (title, headings, paragraphs, cells, ...)."""
    by_number = {int(c["number"]): c for c in citations if str(c.get("number", "")).isdigit()}
    by_id = {str(c["id"]): c for c in calculations if "id" in c}
    result = Audit()
    for number, citation in sorted(by_number.items()):
        calculation = by_id.get(str(citation.get("calculationId")))
        if calculation is None:
            result.defects.append(
                Finding(f"citation [{number}]", f"calculation {citation.get('calculationId')!r} is not recorded")
            )
            continue
        cited, recorded = computed_value(citation.get("value", "")), computed_value(calculation.get("value", ""))
        if cited is None or recorded is None or cited != recorded:
            result.defects.append(
                Finding(
                    f"citation [{number}]",
                    f"says {citation.get('value')!r} but calculation {calculation['id']!r} recorded "
                    f"{calculation.get('value')!r}",
                )
            )
    for where, text in fragments:
        marked_ends = set()
        for mark in MARK.finditer(text):
            number = int(mark[1])
            citation = by_number.get(number)
            if citation is None:
                result.defects.append(Finding(where, f"[{number}] names no citation in citations.json"))
                continue
            figure = _figure_before(text, mark.start())
            if figure is None:
                result.warnings.append(Finding(where, f"[{number}] follows no figure"))
                continue
            marked_ends.add(figure.text)
            value = computed_value(citation.get("value", ""))
            if value is None or not figure.states(value):
                result.defects.append(
                    Finding(where, f"{figure.text} [{number}] does not state the cited value {citation.get('value')}")
                )
        for figure, _start, _end in figures_in(MARK.sub("", text)):
            if figure.text in marked_ends or _is_year(figure) or abs(figure.value) < 100:
                continue
            result.warnings.append(Finding(where, f"{figure.text} has no citation"))
    return result
