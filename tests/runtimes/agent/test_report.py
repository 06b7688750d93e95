"""PDF reports: Korean renders (embedded font, extractable text), citations only in one of the two."""

from __future__ import annotations

import io
import subprocess

import pandas as pd
import pytest
from deep_insight_agent.report import Report, ReportFontError, find_font, render
from pypdf import PdfReader

from tests.runtimes.agent.reference_report import reference_report
from tests.runtimes.conftest import DATA


@pytest.fixture(scope="module")
def report() -> Report:
    return reference_report()


def text_of(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_korean_text_and_the_total_are_in_both_reports(report):
    categories = pd.read_csv(DATA)["카테고리"].unique()
    for with_citations in (True, False):
        pdf = render(report, with_citations=with_citations)
        assert pdf.startswith(b"%PDF")
        text = text_of(pdf)
        assert "157,685,452" in text
        assert "신선식품 매출 분석" in text
        for category in categories:
            assert category in text


def test_citations_appear_only_in_the_cited_report(report):
    cited = text_of(render(report, with_citations=True))
    plain = text_of(render(report, with_citations=False))
    assert "[1]" in cited
    assert "calc-total-sales" in cited
    assert "[1]" not in plain
    assert "calc-total-sales" not in plain


def test_the_font_is_embedded(report):
    reader = PdfReader(io.BytesIO(render(report, with_citations=False)))
    fonts = [font.get_object() for page in reader.pages for font in page["/Resources"]["/Font"].values()]
    descendants = [f["/DescendantFonts"][0].get_object() for f in fonts if "/DescendantFonts" in f]
    assert descendants
    assert all("/FontFile2" in d["/FontDescriptor"].get_object() for d in descendants)


def test_a_missing_font_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEP_INSIGHT_REPORT_FONT", str(tmp_path / "absent.ttf"))
    monkeypatch.setattr("deep_insight_agent.report.FONT_CANDIDATES", ())
    with pytest.raises(ReportFontError, match="fonts-nanum"):
        find_font()


def test_tables_captions_bullets_and_key_figures_are_in_the_report(report):
    sales = pd.read_csv(DATA)
    totals = sales.groupby("카테고리")["금액"].sum()
    text = text_of(render(report, with_citations=False))
    assert "카테고리별 금액 합계" in text  # the table's caption
    assert "카테고리별 매출 막대그래프" in text  # the chart's
    assert "• 다섯 카테고리" in text
    assert "총 매출: 157,685,452원" in text  # the key figure, its mark removed in the plain variant
    for amount in totals:
        assert f"{int(amount):,}" in text  # each category's total, formatted with separators
    assert sum(int(amount) for amount in totals) == 157_685_452


def test_a_cover_a_summary_contents_and_page_numbers(report):
    reader = PdfReader(io.BytesIO(render(report, with_citations=False)))
    pages = [page.extract_text() for page in reader.pages]
    cover = pages[0]
    for expected in ("신선식품 매출 분석", "질문: 카테고리별 매출을 분석해줘", "데이터: fresh-food-sales.csv",
                     "작성일: 2026-12-07", "세션: session-0123"):  # fmt: skip
        assert expected in cover
    assert "핵심 요약" in pages[1]
    assert "총 매출: 157,685,452원 (요약)" in pages[1]  # the key figure, and the section it comes from
    assert "목차" in pages[1]
    assert "2. 카테고리별 매출" in pages[1]
    total = len(pages)
    assert "/ " not in cover  # no number on the cover
    for number, text in enumerate(pages[1:], start=2):
        assert f"{number} / {total}" in text


def test_cited_marks_are_superscripts_linked_to_their_reference(report):
    reader = PdfReader(io.BytesIO(render(report, with_citations=True)))
    links = [
        annotation.get_object()
        for page in reader.pages
        for annotation in page.get("/Annots", [])
        if annotation.get_object()["/Subtype"] == "/Link"
    ]
    assert links  # each [1] in the text
    references_page = next(i for i, page in enumerate(reader.pages) if "참고 문헌" in page.extract_text())
    for link in links:
        destination = link["/Dest"] if "/Dest" in link else link["/A"]["/D"]
        assert reader.get_page_number(destination[0].get_object()) == references_page
    assert "[1] 157,685,452 (calc-total-sales)" in reader.pages[references_page].extract_text()
    plain = PdfReader(io.BytesIO(render(report, with_citations=False)))
    assert not any("/Annots" in page for page in plain.pages)


@pytest.mark.parametrize("with_citations", [True, False], ids=["with-citations", "plain"])
def test_a_rasterised_page_is_not_blank(report, tmp_path, with_citations):
    """poppler's pdftoppm draws the page of the second section (a table and a chart) (.ci/run installs poppler-utils from Debian): it must
    hold ink, i.e. the fonts and text really render, not only extract."""
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(render(report, with_citations=with_citations))
    subprocess.run(
        ["pdftoppm", "-f", "4", "-l", "4", "-r", "50", "-gray", str(pdf), str(tmp_path / "page")], check=True
    )
    (image,) = tmp_path.glob("page*.pgm")
    pixels = pgm_pixels(image.read_bytes())
    dark = sum(1 for value in pixels if value < 128)
    assert dark > len(pixels) * 0.005  # text and a table: far more than specks
    assert dark < len(pixels) * 0.5  # and not a black page


def pgm_pixels(data: bytes) -> bytes:
    """The pixels of a binary PGM (P5, 8-bit): the header is magic, width, height and maximum."""
    fields = data.split(maxsplit=4)
    assert fields[0] == b"P5"
    assert int(fields[3]) == 255
    return fields[4]
