"""The PDF reports (SPEC §1): one with citation marks and a citation list, one without.

fpdf2 embeds a subset of a TrueType font that has Hangul, so Korean renders in any viewer and the text
stays extractable. The font is found in the image (Debian's fonts-nanum) or named by
``DEEP_INSIGHT_REPORT_FONT``.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fpdf import FPDF
from fpdf.fonts import FontFace

from deep_insight_agent.report_content import KeyFigure, Table, citation_runs, without_marks

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
)
# fontTools reports every table it leaves out of the embedded subset; none of them matter for a report.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


class ReportFontError(RuntimeError):
    """No font with Korean glyphs; the message says how to provide one."""


def find_font() -> Path:
    configured = os.environ.get("DEEP_INSIGHT_REPORT_FONT")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ReportFontError(
        "no TrueType font with Korean glyphs: install Debian's fonts-nanum or set DEEP_INSIGHT_REPORT_FONT"
    )


@dataclass(frozen=True)
class Citation:
    number: int
    calculation_id: str
    value: str
    derivation: str


@dataclass(frozen=True)
class Section:
    heading: str
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[tuple[bytes, str], ...] = ()
    """PNGs with their captions, shown under the section's text."""
    key_figures: tuple[KeyFigure, ...] = ()


def cell_text(cell: str | int | float) -> str:
    """A table cell as shown: numbers with thousands separators (the ko-KR and en-US convention alike)."""
    if isinstance(cell, bool) or not isinstance(cell, int | float):
        return str(cell)
    if isinstance(cell, float) and not cell.is_integer():
        return f"{cell:,}"
    return f"{int(cell):,}"


@dataclass(frozen=True)
class Cover:
    """What the cover page says besides the title."""

    question: str
    data_files: tuple[str, ...]
    date: str
    session_id: str

    def fields(self, labels: Mapping[str, str]) -> list[tuple[str, str]]:
        """(label, value) of each line the cover shows, labelled in the report's language."""
        return [
            (labels["question"], self.question),
            (labels["data"], ", ".join(self.data_files) or "-"),
            (labels["date"], self.date),
            (labels["session"], self.session_id),
        ]


@dataclass(frozen=True)
class Report:
    title: str
    sections: tuple[Section, ...]
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    notice: str | None = None
    """Shown under the title of both variants: why the report did not pass the audit."""
    cover: Cover | None = None
    language: str = "ko"


LABELS: dict[str, dict[str, str]] = {
    "ko": {"question": "질문", "data": "데이터", "date": "작성일", "session": "세션", "summary": "핵심 요약",
           "contents": "목차", "references": "참고 문헌", "page": "쪽"},
    "en": {"question": "Question", "data": "Data", "date": "Date", "session": "Session", "summary": "Key figures",
           "contents": "Contents", "references": "References", "page": "Page"},
}  # fmt: skip


class _Headed(Protocol):
    @property
    def heading(self) -> str: ...
    @property
    def key_figures(self) -> tuple[KeyFigure, ...]: ...


def summary(sections: Iterable[_Headed]) -> list[tuple[str, KeyFigure]]:
    """The executive summary: every section's key figures, each with the heading it comes from."""
    return [(section.heading, figure) for section in sections for figure in section.key_figures]


class _Pdf(FPDF):
    """A4, the report's font, and a page number at the foot of every page but the cover."""

    page_label = "Page"

    def footer(self) -> None:
        if self.page_no() == 1:
            return
        self.set_y(-12)
        self.set_font("Report", size=8)
        self.cell(0, 6, f"{self.page_no()} / {{nb}}", align="C")


def render(report: Report, *, with_citations: bool, font: Path | None = None) -> bytes:
    """The PDF as bytes. With citations, each mark [n] is a superscript linked to the references; without,
    the marks are removed."""
    font = font or find_font()
    labels = LABELS.get(report.language, LABELS["en"])
    pdf = _Pdf(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font("Report", "", str(font))
    pdf.set_title(report.title)
    pdf.alias_nb_pages()
    # Each reference's link, pointed at its line once the references page exists (set_link below).
    references = {c.number: pdf.add_link(page=1) for c in report.citations} if with_citations else {}

    plain = without_marks

    def line(height: float, value: str) -> None:
        pdf.multi_cell(0, height, value, new_x="LMARGIN", new_y="NEXT")

    def flowing(height: float, value: str) -> None:
        """Text whose marks become linked superscripts (cited variant) or vanish (plain variant)."""
        if not with_citations:
            line(height, plain(value))
            return
        for piece, number in citation_runs(value):
            pdf.write(height, piece)
            if number is not None:
                pdf.char_vpos = "SUP"
                pdf.write(height, str(number), link=references.get(number, ""))
                pdf.char_vpos = "LINE"
        pdf.ln(height)

    # Cover: the title, the question, the data, the date and the session.
    pdf.add_page()
    pdf.set_font("Report", size=24)
    pdf.ln(40)
    line(12, plain(report.title))
    if report.notice:
        pdf.set_font("Report", size=11)
        pdf.set_text_color(180, 0, 0)
        line(6, report.notice)
        pdf.set_text_color(0, 0, 0)
    if report.cover is not None:
        pdf.ln(10)
        pdf.set_font("Report", size=11)
        for label, value in report.cover.fields(labels):
            line(7, f"{label}: {value}")

    # The key figures of every section, then the contents.
    figures = summary(report.sections)
    pdf.add_page()
    if figures:
        pdf.set_font("Report", size=16)
        line(10, labels["summary"])
        pdf.set_font("Report", size=11)
        for heading, figure in figures:
            flowing(7, f"• {figure.label}: {figure.value} ({heading})")
        pdf.ln(4)
    pdf.set_font("Report", size=16)
    line(10, labels["contents"])
    pdf.set_font("Report", size=11)
    for number, section in enumerate(report.sections, start=1):
        line(7, f"{number}. {plain(section.heading)}")

    for number, section in enumerate(report.sections, start=1):
        pdf.add_page()
        pdf.set_font("Report", size=14)
        pdf.start_section(plain(section.heading))
        line(8, f"{number}. {plain(section.heading)}")
        pdf.set_font("Report", size=11)
        for figure in section.key_figures:
            flowing(7, f"{figure.label}: {figure.value}")
        for paragraph in section.paragraphs:
            flowing(6, paragraph)
            pdf.ln(2)
        for bullet in section.bullets:
            flowing(6, f"• {bullet}")
        for table in section.tables:
            align = tuple("RIGHT" if is_number else "LEFT" for is_number in table.numeric_columns())
            # One embedded font, regular only: the heading row is set off by its shade, not bold.
            headings = FontFace(emphasis="", fill_color=(235, 235, 235))
            with pdf.table(text_align=align, first_row_as_headings=True, headings_style=headings) as rendered:
                for values in (table.header, *table.rows):
                    row = rendered.row()
                    for value in values:
                        row.cell(plain(cell_text(value)))
            if table.caption:
                pdf.set_font("Report", size=9)
                line(5, plain(table.caption))
                pdf.set_font("Report", size=11)
            pdf.ln(3)
        for chart, caption in section.charts:
            pdf.image(io.BytesIO(chart), w=pdf.epw * 0.8)
            pdf.set_font("Report", size=9)
            line(5, plain(caption))
            pdf.set_font("Report", size=11)
            pdf.ln(4)
    if with_citations and report.citations:
        pdf.add_page()
        pdf.set_font("Report", size=14)
        pdf.start_section(labels["references"])
        line(8, labels["references"])
        pdf.set_font("Report", size=10)
        for citation in report.citations:
            pdf.set_link(references[citation.number], page=pdf.page_no(), y=pdf.get_y())
            line(5, f"[{citation.number}] {citation.value} ({citation.calculation_id}): {citation.derivation}")
    return bytes(pdf.output())
