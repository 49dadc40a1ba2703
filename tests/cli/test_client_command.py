"""``provider-products-client``: the client distribution's own command for the integrator tools."""

from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

from provider_products_client.cli import main as client_main
from provider_products_client.cli.app import app


def test_client_command_lists_onboard_and_match() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "onboard" in result.output
    assert "match" in result.output


def test_client_command_version_names_the_client_distribution() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.startswith("provider-products-client 0.1.0")


def test_client_command_without_the_tools_extra_says_which_extra_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As in a venv with only `pip install ./clients/python`: typer is not importable.
    monkeypatch.setitem(sys.modules, "typer", None)
    for name in [n for n in sys.modules if n.startswith("provider_products_client.cli.")]:
        if name != "provider_products_client.cli.main":
            monkeypatch.delitem(sys.modules, name)

    with pytest.raises(SystemExit) as leaving:
        client_main.main()

    assert leaving.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "error: the tools extra is not installed (typer is missing): "
        "run pip install 'provider-products-client[tools]'"
    ]
