"""The client distribution alone: a clean venv with only ``provider-products-client[tools]`` installed
holds no server dependency, and runs the README's SDK example and ``onboard`` against a real server.

The wheel is built once (pip's cache keeps its build requirements). Where this machine has its local
package mirror (/opt/pypi), pip reads it instead of PyPI, which keeps the test within a minute;
elsewhere pip uses its configured index.
"""

from __future__ import annotations

import csv
import email.parser
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process.test_serve import _credentials, start_server
from tests.servers import Server, clean_env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parents[2]
CLIENT = ROOT / "clients" / "python"
PIP = [sys.executable, "-m", "pip"]
LOCAL_INDEXES = [Path("/opt/pypi/simple"), Path("/opt/pypi-more/simple")]
# The server's own dependencies (distribution names, normalised): none may come with the client.
SERVER_ONLY = {
    "provider-products",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "asyncpg",
    "argon2-cffi",
    "uvicorn",
    "redis",
    "pydantic-settings",
    "pyjwt",
    "orjson",
    "pyroaring",
    "prometheus-client",
    "fastapi-offline",
    "python-multipart",
}


def _index_options() -> list[str]:
    local = [p for p in LOCAL_INDEXES if p.is_dir()]
    if not local:
        return []
    options = ["--index-url", local[0].as_uri()]
    for extra in local[1:]:
        options += ["--extra-index-url", extra.as_uri()]
    return options


def _run(*args: str | Path, timeout: float = 120, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )
    assert result.returncode == 0, f"{args}: {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _readme_sdk_example() -> str:
    """The first Python block of the README's "Python SDK" section, as written."""
    readme = (ROOT / "README.md").read_text("utf-8")
    section = readme[readme.index("### Python SDK") :]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no Python example in the README's Python SDK section"
    return match.group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run(*PIP, "wheel", "--quiet", "--no-deps", *_index_options(), "-w", out, CLIENT)
    (built,) = out.glob("provider_products_client-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv (no pip of its own: this pip installs into it) with only the client and its tools."""
    root = tmp_path_factory.mktemp("client-venv") / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", root)
    python = root / "bin" / "python"
    _run(*PIP, "--python", python, "install", "--quiet", *_index_options(), f"{wheel}[tools]", timeout=300)
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("client-server")
    started = start_server(workdir, workdir / "sandbox.db", "client-dist")
    try:
        yield started
    finally:
        started.stop()


def _env(venv: Path, server: Server) -> dict[str, str]:
    client_id, client_secret = _credentials(server.stdout)
    env = clean_env(base_url=server.base_url, client_id=client_id, client_secret=client_secret)
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    return env


def test_client_wheel_requires_only_httpx_and_pydantic_without_extras(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(name).decode("utf-8"))
    required = metadata.get_all("Requires-Dist") or []
    plain = sorted(
        re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower() for r in required if "extra ==" not in r
    )
    assert plain == ["httpx", "pydantic"]
    assert not any(n.startswith("provider_products/") for n in zipfile.ZipFile(wheel).namelist())


def test_clean_venv_with_the_client_and_its_tools_has_no_server_dependency(venv: Path) -> None:
    listed = _run(*PIP, "--python", venv / "bin" / "python", "list", "--format=freeze").stdout
    installed = {
        line.split("==")[0].lower().replace("_", "-") for line in listed.splitlines() if "==" in line
    }

    assert "provider-products-client" in installed
    assert {"httpx", "pydantic", "typer", "rich", "rapidfuzz", "openpyxl"} <= installed
    assert installed & SERVER_ONLY == set()
    # Only the client's package is importable: the server's is not there at all.
    probe = "import importlib.util as u; print(u.find_spec('provider_products'), u.find_spec('fastapi'))"
    assert _run(venv / "bin" / "python", "-c", probe).stdout.strip() == "None None"


def test_readme_sdk_example_runs_as_written_in_the_clean_venv(
    venv: Path, server: Server, tmp_path: Path
) -> None:
    script = tmp_path / "example.py"
    script.write_text(_readme_sdk_example(), "utf-8")

    result = _run(venv / "bin" / "python", script, env=_env(venv, server), cwd=tmp_path)

    assert "MED-042" in result.stdout
    assert "Dolex" in result.stdout
    assert "{'registered': 2" in result.stdout or "'registered': 2" in result.stdout
    assert "RateLimitState" in result.stdout or "remaining=" in result.stdout
    assert "catalogue revision" in result.stdout


def test_onboard_of_the_client_distribution_registers_an_inventory(
    venv: Path, server: Server, tmp_path: Path
) -> None:
    inventory = tmp_path / "inventario.csv"
    inventory.write_text(
        "código,nombre\nMED-042,paracetamol\nLAB-SBX-0001,laboratorio\nIMG-SBX-0001,imagen\n", "utf-8"
    )
    env = _env(venv, server)

    result = _run(venv / "bin" / "provider-products-client", "onboard", inventory, env=env, cwd=tmp_path)

    assert "report:" in result.stdout
    with (tmp_path / "inventario.csv.report.csv").open(encoding="utf-8", newline="") as report:
        outcomes = {row["código"]: row["outcome"] for row in csv.DictReader(report)}
    # MED-042 may have been registered by the README's example before.
    assert outcomes["LAB-SBX-0001"] == outcomes["IMG-SBX-0001"] == "registered"
    assert outcomes["MED-042"] in {"registered", "already_registered"}
    check = (
        "from provider_products_client import Client\n"
        "with Client() as api:\n"
        "    print(sorted(p.product_code for p in api.iter_provider_products()))\n"
    )
    listed = _run(venv / "bin" / "python", "-c", check, env=env).stdout
    assert {"MED-042", "LAB-SBX-0001", "IMG-SBX-0001"} <= set(re.findall(r"'([A-Z0-9-]+)'", listed))


def test_client_command_without_arguments_prints_its_usage(venv: Path) -> None:
    result = subprocess.run(
        [str(venv / "bin" / "provider-products-client")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "onboard" in result.stdout + result.stderr
    assert "match" in result.stdout + result.stderr
