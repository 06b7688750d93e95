"""The first rows of an Excel workbook's first sheet, read straight from its XML parts as a stream.

openpyxl, even read-only, holds every shared string of the workbook and, when a sheet does not state its
size, parses the whole sheet before giving its first row (minutes for a big one, any time for a zip that
unpacks to gigabytes). A preview needs six rows: this reads the sheet up to them, and the shared strings
up to the last one they use, each within a cap on the bytes it unpacks, so its cost does not grow with
the file. Values come out as openpyxl's ``str()`` of them would (numbers, dates by the cell's number
format, booleans)."""

from __future__ import annotations

import contextlib
import posixpath
import re
import zipfile
from collections.abc import Iterator
from typing import IO, Any
from xml.etree.ElementTree import Element, iterparse

from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

EAST_ASIAN_DATE_FORMATS = frozenset([*range(27, 37), *range(50, 59)])
"""Built-in number formats that Korean, Japanese and Chinese Excel use for dates (ECMA-376 §18.8.30)."""
COLUMN = re.compile(r"[A-Z]+")
SHEET_BYTES = 16 * 1024 * 1024
"""Unpacked XML read to reach the first rows: six rows of Excel's widest sheet (16,384 columns) fit."""
STRINGS_BYTES = 32 * 1024 * 1024
"""Unpacked shared strings read to find the ones the rows use; one further on is shown as ``UNREAD``."""
UNREAD = "…"


class WorkbookError(ValueError):
    """Not a workbook this reader understands (the message says which part is missing)."""


class _Capped:
    """A part of the zip that unpacks no more than ``cap`` bytes: then ``CapReached``."""

    def __init__(self, source: IO[bytes], cap: int) -> None:
        self.source = source
        self.left = cap

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise CapReached
        data = self.source.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


class CapReached(Exception):
    pass


def first_rows(archive: zipfile.ZipFile, count: int) -> tuple[list[list[str]], int | None]:
    """The first ``count`` rows of the first sheet, and its row count when the sheet states its size."""
    workbook = _target(archive, "_rels/.rels", "officeDocument")
    sheet_relation, date1904 = _first_sheet(archive, workbook)
    sheet = _target(archive, _rels_of(workbook), sheet_relation, by_id=True)
    dates = _date_styles(archive, workbook)
    rows, stated = _rows(archive, sheet, count)
    if not rows:
        raise WorkbookError("its first sheet is empty")
    wanted = {int(value) for row in rows for _, kind, value, _ in row if kind == "s" and value.isdigit()}
    strings = _shared_strings(archive, workbook, wanted)
    epoch = CALENDAR_MAC_1904 if date1904 else CALENDAR_WINDOWS_1900
    width = max((column + 1 for row in rows for column, *_ in row), default=0)
    shown = []
    for row in rows:
        cells = [""] * width
        for column, kind, value, style in row:
            cells[column] = _text(kind, value, style in dates, strings, epoch)
        shown.append(cells)
    return shown, stated


def _local(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _attribute(element: Element, name: str) -> str | None:
    """An attribute by its local name, whatever its namespace (transitional and strict OOXML differ)."""
    for key, value in element.attrib.items():
        if key.rsplit("}", 1)[-1] == name:
            return value
    return None


def _open(archive: zipfile.ZipFile, name: str) -> IO[bytes]:
    try:
        return archive.open(name)
    except KeyError:
        raise WorkbookError(f"it has no {name}; save it from Excel as .xlsx") from None


def _rels_of(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", f"{name}.rels")


def _target(archive: zipfile.ZipFile, rels: str, wanted: str, *, by_id: bool = False) -> str:
    """The part a relationship points at, by its type's last word (or by its id), as a path in the zip."""
    base = posixpath.dirname(posixpath.dirname(rels))
    with _open(archive, rels) as source:
        for _, element in iterparse(source):
            key = element.get("Id") if by_id else (element.get("Type") or "").rsplit("/", 1)[-1]
            if _local(element) == "Relationship" and key == wanted:
                target = element.get("Target") or ""
                if target.startswith("/"):
                    return target.lstrip("/")
                return posixpath.normpath(posixpath.join(base, target))
    raise WorkbookError(f"its {rels} names no {wanted}; save it from Excel as .xlsx")


def _first_sheet(archive: zipfile.ZipFile, workbook: str) -> tuple[str, bool]:
    date1904 = False
    with _open(archive, workbook) as source:
        for _, element in iterparse(source):
            if _local(element) == "workbookPr":
                date1904 = (element.get("date1904") or "").lower() in ("1", "true")
            elif _local(element) == "sheet":
                relation = _attribute(element, "id")
                if relation:
                    return relation, date1904
    raise WorkbookError("it has no sheet")


def _date_styles(archive: zipfile.ZipFile, workbook: str) -> set[int]:
    """The cell styles (``s``) whose number format shows a date."""
    try:
        styles = _target(archive, _rels_of(workbook), "styles")
    except WorkbookError:
        return set()
    formats: dict[int, str] = dict(BUILTIN_FORMATS)
    dates: set[int] = set()
    index = 0
    with _open(archive, styles) as source:
        stack: list[str] = []
        for event, element in iterparse(source, events=("start", "end")):
            if event == "start":
                stack.append(_local(element))
                continue
            stack.pop()
            if _local(element) == "numFmt":
                formats[int(element.get("numFmtId") or -1)] = element.get("formatCode") or ""
            elif _local(element) == "xf" and stack[-1:] == ["cellXfs"]:
                number_format = int(element.get("numFmtId") or 0)
                if number_format in EAST_ASIAN_DATE_FORMATS or is_date_format(formats.get(number_format, "")):
                    dates.add(index)
                index += 1
    return dates


Cell = tuple[int, str, str, int]
"""Column, type (``t``), raw value and style (``s``) of a cell."""


def _rows(archive: zipfile.ZipFile, sheet: str, count: int) -> tuple[list[list[Cell]], int | None]:
    """The first ``count`` rows (fewer if they do not fit in ``SHEET_BYTES``), from the first row written
    on; and the number of rows the sheet's ``<dimension>`` states, if it comes before the data."""
    rows: list[list[Cell]] = []
    stated = None
    first = None
    with _open(archive, sheet) as source:
        for event, element in _capped_events(source, SHEET_BYTES):
            name = _local(element)
            if event == "start" and name == "sheetData" and stated is None:
                stated = -1  # the data began: a later <dimension> is not looked for
            elif event == "end" and name == "dimension" and stated is None:
                stated = _last_row(element.get("ref") or "")
            elif event == "end" and name == "row":
                number = int(element.get("r") or (first or 1) + len(rows))
                first = first or number
                if number - first >= count:
                    break
                while len(rows) < number - first:  # rows with nothing in them are not written
                    rows.append([])
                rows.append(list(_cells(element)))
                element.clear()
                if len(rows) >= count:
                    break
    return rows, stated if stated is not None and stated > 0 else None


def _capped_events(source: IO[bytes], cap: int) -> Iterator[tuple[str, Element]]:
    """Start and end events of ``source`` until it ends or ``cap`` bytes are unpacked (then no more)."""
    with contextlib.suppress(CapReached):
        yield from iterparse(_Capped(source, cap), events=("start", "end"))  # type: ignore[arg-type]


def _last_row(ref: str) -> int | None:
    """How many rows a ``<dimension ref="A1:F2727">`` spans."""
    rows = [int(found) for found in re.findall(r"[A-Z]+(\d+)", ref)]
    return rows[-1] - rows[0] + 1 if len(rows) == 2 else None


def _cells(row: Element) -> Iterator[tuple[int, str, str, int]]:
    column = -1
    for cell in row:
        if _local(cell) != "c":
            continue
        letters = COLUMN.match(cell.get("r") or "")
        column = _column(letters.group()) if letters else column + 1
        kind = cell.get("t") or "n"
        value = ""
        for part in cell:
            if _local(part) == "v":
                value = part.text or ""
            elif _local(part) == "is":
                value = _string_text(part)
        yield column, kind, value, int(cell.get("s") or 0)


def _column(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - ord("A") + 1
    return number - 1


def _string_text(item: Element) -> str:
    """A string item's text: its own ``<t>`` and its rich runs' ``<t>``, not the phonetic guide (``rPh``)."""
    parts = []
    for child in item:
        if _local(child) == "t":
            parts.append(child.text or "")
        elif _local(child) == "r":
            parts += [t.text or "" for t in child if _local(t) == "t"]
    return "".join(parts)


def _shared_strings(archive: zipfile.ZipFile, workbook: str, wanted: set[int]) -> dict[int, str]:
    """The shared strings the shown rows use, read up to the last of them and no further."""
    if not wanted:
        return {}
    path = _target(archive, _rels_of(workbook), "sharedStrings")
    found: dict[int, str] = {}
    index = 0
    root: Element | None = None
    with _open(archive, path) as source:
        for event, element in _capped_events(source, STRINGS_BYTES):
            if root is None:
                root = element
            if event != "end" or _local(element) != "si":
                continue
            if index in wanted:
                found[index] = _string_text(element)
            index += 1
            root.clear()  # nothing read so far is kept
            if index > max(wanted):
                break
    return found


def _text(kind: str, value: str, is_date: bool, strings: dict[int, str], epoch: Any) -> str:
    if kind == "s":
        return strings.get(int(value), UNREAD) if value.isdigit() else ""
    if kind == "b":
        return str(value == "1")
    if kind != "n" or not value:
        return value  # inline and formula strings, errors, ISO dates: as written
    try:
        number: float = float(value) if re.search("[.eE]", value) else int(value)
    except ValueError:
        return value
    if is_date:
        try:
            return str(from_excel(number, epoch))
        except (ValueError, OverflowError):
            return value
    return str(number)
