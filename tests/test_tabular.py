"""The one reader of tabular files (``provider_products.tabular``): CSV and JSON Lines alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider_products import tabular


def test_read_table_csv_gives_header_and_rows_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "inv.csv"
    path.write_text(' sku ,name\nA1,"Ibuprofeno\n400 mg"\nA2,\n', "utf-8-sig")
    table = tabular.read_table(path)
    assert table.columns == ("sku", "name")
    assert table.header_line == 1
    # a row starts on its first line; an empty cell reads as None, like a JSON null
    assert [(r.line, r.values) for r in table.rows] == [
        (2, {"sku": "A1", "name": "Ibuprofeno\n400 mg"}),
        (4, {"sku": "A2", "name": None}),
    ]
    assert table.errors == ()


def test_read_table_csv_semicolons_blank_rows_short_and_long_rows(tmp_path: Path) -> None:
    path = tmp_path / "inv.txt"
    path.write_text("a;b;c\n1;2,5\n;;\n\n4;5;6;7\n", "utf-8")
    table = tabular.read_table(path)
    assert [(r.line, r.values, r.surplus) for r in table.rows] == [
        (2, {"a": "1", "b": "2,5", "c": None}, ()),
        (5, {"a": "4", "b": "5", "c": "6"}, ("7",)),
    ]


def test_read_table_jsonl_keeps_json_types_and_names_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "cat.jsonl"
    path.write_text('{"code": "A", "stock": 3}\n\n[1]\n{"code": \n{" name ": null}\n', "utf-8")
    table = tabular.read_table(path)
    assert table.columns == ("code", "stock", "name")
    assert table.header_line is None
    assert [(r.line, r.values) for r in table.rows] == [(1, {"code": "A", "stock": 3}), (5, {"name": None})]
    assert [(e.line, str(e)) for e in table.errors] == [
        (3, "line 3: each line must be a JSON object"),
        (4, "line 4: invalid JSON (Expecting value)"),
    ]


@pytest.mark.parametrize(("name", "fmt"), [("a.jsonl", "jsonl"), ("a.NDJSON", "jsonl"), ("a.json", "jsonl")])
def test_format_of_json_suffixes_is_jsonl(name: str, fmt: str) -> None:
    assert tabular.format_of(Path(name)) == fmt


def test_format_of_other_suffixes_is_csv() -> None:
    assert {tabular.format_of(Path(n)) for n in ("a.csv", "a.txt", "a")} == {"csv"}


def test_read_table_unreadable_file_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("name\nAcetaminofén\n".encode("latin-1"))
    with pytest.raises(tabular.TableError, match=r"cannot read .*latin1\.csv") as caught:
        tabular.read_table(path)
    assert caught.value.line is None


def test_cell_text_of_json_values() -> None:
    assert [tabular.cell_text(v) for v in (None, "x", 3, True, {"a": "é"}, [1])] == [
        "",
        "x",
        "3",
        "True",
        '{"a": "é"}',
        "[1]",
    ]
