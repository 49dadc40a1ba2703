"""``provider-products users``: create (password shown once), list, disable, reset-password."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner

from provider_products.cli.main import app

runner = CliRunner()


@pytest.fixture
def db_path(tmp_path: Path, template_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the migrated sandbox catalogue with one provider, used by the commands."""
    target = tmp_path / "cli.db"
    shutil.copy(template_db, target)
    for name in list(os.environ):
        if name.startswith("PROVIDER_PRODUCTS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("PROVIDER_PRODUCTS_DATABASE_URL", f"sqlite:///{target}")
    assert runner.invoke(app, ["providers", "create", "farmacia-a", "--name", "Farmacia A"]).exit_code == 0
    return target


def _create(*args: str) -> object:
    return runner.invoke(app, ["users", "create", "--provider", "farmacia-a", *args])


def _rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_users_create_json_prints_exactly_the_login(db_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "users",
            "create",
            "--provider",
            "farmacia-a",
            "--email",
            "Ana@Farmacia.example",
            "--role",
            "staff",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"email", "password", "provider_slug", "role"}
    assert data["email"] == "ana@farmacia.example"
    assert data["provider_slug"] == "farmacia-a"
    assert data["role"] == "staff"
    stored = _rows(db_path, "SELECT password_hash FROM portal_user")
    assert len(stored) == 1
    assert data["password"] not in str(stored)
    assert PasswordHasher().verify(str(stored[0][0]), data["password"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "x@y.example", "--role", "boss"], "unknown role 'boss'; use admin or staff"),
        (["--email", "not-an-email", "--role", "staff"], "'not-an-email' is not an email address"),
    ],
)
def test_users_create_bad_input_one_line_exit_2(db_path: Path, args: list[str], message: str) -> None:
    result = _create(*args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}"
    assert _rows(db_path, "SELECT count(*) FROM portal_user") == [(0,)]


def test_users_create_unknown_provider_exit_1(db_path: Path) -> None:
    result = runner.invoke(
        app, ["users", "create", "--provider", "nope", "--email", "a@b.example", "--role", "admin"]
    )
    assert result.exit_code == 1
    assert "error: no provider 'nope'" in result.stderr
    assert "Traceback" not in result.output


def test_users_create_twice_exit_1(db_path: Path) -> None:
    assert _create("--email", "a@b.example", "--role", "admin").exit_code == 0
    again = _create("--email", "A@B.example", "--role", "staff")
    assert again.exit_code == 1
    assert "error: a user 'a@b.example' already exists" in again.stderr


def test_users_list_json_never_shows_passwords(db_path: Path) -> None:
    created = json.loads(_create("--email", "a@b.example", "--role", "admin", "--json").stdout)
    result = runner.invoke(app, ["users", "list", "--json"])
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [(u["email"], u["provider_slug"], u["role"], u["is_active"]) for u in listed] == [
        ("a@b.example", "farmacia-a", "admin", True)
    ]
    assert created["password"] not in result.stdout


def test_users_disable_ends_sessions_and_reports_them(db_path: Path) -> None:
    _create("--email", "a@b.example", "--role", "admin")
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(
            "INSERT INTO portal_session (token_hash, user_id, csrf_token, created_at, expires_at) "
            "SELECT 'h', id, 'c', '2026-01-01 00:00:00', '2099-01-01 00:00:00' FROM portal_user"
        )
    conn.close()
    result = runner.invoke(app, ["users", "disable", "a@b.example"])
    assert result.exit_code == 0
    assert "1 session(s) ended" in result.stdout
    assert _rows(db_path, "SELECT count(*) FROM portal_session") == [(0,)]
    assert _rows(db_path, "SELECT is_active FROM portal_user") == [(0,)]


def test_users_disable_unknown_exit_1(db_path: Path) -> None:
    result = runner.invoke(app, ["users", "disable", "ghost@b.example"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == "error: no user 'ghost@b.example'"


def test_users_reset_password_replaces_the_hash(db_path: Path) -> None:
    old = json.loads(_create("--email", "a@b.example", "--role", "admin", "--json").stdout)
    result = runner.invoke(app, ["users", "reset-password", "a@b.example", "--json"])
    assert result.exit_code == 0
    new = json.loads(result.stdout)
    assert new["password"] != old["password"]
    stored = str(_rows(db_path, "SELECT password_hash FROM portal_user")[0][0])
    assert PasswordHasher().verify(stored, new["password"])
