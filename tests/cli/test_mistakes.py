"""Ordinary command-line mistakes get one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from provider_products import bootstrap
from provider_products.auth import service as auth_service
from provider_products.cli.main import app
from provider_products.db.engine import Database


def _invoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str, columns: str = "100", **env: str
) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    environment: dict[str, str | None] = {k: None for k in os.environ if k.startswith("PROVIDER_PRODUCTS_")}
    environment.update({f"PROVIDER_PRODUCTS_{k.upper()}": v for k, v in env.items()})
    environment["COLUMNS"] = columns
    result = CliRunner().invoke(app, list(args), env=environment, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if "error" in line]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_unsupported_database_scheme_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, stderr = _invoke(tmp_path, monkeypatch, "providers", "list", database_url="mysql://u@h/db")
    assert code == 2
    line = _one_error_line(stderr)
    assert "PROVIDER_PRODUCTS_DATABASE_URL" in line
    assert "'mysql'" in line
    assert "rate limiter" not in stderr


@pytest.mark.parametrize("value", ["[https://a.example", "not-an-origin", '["ftp//x"]'])
def test_malformed_cors_origins_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    code, _, stderr = _invoke(tmp_path, monkeypatch, "providers", "list", cors_origins=value)
    assert code == 2
    assert "PROVIDER_PRODUCTS_CORS_ORIGINS" in _one_error_line(stderr)


def test_cors_origins_comma_separated_is_accepted() -> None:
    from provider_products.config import Settings

    os.environ["PROVIDER_PRODUCTS_CORS_ORIGINS"] = "https://a.example, http://b.example:8080"
    try:
        assert Settings().cors_origins == ["https://a.example", "http://b.example:8080"]
    finally:
        del os.environ["PROVIDER_PRODUCTS_CORS_ORIGINS"]


@pytest.mark.parametrize("port", ["0", "70000", "-1"])
def test_serve_port_outside_range_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    code, _, stderr = _invoke(tmp_path, monkeypatch, "serve", "--port", port)
    assert code == 2
    assert "--port" in stderr
    assert not (tmp_path / "provider-products.db").exists()


def test_admin_command_without_database_creates_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, stderr = _invoke(tmp_path, monkeypatch, "clients", "list")
    assert code == 2
    line = _one_error_line(stderr)
    assert str(tmp_path / "provider-products.db") in line
    assert "db upgrade" in line
    assert f"database: SQLite {tmp_path / 'provider-products.db'}" in stderr
    assert list(tmp_path.iterdir()) == []


def test_database_path_under_a_file_names_file_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plain").write_text("x")
    target = tmp_path / "plain" / "db.sqlite"
    code, _, stderr = _invoke(tmp_path, monkeypatch, "db", "upgrade", database_url=f"sqlite:///{target}")
    assert code == 2
    line = _one_error_line(stderr)
    assert str(target) in line
    assert "is not a directory" in line


def test_database_file_that_is_not_sqlite_names_file_and_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "db.sqlite"
    target.write_bytes(b"this is not a database" * 100)
    code, _, stderr = _invoke(tmp_path, monkeypatch, "providers", "list", database_url=f"sqlite:///{target}")
    assert code == 2
    line = _one_error_line(stderr)
    assert str(target) in line
    assert "not a database" in line


def test_misspelt_variable_is_warned_with_closest_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, stderr = _invoke(tmp_path, monkeypatch, "clients", "list", rate_limt="5/minute")
    assert "PROVIDER_PRODUCTS_RATE_LIMT is not a known setting" in stderr
    assert "did you mean PROVIDER_PRODUCTS_RATE_LIMIT?" in stderr


def test_version_prints_the_package_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import version

    code, stdout, _ = _invoke(tmp_path, monkeypatch, "--version")
    assert code == 0
    assert stdout.strip() == f"provider-products {version('provider-products')}"


@pytest.mark.parametrize("columns", ["40", "80", "200"])
def test_clients_list_never_cuts_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: str) -> None:
    db = tmp_path / "db.sqlite"

    async def setup() -> str:
        database = Database(f"sqlite:///{db}")
        try:
            await bootstrap.ensure_schema(database)
            async with database.transaction(write=True) as conn:
                await auth_service.create_provider(conn, slug="a-rather-long-provider-slug-name", name="P")
                made = await auth_service.create_client(
                    conn, provider_slug="a-rather-long-provider-slug-name", scopes=["arc:read", "arc:write"]
                )
                return made.client_id
        finally:
            await database.dispose()

    client_id = asyncio.run(setup())
    code, stdout, _ = _invoke(
        tmp_path, monkeypatch, "clients", "list", database_url=f"sqlite:///{db}", columns=columns
    )
    assert code == 0
    assert client_id in stdout
    assert "…" not in stdout


def test_seed_interrupted_before_commit_leaves_a_database_the_next_start_seeds(tmp_path: Path) -> None:
    shown: list[str] = []

    def interrupt(credentials: auth_service.ClientCredentials, _: int) -> None:
        raise KeyboardInterrupt

    async def main() -> bootstrap.SandboxState:
        database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
        try:
            await bootstrap.ensure_schema(database)
            with pytest.raises(KeyboardInterrupt):
                await bootstrap.seed_sandbox(database, on_created=interrupt)
            return await bootstrap.seed_sandbox(
                database, on_created=lambda c, _: shown.append(c.client_secret)
            )
        finally:
            await database.dispose()

    state = asyncio.run(main())
    assert state.created
    assert state.credentials is not None
    assert shown == [state.credentials.client_secret]
