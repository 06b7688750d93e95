"""What the reporter may put in a report (the ``write_report`` tool's input), read and checked.

Per section: paragraphs, bullet lists, tables (a header and rows of the same width; numbers stay numbers
so the renderer can format and right-align them), any number of charts with captions, and key-figure
callouts. Any text, cell or key figure may carry citation marks ``[n]``. A malformed input is not an
exception: `parse_report` returns every problem, one line each with where it is, for the tool to hand
back to the model so it can fix its call.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

MARK = re.compile(r"\[(\d+)\]")
"""A citation mark, ``[n]``: n is a citation's number in citations.json."""
SPACED_MARK = re.compile(r"\s?\[(\d+)\]")
"""A mark with the space before it: what goes when a mark is removed or replaced."""


def without_marks(text: str) -> str:
    return SPACED_MARK.sub("", text)


def citation_runs(text: str) -> list[tuple[str, int | None]]:
    """``text`` cut at its marks: each piece of text (without the space before a mark) and the mark after
    it; the last piece has none."""
    runs: list[tuple[str, int | None]] = []
    position = 0
    for mark in MARK.finditer(text):
        runs.append((text[position : mark.start()].rstrip(" "), int(mark[1])))
        position = mark.end()
    return [*runs, (text[position:], None)]


CHART_PREFIX, CHART_SUFFIX = "artifacts/", ".png"
SECTION_KEYS = frozenset({"heading", "paragraphs", "bullets", "tables", "charts", "keyFigures"})
Cell = str | int | float


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    caption: str = ""

    def numeric_columns(self) -> list[bool]:
        """Per column, whether every row holds a number there (renderers right-align those)."""
        return [all(isinstance(row[i], int | float) for row in self.rows) for i in range(len(self.header))]


@dataclass(frozen=True)
class Chart:
    path: str
    caption: str


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    """As written, marks included (``"157,685,452원 [1]"``)."""


@dataclass(frozen=True)
class ReportSection:
    heading: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    key_figures: tuple[KeyFigure, ...] = ()


@dataclass(frozen=True)
class ReportContent:
    title: str
    sections: tuple[ReportSection, ...] = field(default_factory=tuple)

    def fragments(self) -> Iterator[tuple[str, str]]:
        """(where, text) of every text a reader sees: what the audit reads."""
        yield "title", self.title
        for s, section in enumerate(self.sections):
            at = f"sections[{s}]"
            yield f"{at}.heading", section.heading
            for name, texts in (("paragraphs", section.paragraphs), ("bullets", section.bullets)):
                for i, text in enumerate(texts):
                    yield f"{at}.{name}[{i}]", text
            for t, table in enumerate(section.tables):
                if table.caption:
                    yield f"{at}.tables[{t}].caption", table.caption
                for r, row in enumerate(table.rows):
                    for c, cell in enumerate(row):
                        yield f"{at}.tables[{t}].rows[{r}][{c}]", str(cell)
            for c, chart in enumerate(section.charts):
                yield f"{at}.charts[{c}].caption", chart.caption
            for k, figure in enumerate(section.key_figures):
                yield f"{at}.keyFigures[{k}]", figure.value


class _Problems(list[str]):
    def text(self, value: Any, where: str, *, required: bool = True) -> str:
        if isinstance(value, str) and (value.strip() or not required):
            return value
        self.append(f"{where} must be {'a non-empty' if required else 'a'} string")
        return ""

    def texts(self, value: Any, where: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.append(f"{where} must be a list of strings")
            return ()
        return tuple(self.text(item, f"{where}[{i}]") for i, item in enumerate(value))

    def items(self, value: Any, where: str) -> list[tuple[str, Mapping[str, Any]]]:
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
            self.append(f"{where} must be a list of objects")
            return []
        return [(f"{where}[{i}]", item) for i, item in enumerate(value)]


def _table(p: _Problems, where: str, item: Mapping[str, Any]) -> Table:
    header = p.texts(item.get("header"), f"{where}.header")
    if not header:
        p.append(f"{where}.header must name at least one column")
    rows: list[tuple[Cell, ...]] = []
    for r, row in enumerate(item.get("rows") or []):
        at = f"{where}.rows[{r}]"
        if not isinstance(row, list) or not all(
            isinstance(c, str | int | float) and c is not True and c is not False for c in row
        ):
            p.append(f"{at} must be a list of strings and numbers")
            continue
        if header and len(row) != len(header):
            p.append(f"{at} has {len(row)} cells; the header has {len(header)}")
        rows.append(tuple(row))
    if not rows:
        p.append(f"{where}.rows must hold at least one row")
    return Table(header, tuple(rows), p.text(item.get("caption", ""), f"{where}.caption", required=False))


def _chart(p: _Problems, where: str, item: Mapping[str, Any]) -> Chart:
    path = p.text(item.get("path"), f"{where}.path")
    if path and not (path.startswith(CHART_PREFIX) and path.endswith(CHART_SUFFIX) and ".." not in path):
        p.append(f"{where}.path must be a chart the coder saved, {CHART_PREFIX}<name>{CHART_SUFFIX}; got {path!r}")
    return Chart(path, p.text(item.get("caption"), f"{where}.caption"))


def _key_figure(p: _Problems, where: str, item: Mapping[str, Any]) -> KeyFigure:
    value = item.get("value")
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = f"{value:,}"
    return KeyFigure(p.text(item.get("label"), f"{where}.label"), p.text(value, f"{where}.value"))


def parse_report(title: Any, sections: Any) -> tuple[ReportContent | None, list[str]]:
    """The report, or None and every problem found (one line each, naming where it is)."""
    p = _Problems()
    parsed_title = p.text(title, "title")
    if not isinstance(sections, list) or not sections:
        p.append("sections must be a non-empty list of objects")
        return None, p
    parsed: list[ReportSection] = []
    for where, section in p.items(sections, "sections"):
        unknown = sorted(set(section) - SECTION_KEYS)
        if unknown:
            p.append(f"{where} has unknown keys {unknown}; allowed: {sorted(SECTION_KEYS)}")
        parsed.append(
            ReportSection(
                heading=p.text(section.get("heading"), f"{where}.heading"),
                paragraphs=p.texts(section.get("paragraphs"), f"{where}.paragraphs"),
                bullets=p.texts(section.get("bullets"), f"{where}.bullets"),
                tables=tuple(_table(p, at, t) for at, t in p.items(section.get("tables"), f"{where}.tables")),
                charts=tuple(_chart(p, at, c) for at, c in p.items(section.get("charts"), f"{where}.charts")),
                key_figures=tuple(
                    _key_figure(p, at, k) for at, k in p.items(section.get("keyFigures"), f"{where}.keyFigures")
                ),
            )
        )
    if p:
        return None, p
    return ReportContent(parsed_title, tuple(parsed)), []
