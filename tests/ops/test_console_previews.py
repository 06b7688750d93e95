"""The preview of a dropped file costs the console a bounded amount of memory whatever the file's size: a
big CSV, a CSV of one endless line, and cells that hold quotes and line breaks (which must not be
counted as rows). Memory is measured with tracemalloc around the real function, on real files."""

from __future__ import annotations

import csv
import io
import tracemalloc
from pathlib import Path

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
