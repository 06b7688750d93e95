"""The PDF reports (SPEC §1): one with citation marks and a citation list, one without.

fpdf2 embeds a subset of a TrueType font that has Hangul, so Korean renders in any viewer and the text
stays extractable. The font is found in the image (Debian's fonts-nanum) or named by
``DEEP_INSIGHT_REPORT_FONT``.
"""

from __future__ import annotations

import io
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from deep_insight_agent.report_content import KeyFigure, Table

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/nanum/NanumGothic.ttf",
    "/usr/share/fonts/truetype/nanum/NanumBarunGothic.ttf",
)
CITATION_MARK = re.compile(r"\s?\[\d+\]")
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
class Report:
    title: str
    sections: tuple[Section, ...]
    citations: tuple[Citation, ...] = field(default_factory=tuple)
    notice: str | None = None
    """Shown under the title of both variants: why the report did not pass the audit."""


def render(report: Report, *, with_citations: bool, font: Path | None = None) -> bytes:
    """The PDF as bytes; without citations the ``[n]`` marks are removed from the text."""
    font = font or find_font()
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_font("Report", "", str(font))
    pdf.set_title(report.title)
    pdf.add_page()

    def text(value: str) -> str:
        return value if with_citations else CITATION_MARK.sub("", value)

    def line(height: float, value: str) -> None:
        pdf.multi_cell(0, height, value, new_x="LMARGIN", new_y="NEXT")

    pdf.set_font("Report", size=18)
    line(10, text(report.title))
    if report.notice:
        pdf.set_font("Report", size=11)
        pdf.set_text_color(180, 0, 0)
        line(6, report.notice)
        pdf.set_text_color(0, 0, 0)
    pdf.ln(4)
    for section in report.sections:
        pdf.set_font("Report", size=14)
        line(8, text(section.heading))
        pdf.set_font("Report", size=11)
        for figure in section.key_figures:
            line(7, f"{text(figure.label)}: {text(figure.value)}")
        for paragraph in section.paragraphs:
            line(6, text(paragraph))
            pdf.ln(2)
        for bullet in section.bullets:
            line(6, f"• {text(bullet)}")
        for table in section.tables:
            numeric = [all(isinstance(row[i], int | float) for row in table.rows) for i in range(len(table.header))]
            align = tuple("RIGHT" if is_number else "LEFT" for is_number in numeric)
            # One embedded font, regular only: the heading row is set off by its shade, not bold.
            headings = FontFace(emphasis="", fill_color=(235, 235, 235))
            with pdf.table(text_align=align, first_row_as_headings=True, headings_style=headings) as rendered:
                for values in (table.header, *table.rows):
                    row = rendered.row()
                    for value in values:
                        row.cell(text(cell_text(value)))
            if table.caption:
                pdf.set_font("Report", size=9)
                line(5, text(table.caption))
                pdf.set_font("Report", size=11)
            pdf.ln(3)
        for chart, caption in section.charts:
            pdf.image(io.BytesIO(chart), w=pdf.epw * 0.8)
            pdf.set_font("Report", size=9)
            line(5, text(caption))
            pdf.set_font("Report", size=11)
            pdf.ln(4)
    if with_citations and report.citations:
        pdf.set_font("Report", size=14)
        line(8, "Citations")
        pdf.set_font("Report", size=10)
        for citation in report.citations:
            line(5, f"[{citation.number}] {citation.value} ({citation.calculation_id}): {citation.derivation}")
    return bytes(pdf.output())
