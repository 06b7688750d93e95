"""Word reports: real Word headings, tables and pictures, Korean with a Hangul font, citations as
superscripts only in the cited variant, a PAGE field in the footer. Read back with python-docx."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from deep_insight_agent.report import Report
from deep_insight_agent.report_docx import KOREAN_FONT, render_docx
from docx import Document
from docx.oxml.ns import qn

from tests.runtimes.agent.reference_report import reference_report
from tests.runtimes.conftest import DATA


@pytest.fixture(scope="module")
def report() -> Report:
    return reference_report()  # the same report as the PDFs


def read(data: bytes):
    return Document(io.BytesIO(data))


def text_of(document) -> str:
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def test_headings_tables_pictures_and_the_figures(report):
    document = read(render_docx(report, with_citations=False))
    headings = [(p.style.name, p.text) for p in document.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings == [
        ("Title", "신선식품 매출 분석"),
        ("Heading 1", "핵심 요약"),
        ("Heading 1", "1. 요약"),
        ("Heading 1", "2. 카테고리별 매출"),
    ]
    (table,) = document.tables
    totals = pd.read_csv(DATA).groupby("카테고리")["금액"].sum()
    assert [cell.text for cell in table.rows[0].cells] == ["카테고리", "금액"]
    rows = {row.cells[0].text: row.cells[1] for row in table.rows[1:]}
    assert set(rows) == set(totals.index)  # the five categories
    for category, amount in totals.items():
        assert rows[category].text == f"{int(amount):,}"
        assert rows[category].paragraphs[0].alignment == 2  # WD_ALIGN_PARAGRAPH.RIGHT: a number
    assert len(document.inline_shapes) == 1  # the chart
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    assert captions == ["카테고리별 금액 합계", "카테고리별 매출 막대그래프"]
    text = text_of(document)
    assert "157,685,452" in text
    assert "[1]" not in text  # the plain variant has no marks
    assert "참고 문헌" not in text


def test_citations_are_superscripts_and_listed(report):
    document = read(render_docx(report, with_citations=True))
    superscripts = [run.text for p in document.paragraphs for run in p.runs if run.font.superscript]
    assert superscripts
    assert set(superscripts) == {"1"}
    assert "[1] 157,685,452 (calc-total-sales): sum of 금액 over 2,726 rows" in text_of(document)


def test_korean_has_a_hangul_font_and_pages_are_numbered(report):
    document = read(render_docx(report, with_citations=False))
    for name in ("Normal", "Heading 1", "Title"):
        fonts = document.styles[name].element.rPr.rFonts
        assert fonts.get(qn("w:eastAsia")) == KOREAN_FONT
        assert fonts.get(qn("w:eastAsiaTheme")) is None  # a theme font would win over it
    section = document.sections[0]
    assert section.different_first_page_header_footer  # no number on the cover
    fields = section.footer._element.findall(".//" + qn("w:fldSimple"))
    assert [field.get(qn("w:instr")) for field in fields] == ["PAGE"]


def test_every_page_after_the_cover_is_numbered_references_included(report):
    # Found by opening the DOCX in LibreOffice: a second Word section copies the first one's "different
    # first page" setting (w:titlePg), so the references' page took the cover's empty footer.
    document = read(render_docx(report, with_citations=True))
    for section in document.sections[1:]:
        assert not section.different_first_page_header_footer
        assert section.footer.is_linked_to_previous


@pytest.mark.parametrize("with_citations", [True, False], ids=["with-citations", "plain"])
def test_libreoffice_opens_it_with_korean_text_and_numbered_pages(report, tmp_path, with_citations):
    """A word processor's reading, not python-docx's: LibreOffice Writer (Debian's, installed by .ci/run)
    converts the DOCX to PDF, and poppler reads each page back."""
    source = tmp_path / "report.docx"
    source.write_bytes(render_docx(report, with_citations=with_citations))
    profile = tmp_path / "profile"  # its own LibreOffice profile: parallel runs do not share a lock
    subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(source)],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    converted = tmp_path / "report.pdf"
    pages = int(re.search(r"Pages:\s+(\d+)", pdf_info(converted))[1])  # type: ignore[index]
    texts = [page_text(converted, number) for number in range(1, pages + 1)]
    assert "신선식품 매출 분석" in texts[0]
    assert "157,685,452" in "".join(texts)
    assert all(category in "".join(texts) for category in ("과일", "수산물", "유제품", "육류", "채소"))
    last_lines = [text.strip().splitlines()[-1].strip() for text in texts]
    assert last_lines[0] != "1"  # the cover has no number
    assert last_lines[1:] == [str(number) for number in range(2, pages + 1)]
    assert ("참고 문헌" in texts[-1]) is with_citations


def pdf_info(path: Path) -> str:
    return subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout


def page_text(path: Path, number: int) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-f", str(number), "-l", str(number), str(path), "-"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
