"""The ``provider-products`` admin commands against a SQLite file in a temporary dir.

They run in-process through typer's ``CliRunner`` (the same parsing, exit codes and output as the
console script); the one test about what a real process prints runs the installed script.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from typer.testing import CliRunner

from provider_products import bootstrap
from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.cli.main import app
from provider_products.db.engine import Connection, Database

CLI = Path(sys.executable).parent / "provider-products"
T = TypeVar("T")

CREDENTIAL_KEYS = {"client_id", "client_secret", "provider_slug", "scopes"}


# --- helpers -------------------------------------------------------------------------------------


def _env(db_path: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any PROVIDER_PRODUCTS_* setting, pointed at ``db_path``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVIDER_PRODUCTS_")}
    env["PROVIDER_PRODUCTS_DATABASE_URL"] = f"sqlite:///{db_path}"
    env.update(extra)
    return env


def _flat(text: str) -> str:
    """Collapse white space, so that messages wrapped by the console still match."""
    return " ".join(text.split())


def _rows(db_path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the database file directly, bypassing the service."""
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def _admin(db_path: Path, fn: Callable[[Connection], Awaitable[T]]) -> T:
    """Set up state in-process (cheaper than a CLI run): migrate, then run ``fn`` in one transaction."""

    async def main() -> T:
        url = f"sqlite:///{db_path}"
        database = Database(url)
        try:
            await bootstrap.ensure_schema(database)
            async with database.transaction(write=True) as conn:
                return await fn(conn)
        finally:
            await database.dispose()

    return asyncio.run(main())


def _preload(db_path: Path, content: str, fmt: str) -> None:
    """Load catalogue rows in-process, as a prior import would have."""

    async def main() -> None:
        url = f"sqlite:///{db_path}"
        database = Database(url)
        try:
            await bootstrap.ensure_schema(database)
            await importer.import_content(database, content, fmt)
        finally:
            await database.dispose()

    asyncio.run(main())


def _catalogue(db_path: Path) -> dict[str, tuple[str, str, str]]:
    """Every catalogue row as ``{code: (product_type, name, status)}``."""
    return {
        code: (ptype, name, status)
        for code, ptype, name, status in _rows(
            db_path, "SELECT product_code, product_type, name, status FROM catalogue_product"
        )
    }


def _row_errors(stderr: str) -> dict[int, str]:
    """Map each reported line number to its message."""
    parts = re.split(r"\bline (\d+): ", _flat(stderr))
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


@dataclass(frozen=True)
class Completed:
    """What a command did: its exit status and what it printed on each stream."""

    returncode: int
    stdout: str
    stderr: str


Run = Callable[..., Completed]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The SQLite file the CLI is pointed at."""
    return tmp_path / "x.db"


@pytest.fixture
def cli(tmp_path: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run a command in-process in ``tmp_path``; extra keyword arguments become env vars."""
    monkeypatch.chdir(tmp_path)

    def run(*args: str, **env: str) -> Completed:
        # Only the settings _env gives: the caller's PROVIDER_PRODUCTS_* variables are unset.
        environment: dict[str, str | None] = {
            k: None for k in os.environ if k.startswith("PROVIDER_PRODUCTS_")
        }
        environment.update(_env(db_path, **env))
        result = CliRunner().invoke(app, list(args), env=environment, catch_exceptions=False)
        return Completed(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def process(tmp_path: Path, db_path: Path) -> Run:
    """Run the installed console script in ``tmp_path``; extra keyword arguments become env vars."""

    def run(*args: str, **env: str) -> Completed:
        done = subprocess.run(
            [str(CLI), *args],
            cwd=tmp_path,
            env=_env(db_path, **env),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Completed(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def database(db_path: Path) -> Path:
    """An empty database at the newest schema (admin commands do not create one)."""

    async def nothing(_: Connection) -> None:
        return None

    _admin(db_path, nothing)
    return db_path


@pytest.fixture
def provider(db_path: Path) -> str:
    """A provider that already exists."""
    _admin(db_path, lambda conn: auth_service.create_provider(conn, slug="farmacia-central", name="Central"))
    return "farmacia-central"


@pytest.fixture
def client(db_path: Path, provider: str) -> auth_service.ClientCredentials:
    """An OAuth client of ``provider`` that already exists."""
    return _admin(
        db_path,
        lambda conn: auth_service.create_client(
            conn, provider_slug=provider, scopes=["arc:read", "arc:write"]
        ),
    )


# --- providers -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("database")
def test_providers_create_new_slug_is_listed(cli: Run) -> None:
    created = cli("providers", "create", "farmacia-norte", "--name", "Norte")
    assert created.returncode == 0, created.stderr
    assert "farmacia-norte" in created.stdout

    listed = cli("providers", "list")

    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if "farmacia-norte" in line)
    assert "Norte" in row


def test_providers_create_existing_slug_fails_with_message(cli: Run, db_path: Path, provider: str) -> None:
    result = cli("providers", "create", provider, "--name", "Again")

    assert result.returncode != 0
    assert f"provider '{provider}' already exists" in _flat(result.stderr)
    assert _rows(db_path, "SELECT slug, name FROM provider") == [(provider, "Central")]


@pytest.mark.usefixtures("database")
def test_providers_create_invalid_slug_fails_without_writing(cli: Run, db_path: Path) -> None:
    result = cli("providers", "create", "Farmacia Central!", "--name", "Central")

    assert result.returncode != 0
    assert "slug" in _flat(result.stderr)
    assert _rows(db_path, "SELECT COUNT(*) FROM provider") == [(0,)]


# --- clients -------------------------------------------------------------------------------------


def test_clients_create_json_prints_credentials_with_default_scopes(cli: Run, provider: str) -> None:
    result = cli("clients", "create", "--provider", provider, "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == CREDENTIAL_KEYS
    assert data["provider_slug"] == provider
    assert data["scopes"] == ["arc:read", "arc:write"]
    assert data["client_id"]
    assert data["client_secret"]


def test_clients_create_given_scopes_grants_exactly_those(cli: Run, db_path: Path, provider: str) -> None:
    result = cli("clients", "create", "--provider", provider, "--scopes", "arc:read ehr:read", "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["scopes"] == ["arc:read", "ehr:read"]
    stored = _rows(db_path, "SELECT scopes FROM oauth_client WHERE client_id = ?", (data["client_id"],))
    assert stored == [("arc:read ehr:read",)]


def test_clients_create_unknown_scope_is_refused(cli: Run, db_path: Path, provider: str) -> None:
    result = cli("clients", "create", "--provider", provider, "--scopes", "arc:read arc:admin", "--json")

    assert result.returncode != 0
    assert "unknown scope(s) arc:admin" in _flat(result.stderr)
    assert "client_secret" not in result.stdout
    assert _rows(db_path, "SELECT COUNT(*) FROM oauth_client") == [(0,)]


@pytest.mark.usefixtures("database")
def test_clients_create_unknown_provider_is_refused(cli: Run, db_path: Path) -> None:
    result = cli("clients", "create", "--provider", "no-such-provider", "--json")

    assert result.returncode != 0
    assert "no provider 'no-such-provider'" in _flat(result.stderr)
    assert "client_secret" not in result.stdout
    assert _rows(db_path, "SELECT COUNT(*) FROM oauth_client") == [(0,)]


def test_clients_create_rate_limit_is_shown_by_list(cli: Run, provider: str) -> None:
    created = cli("clients", "create", "--provider", provider, "--rate-limit", "600/minute", "--json")
    assert created.returncode == 0, created.stderr
    client_id = json.loads(created.stdout)["client_id"]

    listed = cli("clients", "list", "--json")

    assert listed.returncode == 0, listed.stderr
    clients = {c["client_id"]: c for c in json.loads(listed.stdout)}
    assert clients[client_id]["rate_limit"] == "600/minute"
    assert clients[client_id]["provider_slug"] == provider
    assert "client_secret" not in clients[client_id]


def test_clients_create_malformed_rate_limit_is_refused(cli: Run, db_path: Path, provider: str) -> None:
    result = cli("clients", "create", "--provider", provider, "--rate-limit", "lots/minute", "--json")

    assert result.returncode != 0
    assert "invalid rate limit 'lots/minute'" in _flat(result.stderr)
    assert _rows(db_path, "SELECT COUNT(*) FROM oauth_client") == [(0,)]


def test_clients_create_secret_is_stored_only_as_argon2_hash(cli: Run, db_path: Path, provider: str) -> None:
    result = cli("clients", "create", "--provider", provider, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)

    [(secret_hash,)] = _rows(
        db_path, "SELECT secret_hash FROM oauth_client WHERE client_id = ?", (data["client_id"],)
    )

    assert data["client_secret"] not in secret_hash
    assert secret_hash.startswith("$argon2")
    assert PasswordHasher().verify(secret_hash, data["client_secret"])
    # Nowhere else in the database files either (e.g. a plain-text column or a log table).
    for path in db_path.parent.glob(db_path.name + "*"):
        assert data["client_secret"].encode() not in path.read_bytes(), path.name


def test_clients_rotate_json_returns_new_working_secret(
    cli: Run, db_path: Path, client: auth_service.ClientCredentials
) -> None:
    result = cli("clients", "rotate", client.client_id, "--json")

    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == CREDENTIAL_KEYS
    assert data["client_id"] == client.client_id
    assert data["client_secret"] != client.client_secret
    [(secret_hash,)] = _rows(
        db_path, "SELECT secret_hash FROM oauth_client WHERE client_id = ?", (client.client_id,)
    )
    assert PasswordHasher().verify(secret_hash, data["client_secret"])
    with pytest.raises(VerificationError):
        PasswordHasher().verify(secret_hash, client.client_secret)


def test_clients_disable_existing_client_is_listed_inactive(
    cli: Run, client: auth_service.ClientCredentials
) -> None:
    disabled = cli("clients", "disable", client.client_id)
    assert disabled.returncode == 0, disabled.stderr

    listed = cli("clients", "list", "--json")

    assert listed.returncode == 0, listed.stderr
    clients = {c["client_id"]: c for c in json.loads(listed.stdout)}
    assert clients[client.client_id]["is_active"] is False


# --- catalogue import ----------------------------------------------------------------------------

CSV_HEADER = "product_code,product_type,name,active_ingredient,coding_system,coding_code\n"
CSV_ROWS = (
    "TST-MED-1,MEDICATION,Ibuprofeno 400 mg Tableta,Ibuprofeno,,\n"
    "TST-MED-2,MEDICATION,Amoxicilina 500 mg Cápsula,Amoxicilina,,\n"
    "TST-LAB-1,LAB,Glucosa en ayunas,,LOINC,1558-6\n"
)


def test_catalogue_import_csv_new_codes_are_inserted(cli: Run, tmp_path: Path, db_path: Path) -> None:
    (tmp_path / "cat.csv").write_text(CSV_HEADER + CSV_ROWS, "utf-8")

    result = cli("catalogue", "import", "cat.csv")

    assert result.returncode == 0, result.stderr
    assert "3 rows: 3 inserted, 0 updated, 0 unchanged, 0 deactivated" in _flat(result.stdout)
    assert _catalogue(db_path) == {
        "TST-MED-1": ("MEDICATION", "Ibuprofeno 400 mg Tableta", "ACTIVE"),
        "TST-MED-2": ("MEDICATION", "Amoxicilina 500 mg Cápsula", "ACTIVE"),
        "TST-LAB-1": ("LAB", "Glucosa en ayunas", "ACTIVE"),
    }


def test_catalogue_import_csv_with_utf8_bom_is_accepted(cli: Run, tmp_path: Path, db_path: Path) -> None:
    # Spreadsheet programs save "CSV UTF-8" with a byte-order mark before the header.
    (tmp_path / "cat.csv").write_bytes(b"\xef\xbb\xbf" + (CSV_HEADER + CSV_ROWS).encode("utf-8"))

    result = cli("catalogue", "import", "cat.csv")

    assert result.returncode == 0, result.stderr
    assert set(_catalogue(db_path)) == {"TST-MED-1", "TST-MED-2", "TST-LAB-1"}


def test_catalogue_import_semicolon_csv_is_accepted(cli: Run, tmp_path: Path, db_path: Path) -> None:
    # Spreadsheets set to Spanish locales separate with ';' (',' is their decimal separator).
    content = (CSV_HEADER + CSV_ROWS).replace(",", ";")
    (tmp_path / "cat.csv").write_text(content, "utf-8")

    result = cli("catalogue", "import", "cat.csv")

    assert result.returncode == 0, result.stderr
    assert set(_catalogue(db_path)) == {"TST-MED-1", "TST-MED-2", "TST-LAB-1"}


def test_catalogue_import_unreadable_file_exits_2(cli: Run, db_path: Path) -> None:
    result = cli("catalogue", "import", "missing.csv")

    assert result.returncode == 2
    assert "cannot read missing.csv" in _flat(result.stderr)
    assert not db_path.exists()


def test_catalogue_import_csv_changed_name_updates_by_code(cli: Run, tmp_path: Path, db_path: Path) -> None:
    _preload(db_path, CSV_HEADER + CSV_ROWS, "csv")
    changed = CSV_ROWS.replace("Ibuprofeno 400 mg Tableta", "Ibuprofeno 400 mg Tableta Recubierta")
    (tmp_path / "cat.csv").write_text(CSV_HEADER + changed, "utf-8")

    result = cli("catalogue", "import", "cat.csv")

    assert result.returncode == 0, result.stderr
    assert "3 rows: 0 inserted, 1 updated, 2 unchanged, 0 deactivated" in _flat(result.stdout)
    catalogue = _catalogue(db_path)
    assert len(catalogue) == 3
    assert catalogue["TST-MED-1"] == ("MEDICATION", "Ibuprofeno 400 mg Tableta Recubierta", "ACTIVE")


def test_catalogue_import_jsonl_new_codes_are_inserted(cli: Run, tmp_path: Path, db_path: Path) -> None:
    lines = [
        {
            "product_code": "TST-MED-9",
            "product_type": "MEDICATION",
            "name": "Loratadina 10 mg Tableta",
            "active_ingredient": "Loratadina",
            "concentration": "10 mg",
            "atc_code": "R06AX13",
        },
        {"product_code": "TST-IMG-1", "product_type": "IMAGING", "name": "Radiografía de tórax"},
    ]
    (tmp_path / "cat.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n", "utf-8")

    result = cli("catalogue", "import", "cat.jsonl")

    assert result.returncode == 0, result.stderr
    assert "2 rows: 2 inserted, 0 updated, 0 unchanged, 0 deactivated" in _flat(result.stdout)
    assert _rows(
        db_path,
        "SELECT product_code, product_type, name, active_ingredient, concentration, atc_code, status "
        "FROM catalogue_product ORDER BY product_code",
    ) == [
        ("TST-IMG-1", "IMAGING", "Radiografía de tórax", None, None, None, "ACTIVE"),
        ("TST-MED-9", "MEDICATION", "Loratadina 10 mg Tableta", "Loratadina", "10 mg", "R06AX13", "ACTIVE"),
    ]


def test_catalogue_import_deactivate_missing_marks_absent_codes_inactive(
    cli: Run, tmp_path: Path, db_path: Path
) -> None:
    _preload(db_path, CSV_HEADER + CSV_ROWS, "csv")
    kept = "".join(line + "\n" for line in CSV_ROWS.splitlines() if not line.startswith("TST-MED-2"))
    (tmp_path / "cat.csv").write_text(CSV_HEADER + kept, "utf-8")

    result = cli("catalogue", "import", "cat.csv", "--deactivate-missing")

    assert result.returncode == 0, result.stderr
    assert "2 rows: 0 inserted, 0 updated, 2 unchanged, 1 deactivated" in _flat(result.stdout)
    statuses = {code: status for code, (_, _, status) in _catalogue(db_path).items()}
    assert statuses == {"TST-MED-1": "ACTIVE", "TST-MED-2": "INACTIVE", "TST-LAB-1": "ACTIVE"}


def test_catalogue_import_bad_rows_reports_each_line_and_writes_nothing(
    cli: Run, tmp_path: Path, db_path: Path
) -> None:
    _preload(db_path, CSV_HEADER + CSV_ROWS, "csv")
    before = _catalogue(db_path)
    bad = (
        CSV_HEADER
        + "TST-MED-1,MEDICATION,Ibuprofeno renamed,Ibuprofeno,,\n"  # line 2: good (an update)
        + "TST-NEW-1,LAB,Perfil lipídico,,LOINC,57698-3\n"  # line 3: good (an insert)
        + "bad code!,MEDICATION,Bad code,,,\n"  # line 4: ill-formed code
        + "TST-NEW-2,DRUG,Unknown type,,,\n"  # line 5: unknown product_type
        + "TST-NEW-3,LAB,,,,\n"  # line 6: missing name
        + "TST-NEW-1,LAB,Perfil lipídico again,,,\n"  # line 7: duplicate of line 3
    )
    (tmp_path / "bad.csv").write_text(bad, "utf-8")

    result = cli("catalogue", "import", "bad.csv")

    assert result.returncode != 0
    errors = _row_errors(result.stderr)
    assert set(errors) == {4, 5, 6, 7}
    assert "product_code" in errors[4]
    assert "product_type" in errors[5]
    assert "name" in errors[6]
    assert "duplicate" in errors[7]
    assert "TST-NEW-1" in errors[7]
    assert "nothing was imported" in _flat(result.stderr)
    assert _catalogue(db_path) == before


def test_catalogue_import_sandbox_loads_bundled_catalogue(cli: Run, db_path: Path) -> None:
    result = cli("catalogue", "import", "--sandbox")

    assert result.returncode == 0, result.stderr
    [(medications,)] = _rows(
        db_path, "SELECT COUNT(*) FROM catalogue_product WHERE product_type = 'MEDICATION'"
    )
    assert medications >= 300
    [(total,)] = _rows(db_path, "SELECT COUNT(*) FROM catalogue_product")
    assert f"{total} rows: {total} inserted" in _flat(result.stdout)


def test_catalogue_import_without_file_or_sandbox_is_an_error(cli: Run, db_path: Path) -> None:
    result = cli("catalogue", "import")

    assert result.returncode != 0
    assert "give a FILE or --sandbox" in _flat(result.stderr)
    assert not db_path.exists()


# --- settings ------------------------------------------------------------------------------------


def test_command_with_bad_setting_exits_2_naming_the_variable(process: Run, db_path: Path) -> None:
    # A real process: what matters is what the user sees, no traceback.
    result = process("providers", "list", PROVIDER_PRODUCTS_RATE_LIMIT="lots")

    assert result.returncode == 2
    assert "PROVIDER_PRODUCTS_RATE_LIMIT" in result.stderr
    assert "Traceback" not in result.stderr
    assert not db_path.exists()
