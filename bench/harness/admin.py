"""The service's admin side as the benchmarks drive it: environments, the admin CLI, OAuth clients."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness import BENCH_DIR

UNLIMITED = "100000000/minute"


def cli_path() -> str:
    """Return the ``provider-products`` executable next to the running interpreter (the venv's)."""
    candidate = Path(sys.executable).parent / "provider-products"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("provider-products")
    if found is None:
        raise SystemExit(
            "provider-products not found: run with the project's venv, e.g. .venv/bin/python bench/..."
        )
    return found


def _clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PROVIDER_PRODUCTS_")}


def sqlite_env(db_path: Path) -> dict[str, str]:
    """Return the environment for the CLI and the server: this SQLite database, no sandbox seeding."""
    env = _clean_environ()
    env["PROVIDER_PRODUCTS_DATABASE_URL"] = f"sqlite:///{db_path.resolve()}"
    env["PROVIDER_PRODUCTS_SEED_SANDBOX"] = "false"
    env["PROVIDER_PRODUCTS_ENVIRONMENT"] = "sandbox"
    return env


def postgres_env(database_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    """Return a production environment on PostgreSQL and Redis; ``settings`` set ``PROVIDER_PRODUCTS_*``."""
    env = _clean_environ()
    env.update(
        {
            "PROVIDER_PRODUCTS_DATABASE_URL": database_url,
            "PROVIDER_PRODUCTS_REDIS_URL": redis_url,
            "PROVIDER_PRODUCTS_JWT_SECRET": secrets.token_urlsafe(48),
            "PROVIDER_PRODUCTS_ENVIRONMENT": "production",
            "PROVIDER_PRODUCTS_SEED_SANDBOX": "false",
        }
    )
    env.update({f"PROVIDER_PRODUCTS_{key.upper()}": value for key, value in settings.items()})
    return env


def snapshot_src(work: Path, env: dict[str, str]) -> str:
    """Copy ``src/`` into ``work`` and make ``env`` run that copy; return its SHA-256.

    Other people edit ``src/`` while a long benchmark runs: it measures one fixed copy of it.
    """
    shutil.copytree(BENCH_DIR.parent / "src", work / "src", ignore=shutil.ignore_patterns("__pycache__"))
    env["PYTHONPATH"] = str(work / "src")
    digest = hashlib.sha256()
    for path in sorted(p for p in (work / "src").rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(work / "src")).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_cli(args: Sequence[str], env: dict[str, str], timeout: float = 300.0) -> str:
    """Run one ``provider-products`` admin command and return its stdout; fail loudly with its stderr."""
    done = subprocess.run(
        [cli_path(), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"provider-products {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def import_catalogue(env: dict[str, str], catalogue: Path, timeout: float = 600) -> float:
    """Create/migrate the database and import ``catalogue`` through the admin CLI; return seconds taken."""
    started = time.perf_counter()
    run_cli(["catalogue", "import", str(catalogue)], env, timeout=timeout)
    return time.perf_counter() - started


@dataclass(frozen=True)
class Credentials:
    """An OAuth client of a provider."""

    provider_slug: str
    client_id: str
    client_secret: str


def add_client(env: dict[str, str], slug: str, rate_limit: str | None = UNLIMITED) -> Credentials:
    """Create one client with every bench scope for an existing provider (``None``: the default limit)."""
    args = ["clients", "create", "--provider", slug, "--scopes", "arc:read arc:write", "--json"]
    if rate_limit is not None:
        args += ["--rate-limit", rate_limit]
    data = json.loads(run_cli(args, env, timeout=60).strip().splitlines()[-1])
    return Credentials(slug, data["client_id"], data["client_secret"])


def create_client(env: dict[str, str], slug: str, rate_limit: str | None = UNLIMITED) -> Credentials:
    """Create a provider and one client with every bench scope (by default a huge rate-limit override)."""
    run_cli(["providers", "create", slug, "--name", f"Bench {slug}"], env, timeout=60)
    return add_client(env, slug, rate_limit)
