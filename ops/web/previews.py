"""What a dropped data file holds: its columns and first rows, read the way pandas would read it.

A preview costs the console the same small amount of memory whatever the file's size: only a CSV's first
``HEAD_BYTES`` are parsed, and its rows counted in a second pass over fixed-size blocks; a workbook's first
sheet is read only up to the rows shown (``xlsx_preview``)."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import zipfile
from pathlib import Path
from typing import Any

from ops.web.xlsx_preview import WorkbookError, first_rows

PREVIEW_ROWS = 5
ENCODINGS = ("utf-8-sig", "cp949")
"""CSV files from Korean Excel are often CP949; anything else is read as UTF-8."""
DATA_SUFFIXES = (".csv", ".xlsx")
HEAD_BYTES = 512 * 1024
"""What a CSV preview parses: the header and five rows of any sensible table fit in it many times over."""
BLOCK = 256 * 1024


class PreviewError(ValueError):
    """The file is not a table this console can show (the message says why)."""


def preview(path: Path) -> dict[str, Any]:
    """``name``, ``columns``, the first ``rows`` and ``rowCount`` (None when it is not known)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _csv(path)
    if suffix == ".xlsx":
        return _xlsx(path)
    raise PreviewError(f"{path.name}: not a CSV or Excel (.xlsx) file")


def _csv(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        head = handle.read(HEAD_BYTES)
        whole = not handle.read(1)
    text = _decoded(head, whole, path.name)
    wanted = 1 + PREVIEW_ROWS
    try:  # one row more than shown: a row followed by another is complete, even in a cut head
        rows = list(itertools.islice(csv.reader(io.StringIO(text)), wanted + 1))
    except csv.Error as error:
        raise PreviewError(f"{path.name}: not a CSV table ({error}) in its first {HEAD_BYTES // 1024} KiB") from None
    if not whole and len(rows) <= wanted:
        rows = rows[:-1]  # the last row parsed may be cut at the head's end
    if not rows:
        if whole:
            raise PreviewError(f"{path.name}: empty")
        raise PreviewError(f"{path.name}: its first row is longer than {HEAD_BYTES // 1024} KiB; is it a CSV table?")
    return {"name": path.name, "columns": rows[0], "rows": rows[1:wanted], "rowCount": count_records(path) - 1}


def _decoded(head: bytes, whole: bool, name: str) -> str:
    for encoding in ENCODINGS:
        try:  # a cut head may end inside a character: only a whole file must decode to its last byte
            return codecs.getincrementaldecoder(encoding)().decode(head, final=whole)
        except UnicodeDecodeError:
            continue
    raise PreviewError(f"{name}: neither UTF-8 nor CP949 text; save it from Excel as CSV UTF-8")


def count_records(path: Path) -> int:
    """The CSV records in the file: line ends outside quoted cells, counted block by block.

    Byte-wise is exact for UTF-8 and CP949 alike: neither uses the bytes of ``"`` or a line end inside a
    multi-byte character. A doubled quote inside a quoted cell toggles twice and changes nothing."""
    records = 0
    quoted = False
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            parts = block.split(b'"')
            records += b"".join(parts[1::2] if quoted else parts[0::2]).count(b"\n")
            quoted ^= len(parts) % 2 == 0
            last = block[-1:]
    return records + (last != b"\n")


def _xlsx(path: Path) -> dict[str, Any]:
    try:
        with zipfile.ZipFile(path) as archive:
            rows, stated = first_rows(archive, 1 + PREVIEW_ROWS)
    except WorkbookError as error:
        raise PreviewError(f"{path.name}: {error}") from None
    except Exception as error:  # a damaged or hostile zip or XML: whatever it is, one line
        raise PreviewError(f"{path.name}: not a readable Excel workbook ({type(error).__name__})") from None
    count = stated - 1 if stated is not None and stated >= len(rows) else None
    return {"name": path.name, "columns": rows[0], "rows": rows[1:], "rowCount": count}
