"""The one reader of tabular files (``provider_products_client.tabular``): CSV and JSON Lines alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from provider_products_client import tabular


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


def test_read_table_missing_file_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(tabular.TableError, match=r"cannot read .*absent\.csv") as caught:
        tabular.read_table(tmp_path / "absent.csv")
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


INVENTORY = [
    ["Código", "Descripción", "Stock"],
    ["MED-042", "Acetaminofén 500 mg", "3"],
    ["LAB-HEMO", "Hemograma", "1"],
]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "reported"),
    [
        ("utf-8", ",", "CSV, utf-8, ','"),
        ("utf-8-sig", ";", "CSV, utf-8, ';'"),
        ("utf-16", "\t", "CSV, utf-16, tab"),
        ("cp1252", ";", "CSV, windows-1252, ';'"),
        ("latin-1", ",", "CSV, windows-1252, ','"),
    ],
)
def test_read_table_csv_of_each_encoding_and_delimiter_reads_the_same(
    tmp_path: Path, encoding: str, delimiter: str, reported: str
) -> None:
    path = tmp_path / "inventario.csv"
    lines = ["Inventario Farmacia Central", "Fecha: 2026-06-25", ""]
    lines += [delimiter.join(row) for row in INVENTORY]
    path.write_bytes("\r\n".join(lines).encode(encoding))
    table = tabular.read_table(path, known=("product_code", "name"))
    assert table.source == reported
    assert table.header_line == 4
    assert table.recognised == {"product_code": "Código", "name": "Descripción"}
    assert [(r.line, r.values["Código"], r.values["Descripción"]) for r in table.rows] == [
        (5, "MED-042", "Acetaminofén 500 mg"),
        (6, "LAB-HEMO", "Hemograma"),
    ]
    assert "columns used: product_code='Código', name='Descripción'" in table.describe(path)


def _workbook(path: Path, rows: list[list[object]], *, second: str | None = None) -> Path:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Hoja1"
    for row in rows:
        sheet.append(row)
    if second is not None:
        other = book.create_sheet(second)
        other.append(["codigo", "nombre"])
        other.append(["IMG-RX", "Radiografía"])
    book.save(path)
    return path


def test_read_table_xlsx_first_sheet_below_title_rows_keeps_numeric_codes_whole(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Inventario"],
        [],
        ["COD", "NOMBRE", "PRECIO"],
        [7501234, "Ibuprofeno 400 mg", 1.5],
        ["MED-042", None, 2],
    ]
    path = _workbook(tmp_path / "inventario.xlsx", rows)
    table = tabular.read_table(path, known=("product_code", "name"))
    assert table.source == "sheet 'Hoja1'"
    assert table.header_line == 3
    assert table.recognised == {"product_code": "COD", "name": "NOMBRE"}
    assert [(r.line, r.values) for r in table.rows] == [
        (4, {"COD": "7501234", "NOMBRE": "Ibuprofeno 400 mg", "PRECIO": "1.5"}),
        (5, {"COD": "MED-042", "NOMBRE": None, "PRECIO": "2"}),
    ]


def test_read_table_xlsx_named_sheet_is_read_and_a_missing_one_is_named(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "inv.xlsx", [["x"]], second="Servicios")
    table = tabular.read_table(path, sheet="Servicios", known=("product_code",))
    assert [r.values["codigo"] for r in table.rows] == ["IMG-RX"]
    with pytest.raises(
        tabular.TableError, match=r"inv.xlsx has no sheet 'Nope' \(sheets: Hoja1, Servicios\)"
    ):
        tabular.read_table(path, sheet="Nope")


def test_read_table_xlsx_formula_error_names_the_cell(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "inv.xlsx", [["product_code", "name"], ["MED-042", "a"], ["#N/A", "b"]])
    table = tabular.read_table(path, known=("product_code",))
    assert [str(e) for e in table.errors] == ["cell A3: 'product_code' holds the formula error #N/A"]


def test_read_table_not_a_workbook_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "inv.xlsx"
    path.write_text("product_code\nMED-042\n", "utf-8")
    with pytest.raises(tabular.TableError, match=r"cannot read inv.xlsx as an .xlsx workbook"):
        tabular.read_table(path)


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("PRODUCT CODE", "product_code"),
        ("código", "product_code"),
        ("Principio Activo", "active_ingredient"),
        ("Concentración", "strength"),
        ("forma farmacéutica", "form"),
        ("nombre", "name"),
    ],
)
def test_recognised_column_names_ignore_case_accents_and_spaces(
    tmp_path: Path, header: str, canonical: str
) -> None:
    path = tmp_path / "inv.csv"
    path.write_text(f"{header},x\n1,2\n", "utf-8")
    assert tabular.read_table(path, known=(canonical,)).recognised == {canonical: header}


def test_sku_is_not_taken_for_the_catalogue_code(tmp_path: Path) -> None:
    both, only_sku = tmp_path / "a.csv", tmp_path / "b.csv"
    both.write_text("sku,product_code\n1,MED-042\n", "utf-8")
    only_sku.write_text("sku,nombre\n1,x\n", "utf-8")
    assert tabular.read_table(both, known=("product_code",)).recognised == {"product_code": "product_code"}
    assert tabular.read_table(only_sku, known=("product_code",)).recognised == {}
