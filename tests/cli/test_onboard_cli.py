"""``provider-products onboard`` at the command line: one clear line and a non-zero exit, no traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provider_products.cli.main import app
from provider_products_client.cli.onboard import ProgressDisplay
from provider_products_client.onboarding.onboard import Progress

runner = CliRunner()


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "inv.csv"
    path.write_text("product_code\nMED-042\n", "utf-8")
    return path


def _invoke(inventory: Path, *args: str, base_url: str = "http://127.0.0.1:9") -> object:
    env = {"PROVIDER_PRODUCTS_CLIENT_ID": "id", "PROVIDER_PRODUCTS_CLIENT_SECRET": "secret"}
    return runner.invoke(app, ["onboard", str(inventory), "--base-url", base_url, *args], env=env)


def test_onboard_sync_without_a_terminal_needs_yes(inventory: Path) -> None:
    result = _invoke(inventory, "--sync")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "--sync without a terminal needs --yes" in result.output  # type: ignore[attr-defined]
    assert not (inventory.parent / "inv.csv.report.csv").exists()


def test_onboard_base_url_without_scheme_is_one_line(inventory: Path) -> None:
    result = _invoke(inventory, base_url="127.0.0.1:8000")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "needs http:// or https://" in result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]


def test_onboard_unreachable_server_is_one_line_and_a_report(inventory: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nobody listens there
    result = _invoke(inventory, "--no-batch", base_url=f"http://127.0.0.1:{port}")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    assert f"cannot reach the service at http://127.0.0.1:{port}" in result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.output  # type: ignore[attr-defined]
    assert (inventory.parent / "inv.csv.report.csv").exists()


def test_onboard_bad_xlsx_cell_is_named_and_exits_2(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["Código", "Nombre"], ["MED-042", "a"], ["#REF!", "b"]):
        sheet.append(row)
    book.save(tmp_path / "inventario.xlsx")
    result = _invoke(tmp_path / "inventario.xlsx")
    assert result.exit_code == 2  # type: ignore[attr-defined]
    assert "inventario.xlsx, cell A3: 'Código' holds the formula error #REF!" in result.output  # type: ignore[attr-defined]


def test_progress_without_a_terminal_prints_every_5_s_and_each_rate_limit_wait(
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = [0.0]
    display = ProgressDisplay(tty=False, clock=lambda: now[0])
    progress = Progress(total=10, done=1)
    display.update(progress)
    now[0] = 3.0
    display.update(progress)  # nothing new, too soon
    now[0] = 5.5
    display.update(progress)
    now[0] = 6.0
    progress.wait_until = 14.0
    display.update(progress)
    now[0] = 7.0
    display.update(progress)  # the same wait, announced already
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[2].endswith("; waiting 8 s for the rate limit")
