"""The preview of a dropped file costs the console a bounded amount of memory whatever the file's size: a
big CSV, a CSV of one endless line, cells that hold quotes and line breaks (which must not be counted as
rows), a big workbook that does not state its size. Memory is measured with tracemalloc around the real
function, on real files."""

from __future__ import annotations

import csv
import datetime
import io
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest

from ops.web.previews import PreviewError, preview

MIB = 1024 * 1024
BUDGET = 8 * MIB
"""Far below the files below (32 MiB and more): a preview that holds the file cannot stay under it."""


def generated_csv(path: Path, size: int) -> tuple[list[list[str]], int]:
    """A CSV of at least ``size`` bytes whose cells hold commas, quotes and line breaks; returns its
    header and first five rows as written, and how many rows it has."""
    header = ["날짜", "메모", "금액"]
    first: list[list[str]] = []
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        while handle.tell() < size:
            buffer = io.StringIO()
            batch = csv.writer(buffer)
            for _ in range(10_000):
                row = [f"2024-01-{rows % 28 + 1:02d}", f'줄 "{rows}",\n다음 줄', str(rows * 7)]
                if len(first) < 5:
                    first.append(row)
                batch.writerow(row)
                rows += 1
            handle.write(buffer.getvalue())
    return [header, *first], rows


def traced_peak(path: Path) -> tuple[dict | None, str | None, int]:
    tracemalloc.start()
    try:
        shown, problem = preview(path), None
    except PreviewError as error:
        shown, problem = None, str(error)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return shown, problem, peak


def test_a_big_csv_is_previewed_in_bounded_memory_with_its_true_row_count(tmp_path):
    path = tmp_path / "big.csv"
    written, rows = generated_csv(path, 32 * MIB)
    shown, problem, peak = traced_peak(path)
    assert problem is None
    assert shown is not None
    assert peak < BUDGET, f"{peak:,} bytes held to preview a {path.stat().st_size:,}-byte file"
    assert [shown["columns"], *shown["rows"]] == written
    assert shown["rowCount"] == rows  # line breaks inside quoted cells are not rows


def test_a_csv_of_one_endless_line_is_refused_in_bounded_memory(tmp_path):
    path = tmp_path / "one-line.csv"
    with path.open("wb") as handle:
        for _ in range(48):
            handle.write(b"x," * (MIB // 2))
    _shown, problem, peak = traced_peak(path)
    assert peak < BUDGET, f"{peak:,} bytes held to preview a {path.stat().st_size:,}-byte file"
    assert problem is not None
    assert "one-line.csv" in problem
    assert "\n" not in problem


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp949"])
def test_korean_excel_encodings_are_read(tmp_path, encoding):
    path = tmp_path / "sales.csv"
    path.write_bytes("날짜,카테고리\n2024-01-01,유제품\n2024-01-02,수산물\n".encode(encoding))
    shown = preview(path)
    assert shown["columns"] == ["날짜", "카테고리"]
    assert shown["rows"] == [["2024-01-01", "유제품"], ["2024-01-02", "수산물"]]
    assert shown["rowCount"] == 2


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def generated_workbook(path: Path, rows: int) -> list[list[str]]:
    """An .xlsx as a writer that states no sheet size writes it: every memo a shared string, the sheet
    without ``<dimension>``; returns the header and first five rows as written."""
    parts = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{CONTENT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{CONTENT}.worksheet+xml"/>'
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{CONTENT}.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{RELATIONSHIPS}"><Relationship Id="rId1" '
            f'Type="{TYPES}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<workbook xmlns="{MAIN}" xmlns:r="{TYPES}"><sheets>'
            '<sheet name="매출" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            f'<Relationships xmlns="{RELATIONSHIPS}">'
            f'<Relationship Id="rId1" Type="{TYPES}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{TYPES}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        with archive.open("xl/sharedStrings.xml", "w") as strings:
            strings.write(f'<sst xmlns="{MAIN}">'.encode())
            for start in range(0, rows, 10_000):
                strings.write("".join(f"<si><t>메모 {i}</t></si>" for i in range(start, start + 10_000)).encode())
            strings.write(b"</sst>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            header = '<row r="1"><c r="A1" t="inlineStr"><is><t>id</t></is></c><c r="B1" t="inlineStr"><is><t>메모</t></is></c></row>'
            sheet.write(f'<worksheet xmlns="{MAIN}"><sheetData>{header}'.encode())
            for start in range(0, rows, 10_000):
                sheet.write(
                    "".join(
                        f'<row r="{i + 2}"><c r="A{i + 2}"><v>{i}</v></c><c r="B{i + 2}" t="s"><v>{i}</v></c></row>'
                        for i in range(start, start + 10_000)
                    ).encode()
                )
            sheet.write(b"</sheetData></worksheet>")
    return [["id", "메모"], *[[str(i), f"메모 {i}"] for i in range(5)]]


def test_a_big_workbook_that_states_no_size_is_previewed_in_bounded_memory(tmp_path):
    path = tmp_path / "big.xlsx"
    written = generated_workbook(path, 600_000)
    with zipfile.ZipFile(path) as archive:
        unpacked = sum(item.file_size for item in archive.infolist())
    shown, problem, peak = traced_peak(path)
    assert problem is None
    assert shown is not None
    assert peak < BUDGET, f"{peak:,} bytes held to preview a workbook of {unpacked:,} unpacked bytes"
    assert [shown["columns"], *shown["rows"]] == written
    assert shown["rowCount"] is None  # the sheet does not say, and counting would read it all


def test_a_workbook_reads_as_openpyxl_reads_it(tmp_path):
    """Shared and inline strings, numbers, dates by their format, booleans, a gap: openpyxl is the reference."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["날짜", "카테고리", "금액", "비율", "확인"])
    sheet.append([datetime.datetime(2024, 1, 2), "유제품", 103712, 0.25, True])
    sheet.append([datetime.datetime(2024, 1, 3, 12, 30), "수산물", -5, 1.5e-7, False])
    sheet.append([])
    sheet.append([None, "빈 칸 앞", None, None, None])
    sheet.append(["=1+1", "수식", 7, 8, None])
    sheet.append(["over", "the", "five", "rows", "shown"])
    path = tmp_path / "sales.xlsx"
    book.save(path)
    reference = openpyxl.load_workbook(path, read_only=True, data_only=True).worksheets[0]
    expected = [["" if v is None else str(v) for v in row] for row in reference.iter_rows(max_row=6, values_only=True)]
    shown = preview(path)
    assert [shown["columns"], *shown["rows"]] == expected
    assert shown["rowCount"] == 6  # the sheet states A1:E7


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 not really a zip", b"<html>not a workbook</html>"])
def test_a_file_that_is_not_a_workbook_gets_one_line(tmp_path, content):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(content)
    with pytest.raises(PreviewError) as refused:
        preview(path)
    assert "broken.xlsx" in str(refused.value)
    assert "\n" not in str(refused.value)
