"""``provider-products match`` at the command line: the sheet option, and one clear line on a bad one."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from provider_products.cli.main import app

runner = CliRunner()

CATALOGUE = [
    {
        "product_code": "MED-042",
        "product_type": "MEDICATION",
        "name": "Paracetamol 500 mg Tableta",
        "status": "ACTIVE",
        "active_ingredient": "Paracetamol",
        "concentration": "500 mg",
        "pharmaceutical_form": "Tableta",
    },
    {
        "product_code": "MED-077",
        "product_type": "MEDICATION",
        "name": "Amoxicilina 500 mg Cápsula",
        "status": "ACTIVE",
        "active_ingredient": "Amoxicilina",
        "concentration": "500 mg",
        "pharmaceutical_form": "Cápsula",
    },
]


@pytest.fixture
def catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "catalogue.jsonl"
    path.write_bytes(b"".join(orjson.dumps(entry) + b"\n" for entry in CATALOGUE))
    return path


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    """A workbook whose first sheet is a summary (no name column) and whose second is the inventory."""
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Resumen"
    for row in (["Total", "Bodega"], [2, "Central"]):
        summary.append(row)
    farmacia = book.create_sheet("Farmacia 2026")
    for row in (["Nombre", "SKU"], ["AMOXICILINA 500MG CAPS", "7701"], ["ACETAMINOFEN 500 MG TAB", "7702"]):
        farmacia.append(row)
    path = tmp_path / "inventario [v2].xlsx"
    book.save(path)
    return path


def _match(workbook: Path, catalogue: Path, *args: str) -> object:
    return runner.invoke(app, ["match", str(workbook), "--catalogue", str(catalogue), *args])


def test_match_sheet_option_reads_the_named_sheet(workbook: Path, catalogue: Path) -> None:
    result = _match(workbook, catalogue, "--sheet", "Farmacia 2026")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert "2 rows, 2 with a proposal" in result.output  # type: ignore[attr-defined]
    with (workbook.parent / "inventario [v2].xlsx.matches.csv").open(
        encoding="utf-8-sig", newline=""
    ) as file:
        rows = list(csv.DictReader(file))
    assert [(r["name"], r["SKU"], r["product_code"]) for r in rows] == [
        ("AMOXICILINA 500MG CAPS", "7701", "MED-077"),
        ("ACETAMINOFEN 500 MG TAB", "7702", "MED-042"),
    ]


def test_match_without_sheet_reads_the_first_sheet(workbook: Path, catalogue: Path) -> None:
    result = _match(workbook, catalogue)
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "has no 'name' column (columns: Total, Bodega)" in result.output  # type: ignore[attr-defined]


def test_match_missing_sheet_is_one_line_listing_the_sheets(workbook: Path, catalogue: Path) -> None:
    result = _match(workbook, catalogue, "--sheet", "Inventario")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert result.output.strip().splitlines() == [  # type: ignore[attr-defined]
        "error: inventario [v2].xlsx has no sheet 'Inventario' (sheets: Resumen, Farmacia 2026)"
    ]
    assert not (workbook.parent / "inventario [v2].xlsx.matches.csv").exists()


def test_match_sheet_of_a_csv_is_refused(tmp_path: Path, catalogue: Path) -> None:
    inventory = tmp_path / "inventario.csv"
    inventory.write_text("name\nAMOXICILINA 500MG CAPS\n", "utf-8")
    result = _match(inventory, catalogue, "--sheet", "Farmacia")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert result.output.strip() == "error: inventario.csv: --sheet is only for .xlsx files"  # type: ignore[attr-defined]
