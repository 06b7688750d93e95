"""What a dropped data file holds: its columns and first rows, read the way pandas would read it."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

PREVIEW_ROWS = 5
ENCODINGS = ("utf-8-sig", "cp949")
"""CSV files from Korean Excel are often CP949; anything else is read as UTF-8."""
DATA_SUFFIXES = (".csv", ".xlsx")


class PreviewError(ValueError):
    """The file is not a table this console can show (the message says why)."""


def preview(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv(path)
    if suffix == ".xlsx":
        return _xlsx(path)
    raise PreviewError(f"{path.name}: not a CSV or Excel (.xlsx) file")


def _csv(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PreviewError(f"{path.name}: neither UTF-8 nor CP949 text")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise PreviewError(f"{path.name}: empty")
    return {"name": path.name, "columns": rows[0], "rows": rows[1 : 1 + PREVIEW_ROWS], "rowCount": len(rows) - 1}


def _xlsx(path: Path) -> dict[str, Any]:
    import openpyxl  # noqa: PLC0415

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as error:
        raise PreviewError(f"{path.name}: not a readable Excel workbook ({type(error).__name__})") from None
    sheet = book.worksheets[0]
    rows = [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    if not rows:
        raise PreviewError(f"{path.name}: its first sheet is empty")
    return {"name": path.name, "columns": rows[0], "rows": rows[1 : 1 + PREVIEW_ROWS], "rowCount": len(rows) - 1}
