"""The reports as Word documents (python-docx): the same content as the PDFs, editable.

Real Word structure, so a reader can restyle and reuse it: the title and section headings use Word's
Title and Heading styles (the navigation pane lists them), tables are Word tables (numbers right-aligned),
charts are inline pictures with a Caption paragraph, citation marks are superscript runs in the cited
variant and absent from the plain one, and every page but the first shows its number (a PAGE field).
Korean text gets a font with Hangul for East Asian runs (w:eastAsia), which Word and LibreOffice honour.
"""

from __future__ import annotations

import io
from typing import Any

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Pt

from deep_insight_agent.report import LABELS, Report, cell_text, summary
from deep_insight_agent.report_content import citation_runs, without_marks

KOREAN_FONT = "NanumGothic"


def _east_asian_font(document: Any) -> None:
    """Every paragraph and character style sets NanumGothic for East Asian text (a theme font, which the
    default template's headings name, would win over it: that reference is removed)."""
    for style in document.styles:
        if style.type not in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER):
            continue
        fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
        fonts.set(qn("w:eastAsia"), KOREAN_FONT)
        fonts.attrib.pop(qn("w:eastAsiaTheme"), None)


def _page_number_footer(document: Any) -> None:
    section = document.sections[0]
    section.different_first_page_header_footer = True  # the cover has no number
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)


def _flowing(paragraph: Any, value: str, *, with_citations: bool) -> None:
    if not with_citations:
        paragraph.add_run(without_marks(value))
        return
    for piece, number in citation_runs(value):
        paragraph.add_run(piece)
        if number is not None:
            paragraph.add_run(str(number)).font.superscript = True


def render_docx(report: Report, *, with_citations: bool) -> bytes:
    """The DOCX as bytes; without citations the ``[n]`` marks are removed, as in the plain PDF."""
    labels = LABELS.get(report.language, LABELS["en"])
    document = Document()
    _east_asian_font(document)
    _page_number_footer(document)

    plain = without_marks

    document.add_heading(plain(report.title), level=0)
    if report.notice:
        document.add_paragraph().add_run(report.notice).bold = True
    if report.cover is not None:
        for label, value in report.cover.fields(labels):
            document.add_paragraph(f"{label}: {value}")
    document.add_paragraph().add_run().add_break(WD_BREAK.PAGE)

    figures = summary(report.sections)
    if figures:
        document.add_heading(labels["summary"], level=1)
        for heading, figure in figures:
            _flowing(
                document.add_paragraph(style="List Bullet"),
                f"{figure.label}: {figure.value} ({plain(heading)})",
                with_citations=with_citations,
            )
    for number, section in enumerate(report.sections, start=1):
        document.add_heading(f"{number}. {plain(section.heading)}", level=1)
        for figure in section.key_figures:
            _flowing(document.add_paragraph(), f"{figure.label}: {figure.value}", with_citations=with_citations)
        for paragraph in section.paragraphs:
            _flowing(document.add_paragraph(), paragraph, with_citations=with_citations)
        for bullet in section.bullets:
            _flowing(document.add_paragraph(style="List Bullet"), bullet, with_citations=with_citations)
        for table in section.tables:
            rendered = document.add_table(rows=1 + len(table.rows), cols=len(table.header))
            rendered.style = "Table Grid"
            rendered.alignment = WD_TABLE_ALIGNMENT.CENTER
            for column, name in enumerate(table.header):
                rendered.cell(0, column).text = plain(name)
            for row_number, row in enumerate(table.rows, start=1):
                for column, value in enumerate(row):
                    cell = rendered.cell(row_number, column)
                    cell.text = plain(cell_text(value))
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
            if table.caption:
                document.add_paragraph(plain(table.caption), style="Caption")
        for chart, caption in section.charts:
            document.add_picture(io.BytesIO(chart), width=Inches(6))
            document.add_paragraph(plain(caption), style="Caption")
    if with_citations and report.citations:
        document.add_page_break()  # not a new section: it would copy the cover's numberless first page
        document.add_heading(labels["references"], level=1)
        for citation in report.citations:
            paragraph = document.add_paragraph(
                f"[{citation.number}] {citation.value} ({citation.calculation_id}): {citation.derivation}"
            )
            paragraph.paragraph_format.space_after = Pt(2)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
