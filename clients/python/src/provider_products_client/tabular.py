"""Tabular files (CSV in any common dialect, Excel ``.xlsx``, JSON Lines) read into one header and rows.

``catalogue import``, ``onboard`` and ``match`` all read their files here, so that a file one of
them accepts the others accept too. It imports nothing from the server or the SDK. A CSV file may
be UTF-8 (with or without a byte-order mark), UTF-16 (with its mark) or Windows-1252/Latin-1, and
separated by ``,``, ``;`` or tabs; the reader detects which and says so in ``Table.source``. A tool
that passes ``known`` column names gets the header searched below title rows and the columns
recognised in Spanish or English (``Table.recognised``); what the rows mean stays with the tool.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

Format = Literal["csv", "jsonl", "xlsx"]

_SUFFIXES: dict[str, Format] = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
HEADER_SEARCH_ROWS = 20
_DELIMITERS = (",", ";", "\t")
_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab"}
_EXCEL_ERRORS = {"#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NUM!", "#NULL!"}

# Column names each tool understands, by the canonical name it uses; compared folded (no case,
# accents or spacing). Earlier spellings win when a file has several. ``sku`` is deliberately not a
# product code: it is the pharmacy's own article number, not the catalogue's code.
ALIASES: dict[str, tuple[str, ...]] = {
    "product_code": (
        "product_code",
        "catalogue_code",
        "catalog_code",
        "codigo_catalogo",
        "codigo_producto",
        "cod_producto",
        "codigo",
        "code",
        "cod",
    ),
    "name": ("name", "nombre", "product_name", "nombre_producto", "descripcion", "description", "producto"),
    "active_ingredient": ("active_ingredient", "principio_activo", "ingrediente_activo", "principio"),
    "strength": ("strength", "concentracion", "concentration", "potencia"),
    "form": ("form", "forma_farmaceutica", "pharmaceutical_form", "forma"),
}


class TableError(ValueError):
    """A file, or one line or cell of it, that cannot be read; ``line`` is ``None`` for the whole file."""

    def __init__(self, message: str, *, line: int | None = None, cell: str | None = None) -> None:
        where = f"cell {cell}" if cell else (f"line {line}" if line is not None else None)
        super().__init__(message if where is None else f"{where}: {message}")
        self.line = line
        self.cell = cell
        self.message = message


@dataclass(frozen=True)
class TableRow:
    """One data row: its (first) line in the file and its cells by column name.

    A cell left empty, or missing from a short row, reads as ``None``, like a JSON ``null``;
    JSON Lines cells keep their JSON types; spreadsheet cells read as text (a whole number without
    ``.0``). ``surplus`` holds values beyond the header's columns. For a spreadsheet, ``line`` is
    the sheet's row number.
    """

    line: int
    values: dict[str, Any]
    surplus: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A file's column names (in file order), its rows, and the lines that could not be read as rows."""

    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    errors: tuple[TableError, ...] = ()
    # The header's line (CSV, sheet row); None when the columns come from the rows (JSON Lines).
    header_line: int | None = None
    # How the file was read, for the user: "CSV, windows-1252, ';'" or "sheet 'Hoja1'".
    source: str = ""
    # Canonical column name -> the column as the file writes it (only with ``known``).
    recognised: dict[str, str] = field(default_factory=dict)

    def renamed(self) -> Table:
        """Return the table with its recognised columns under their canonical names."""
        names = {written: canonical for canonical, written in self.recognised.items()}
        rows = tuple(
            replace(row, values={names.get(k, k): v for k, v in row.values.items()}) for row in self.rows
        )
        columns = tuple(names.get(c, c) for c in self.columns)
        return replace(self, columns=columns, rows=rows, recognised={c: c for c in self.recognised})

    def describe(self, path: Path) -> str:
        """Say in one line how the file was read and which columns were used."""
        used = ", ".join(f"{k}={v!r}" for k, v in self.recognised.items())
        header = f", header on {'row' if 'sheet' in self.source else 'line'} {self.header_line}"
        return f"read {path.name} ({self.source}{header if self.header_line else ''})" + (
            f"; columns used: {used}" if used else ""
        )


def fold(name: str) -> str:
    """Fold a column name for comparison: no accents, lower case, runs of other characters as ``_``."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c))
    out = "".join(c if c.isalnum() else " " for c in plain.lower())
    return "_".join(out.split())


def format_of(path: Path) -> Format:
    """Tell the format from the file name: JSON Lines (``.jsonl``/``.ndjson``/``.json``), ``.xlsx`` or CSV."""
    return _SUFFIXES.get(path.suffix.lower(), "csv")


def read_table(
    path: Path, fmt: Format | None = None, *, sheet: str | None = None, known: Sequence[str] = ()
) -> Table:
    """Read a file; raise ``TableError`` when it cannot be read at all (failed lines are in ``errors``).

    With ``known`` (canonical names of ``ALIASES``), the header is the first of the first 20 rows
    that names one of them, and ``recognised`` says which column is which.
    """
    fmt = fmt or format_of(path)
    if path.suffix.lower() == ".xls":
        raise TableError(f"{path.name}: the old .xls format is not read; save it as .xlsx or CSV")
    if sheet is not None and fmt != "xlsx":
        raise TableError(f"{path.name}: --sheet is only for .xlsx files")
    if fmt == "xlsx":
        grid, source = _read_xlsx(path, sheet)
        return _from_grid(grid, source, known, cells=True)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TableError(f"cannot read {path}: {exc.strerror or exc}") from None
    content, encoding = decode(data)
    if fmt == "jsonl":
        return _recognise(replace(_read_jsonl(content), source=f"JSON Lines, {encoding}"), known)
    return _read_csv(content, encoding, known)


def parse_text(content: str, fmt: str) -> Table:
    """Parse the text of a file in the given format (``"csv"`` or ``"jsonl"``)."""
    if fmt == "jsonl":
        return _read_jsonl(content)
    if fmt == "csv":
        return _read_csv(content, "text", ())
    raise ValueError(f"unknown format {fmt!r}: use one of csv, jsonl")


def decode(data: bytes) -> tuple[str, str]:
    """Decode a file's bytes: UTF-8 (a byte-order mark allowed), UTF-16 with its mark, else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # what Excel writes on Windows in Latin-American and Spanish locales (a superset of Latin-1's letters)
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def cell_text(value: Any) -> str:
    """Return a cell as text: ``""`` for no value, JSON for nested JSON values."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def _read_jsonl(content: str) -> Table:
    columns: dict[str, None] = {}
    rows: list[TableRow] = []
    errors: list[TableError] = []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(TableError(f"invalid JSON ({exc.msg})", line=number))
            continue
        if not isinstance(value, dict):
            errors.append(TableError("each line must be a JSON object", line=number))
            continue
        record = {str(k).strip(): v for k, v in value.items()}
        columns.update(dict.fromkeys(record))
        rows.append(TableRow(number, record))
    return Table(tuple(columns), tuple(rows), tuple(errors))


def sniff_delimiter(content: str) -> str:
    """Pick the delimiter that splits the most of the first lines into the same number of fields (>1)."""
    sample = [line for line in content[:65536].splitlines()[: HEADER_SEARCH_ROWS * 3] if line.strip()]
    best, best_score = ",", (0, 0, 0)
    for delimiter in _DELIMITERS:
        widths = [len(cells) for cells in csv.reader(sample, delimiter=delimiter)]
        common = max((w for w in set(widths) if w > 1), key=lambda w: (widths.count(w), w), default=0)
        split = sum(1 for w in widths if w > 1)
        score = (widths.count(common), split, common) if common else (0, 0, 0)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(content: str, encoding: str, known: Sequence[str]) -> Table:
    delimiter = sniff_delimiter(content)
    reader = csv.reader(io.StringIO(content), delimiter=delimiter)
    grid: list[tuple[int, list[Any]]] = []
    start = 1
    try:
        for cells in reader:
            grid.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise TableError(f"cannot read it as CSV ({exc})", line=start) from None
    return _from_grid(grid, f"CSV, {encoding}, {_DELIMITER_NAMES[delimiter]}", known, cells=False)


def _read_xlsx(path: Path, sheet: str | None) -> tuple[list[tuple[int, list[Any]]], str]:
    """Read one sheet (the first, or ``sheet``) as rows of cell values with their row numbers."""
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, BadZipFile, KeyError, ValueError) as exc:
        raise TableError(f"cannot read {path.name} as an .xlsx workbook ({exc})") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise TableError(f"{path.name} has no sheet {sheet!r} (sheets: {', '.join(book.sheetnames)})")
        chosen = book[sheet] if sheet is not None else book.worksheets[0]
        grid = [
            (number, [_xlsx_value(v) for v in values])
            for number, values in enumerate(chosen.iter_rows(values_only=True), start=1)
        ]
        return grid, f"sheet {chosen.title!r}"
    finally:
        book.close()


def _xlsx_value(value: Any) -> Any:
    """Turn a cell into text as a person reads it: a code stored as a number gains no ``.0``."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _header_index(grid: list[tuple[int, list[Any]]], known: Sequence[str]) -> int:
    """Return the index in ``grid`` of the header: the first row naming a known column, else row one."""
    if known:
        wanted = {alias for name in known for alias in ALIASES.get(name, (name,))}
        for index, (_, cells) in enumerate(grid[:HEADER_SEARCH_ROWS]):
            if any(isinstance(c, str) and fold(c) in wanted for c in cells):
                return index
    for index, (_, cells) in enumerate(grid):
        if any(c is not None and str(c).strip() for c in cells):
            return index
    return 0


def _from_grid(grid: list[tuple[int, list[Any]]], source: str, known: Sequence[str], *, cells: bool) -> Table:
    """Find the header, then turn the rows below it into ``TableRow``s (blank rows skipped)."""
    if not grid:
        return Table((), (), source=source)
    at = _header_index(grid, known)
    header_line, raw_header = grid[at]
    header = _header_names(raw_header)
    rows: list[TableRow] = []
    errors: list[TableError] = []
    for line, row in grid[at + 1 :]:
        texts = [None if v is None or (isinstance(v, str) and not v.strip()) else v for v in row]
        if not any(v is not None for v in texts):
            continue  # the empty rows spreadsheets leave at the end
        if cells:
            errors.extend(_cell_errors(header, line, texts))
        values: dict[str, Any] = dict.fromkeys(header)
        values.update(zip(header, texts, strict=False))
        surplus = tuple("" if v is None else str(v) for v in texts[len(header) :])
        rows.append(TableRow(line, values, surplus if any(surplus) else ()))
    table = Table(tuple(header), tuple(rows), tuple(errors), header_line=header_line, source=source)
    return _recognise(table, known)


def _header_names(cells: list[Any]) -> list[str]:
    """Trim the header's names, dropping the empty cells spreadsheets report at the end of a row."""
    header = [("" if c is None else str(c)).strip() for c in cells]
    while header and not header[-1]:
        header.pop()
    return header


def _cell_errors(header: list[str], line: int, texts: list[Any]) -> list[TableError]:
    """Name each spreadsheet cell of a row that holds a formula error (``#N/A``...)."""
    return [
        TableError(f"{header[i]!r} holds the formula error {v}", cell=f"{_column_letter(i)}{line}")
        for i, v in enumerate(texts[: len(header)])
        if v in _EXCEL_ERRORS
    ]


def _recognise(table: Table, known: Sequence[str]) -> Table:
    """Fill ``recognised``: for each known name, the file's column spelled like its best alias."""
    recognised: dict[str, str] = {}
    folded = [(fold(c), c) for c in table.columns if c]
    for name in known:
        aliases = ALIASES.get(name, (name,))
        matches = [(aliases.index(f), c) for f, c in folded if f in aliases and c not in recognised.values()]
        if matches:
            recognised[name] = min(matches, key=lambda m: m[0])[1]
    return replace(table, recognised=recognised)
