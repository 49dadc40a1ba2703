"""Tabular files (CSV, JSON Lines) read into one header and line-numbered rows, for every tool.

``catalogue import``, ``onboard`` and ``match`` all read their files here, so that a file one of
them accepts the others accept too. It imports nothing from the server or the SDK. A new format
is one more reader in ``_READERS`` (and its suffixes in ``_SUFFIXES``); what the rows mean
(required columns, validation) stays with the tool that reads them.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Format = Literal["csv", "jsonl"]

_SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


class TableError(ValueError):
    """A file, or one line of it, that cannot be read; ``line`` is ``None`` for the whole file."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message if line is None else f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass(frozen=True)
class TableRow:
    """One data row: its (first) line in the file and its cells by column name.

    A CSV cell left empty, or missing from a short row, reads as ``None``, like a JSON ``null``;
    JSON Lines cells keep their JSON types. ``surplus`` holds CSV values beyond the header's columns.
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
    # The header's line (CSV); None when the columns come from the rows themselves (JSON Lines).
    header_line: int | None = None


def format_of(path: Path) -> Format:
    """Tell the format from the file name: JSON Lines for ``.jsonl``/``.ndjson``/``.json``, else CSV."""
    return _SUFFIXES.get(path.suffix.lower(), "csv")


def read_table(path: Path, fmt: Format | None = None) -> Table:
    """Read a file; raise ``TableError`` when it cannot be read at all (failed lines are in ``errors``)."""
    try:
        content = path.read_text("utf-8-sig")  # spreadsheets write a byte-order mark
    except (OSError, UnicodeDecodeError) as exc:
        raise TableError(f"cannot read {path}: {exc}") from None
    return parse_text(content, fmt or format_of(path))


def parse_text(content: str, fmt: str) -> Table:
    """Parse the text of a file in the given format (``"csv"`` or ``"jsonl"``)."""
    reader = _READERS.get(fmt)
    if reader is None:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(_READERS)}")
    return reader(content)


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


def _read_csv(content: str) -> Table:
    first = content.partition("\n")[0]
    # spreadsheets set to Spanish locales save with ';' because ',' is the decimal separator
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(content), delimiter=delimiter)
    header = [c.strip() for c in next(reader, [])]
    rows: list[TableRow] = []
    start = reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in cells):
            continue  # the empty rows spreadsheets leave at the end
        values: dict[str, Any] = dict.fromkeys(header)
        values.update((c, v or None) for c, v in zip(header, cells, strict=False))
        rows.append(TableRow(line, values, tuple(cells[len(header) :])))
    return Table(tuple(header), tuple(rows), header_line=1)


_READERS: dict[str, Callable[[str], Table]] = {"csv": _read_csv, "jsonl": _read_jsonl}
