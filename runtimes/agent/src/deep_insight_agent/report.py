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
    paragraphs: tuple[str, ...]
    chart: bytes | None = None
    """A PNG shown under the section's text."""


@dataclass(frozen=True)
class Report:
    title: str
    sections: tuple[Section, ...]
    citations: tuple[Citation, ...] = field(default_factory=tuple)


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
    pdf.ln(4)
    for section in report.sections:
        pdf.set_font("Report", size=14)
        line(8, text(section.heading))
        pdf.set_font("Report", size=11)
        for paragraph in section.paragraphs:
            line(6, text(paragraph))
            pdf.ln(2)
        if section.chart is not None:
            pdf.image(io.BytesIO(section.chart), w=pdf.epw * 0.8)
            pdf.ln(4)
    if with_citations and report.citations:
        pdf.set_font("Report", size=14)
        line(8, "Citations")
        pdf.set_font("Report", size=10)
        for citation in report.citations:
            line(5, f"[{citation.number}] {citation.value} ({citation.calculation_id}): {citation.derivation}")
    return bytes(pdf.output())
