"""``provider-products serve`` as a real process: first start, the user guide over HTTP, restart, docs."""

from __future__ import annotations

import re
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import servers as servers_module
from tests.servers import CLI, Server, clean_env, free_port

pytestmark = pytest.mark.slow

WHOLE_SECONDS_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def start_server(workdir: Path, db_path: Path, name: str, *extra: str) -> Server:
    """Start ``serve`` on the SQLite database at ``db_path``."""
    return servers_module.start_server(workdir, clean_env(database_url=f"sqlite:///{db_path}"), name, *extra)


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[..., Server]]:
    """Start servers that are always stopped at the end of the module, whatever the tests did."""
    started: list[Server] = []

    def start(workdir: Path, db_path: Path, name: str, *extra: str) -> Server:
        server = start_server(workdir, db_path, name, *extra)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def _credentials(stdout: str) -> tuple[str, str]:
    client_id = re.search(r"client_id:\s+(\S+)", stdout)
    client_secret = re.search(r"client_secret:\s+(\S+)", stdout)
    assert client_id, stdout
    assert client_secret, stdout
    return client_id.group(1), client_secret.group(1)


def _token(base_url: str, client_id: str, client_secret: str) -> httpx.Response:
    return httpx.post(
        f"{base_url}/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, client_secret),
        timeout=30,
    )


def _api(base_url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _assert_envelope(response: httpx.Response, status: int, error_code: str) -> dict[str, Any]:
    """Check the whole error envelope and return its additional information."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error_code", "message", "additional_information"}, body
    assert body["error_code"] == error_code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["additional_information"], dict)
    return body["additional_information"]  # type: ignore[no-any-return]


def _all_pages(api: httpx.Client, path: str, **params: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 0
    while True:
        response = api.get(path, params={**params, "size": "200", "page": str(page)})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["content"]
        page += 1
        if page >= body["page"]["total_pages"]:
            return items


# --- first start ---------------------------------------------------------------------------------


@dataclass
class Sandbox:
    """A server started on an empty directory, with the credentials it printed."""

    server: Server
    db_path: Path
    client_id: str
    client_secret: str
    token: str
    registered: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, servers: Callable[..., Server]) -> Sandbox:
    workdir = tmp_path_factory.mktemp("first-start")
    db_path = workdir / "x.db"
    assert not db_path.exists()
    server = servers(workdir, db_path, "first")
    client_id, client_secret = _credentials(server.stdout)
    response = _token(server.base_url, client_id, client_secret)
    assert response.status_code == 200, response.text
    return Sandbox(server, db_path, client_id, client_secret, response.json()["access_token"])


@pytest.fixture
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    """A client of the sandbox server with the printed credentials' token."""
    with _api(sandbox.server.base_url, sandbox.token) as client:
        yield client


@pytest.fixture
def med_042(api: httpx.Client) -> Iterator[httpx.Response]:
    """Register MED-042 as the guide does; remove it again afterwards so tests stay independent."""
    response = api.post("/arc/v1/providers/products", json={"product_code": "MED-042"})
    yield response
    if response.status_code == 201:
        api.delete("/arc/v1/providers/products/MED-042")


def test_serve_first_start_empty_dir_creates_database(sandbox: Sandbox) -> None:
    assert sandbox.db_path.is_file()
    assert sandbox.db_path.stat().st_size > 0


def test_serve_first_start_empty_dir_prints_client_credentials(sandbox: Sandbox) -> None:
    stdout = sandbox.server.stdout
    assert sandbox.client_id.startswith("cli_")
    assert len(sandbox.client_secret) >= 32
    assert f"-u '{sandbox.client_id}:{sandbox.client_secret}'" in stdout
    assert f"{sandbox.server.base_url}/v1/oauth/token" in stdout
    assert "grant_type=client_credentials" in stdout


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("python3") is None, reason="needs curl")
def test_serve_first_start_printed_curl_command_yields_working_token(sandbox: Sandbox) -> None:
    [command] = [line.strip() for line in sandbox.server.stdout.splitlines() if "export TOKEN=" in line]

    result = subprocess.run(
        ["bash", "-c", f'{command}\nprintf %s "$TOKEN"'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    assert token.count(".") == 2
    with _api(sandbox.server.base_url, token) as api:
        assert api.get("/arc/v1/providers/products").status_code == 200


def test_list_medications_query_paracetamol_returns_matches(api: httpx.Client) -> None:
    response = api.get("/medical-catalogs/v1/medications", params={"query": "paracetamol"})

    assert response.status_code == 200, response.text
    content = response.json()["content"]
    assert content
    for item in content:
        assert item["product_type"] == "MEDICATION"
        # Entries named Acetaminofén are found through their synonym "Paracetamol".
        assert (
            "paracetamol" in f"{item['name']} {item['active_ingredient']} {item['matched_synonym']}".lower()
        )


def test_list_products_type_lab_returns_only_lab(api: httpx.Client) -> None:
    response = api.get("/arc/v1/products", params={"product_type": "LAB"})

    assert response.status_code == 200, response.text
    content = response.json()["content"]
    assert content
    assert {item["product_type"] for item in content} == {"LAB"}


def test_register_product_catalogue_code_returns_201_whole_seconds(med_042: httpx.Response) -> None:
    assert med_042.status_code == 201, med_042.text
    body = med_042.json()
    assert set(body) == {"product_code", "registered_at"}
    assert body["product_code"] == "MED-042"
    assert WHOLE_SECONDS_UTC.match(body["registered_at"]), body["registered_at"]


def test_list_provider_products_after_register_lists_code(api: httpx.Client, med_042: httpx.Response) -> None:
    assert med_042.status_code == 201, med_042.text

    response = api.get("/arc/v1/providers/products")

    assert response.status_code == 200, response.text
    listed = {item["product_code"]: item for item in response.json()["content"]}
    assert listed["MED-042"]["registered_at"] == med_042.json()["registered_at"]
    assert listed["MED-042"]["product_type"] == "MEDICATION"


def test_delete_provider_product_registered_returns_204(api: httpx.Client, med_042: httpx.Response) -> None:
    assert med_042.status_code == 201, med_042.text

    response = api.delete("/arc/v1/providers/products/MED-042")

    assert response.status_code == 204
    assert response.content == b""
    _assert_envelope(api.get("/arc/v1/providers/products/MED-042"), 404, "071-103")


def test_register_product_twice_returns_409(api: httpx.Client, med_042: httpx.Response) -> None:
    assert med_042.status_code == 201, med_042.text

    response = api.post("/arc/v1/providers/products", json={"product_code": "MED-042"})

    info = _assert_envelope(response, 409, "071-102")
    assert info.get("product_code") == "MED-042"


def test_register_product_without_code_returns_422(api: httpx.Client) -> None:
    response = api.post("/arc/v1/providers/products", json={})

    info = _assert_envelope(response, 422, "071-105")
    assert [e["field"] for e in info["errors"]] == ["product_code"]


def test_register_product_unknown_code_returns_404(api: httpx.Client) -> None:
    response = api.post("/arc/v1/providers/products", json={"product_code": "NOT-IN-CATALOGUE-999"})

    _assert_envelope(response, 404, "071-101")


# --- docs ----------------------------------------------------------------------------------------


class _AssetRefs(HTMLParser):
    """Collect the URLs of ``<script src>``, ``<link href>`` and ``<img src>``."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


def _docs_assets(base_url: str) -> list[str]:
    response = httpx.get(f"{base_url}/docs", timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    parser = _AssetRefs()
    parser.feed(response.text)
    return parser.urls


def test_docs_page_references_only_local_assets(sandbox: Sandbox) -> None:
    urls = _docs_assets(sandbox.server.base_url)

    assert any(u.endswith(".js") for u in urls), urls
    assert any(u.endswith(".css") for u in urls), urls
    assert [u for u in urls if re.match(r"^(https?:)?//", u, re.IGNORECASE)] == []


def test_docs_page_assets_are_served(sandbox: Sandbox) -> None:
    urls = _docs_assets(sandbox.server.base_url)
    assert urls

    for url in urls:
        response = httpx.get(f"{sandbox.server.base_url}{url}", timeout=30)
        assert response.status_code == 200, url
        assert response.content, url


# --- restart -------------------------------------------------------------------------------------


@dataclass
class Restart:
    """A sandbox that was used, stopped with SIGTERM and started again on the same database."""

    first: Server
    second: Server
    first_exit: int | None
    client_id: str
    client_secret: str
    catalogue_size: int
    codes: list[str]


@pytest.fixture(scope="module")
def restart(tmp_path_factory: pytest.TempPathFactory, servers: Callable[..., Server]) -> Restart:
    workdir = tmp_path_factory.mktemp("restart")
    db_path = workdir / "x.db"
    first = servers(workdir, db_path, "first")
    client_id, client_secret = _credentials(first.stdout)
    token = _token(first.base_url, client_id, client_secret)
    assert token.status_code == 200, token.text
    with _api(first.base_url, token.json()["access_token"]) as api:
        catalogue = api.get("/arc/v1/products", params={"size": "5"})
        assert catalogue.status_code == 200, catalogue.text
        size = catalogue.json()["page"]["total_elements"]
        codes = [item["product_code"] for item in catalogue.json()["content"]]
        assert len(codes) == 5
        for code in codes:
            registered = api.post("/arc/v1/providers/products", json={"product_code": code})
            assert registered.status_code == 201, registered.text
    first_exit = first.stop()
    second = servers(workdir, db_path, "second")
    return Restart(first, second, first_exit, client_id, client_secret, size, codes)


def test_serve_sigterm_stops_server_gracefully(restart: Restart) -> None:
    # uvicorn finishes its shutdown and then re-raises the signal, so -SIGTERM is a clean exit too.
    assert restart.first_exit in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in restart.first.stderr


def test_serve_restart_existing_database_prints_no_new_secret(restart: Restart) -> None:
    stdout = restart.second.stdout
    assert "client_secret" not in stdout
    assert restart.client_secret not in stdout
    assert "Using existing database" in stdout


def test_serve_restart_existing_database_creates_no_new_client(restart: Restart) -> None:
    db_path = restart.first.stdout_path.parent / "x.db"
    conn = sqlite3.connect(db_path)
    try:
        clients = conn.execute("SELECT client_id FROM oauth_client").fetchall()
        providers = conn.execute("SELECT COUNT(*) FROM provider").fetchone()
    finally:
        conn.close()

    assert clients == [(restart.client_id,)]
    assert providers == (1,)


def test_serve_restart_existing_database_keeps_catalogue_size(restart: Restart) -> None:
    token = _token(restart.second.base_url, restart.client_id, restart.client_secret).json()["access_token"]
    with _api(restart.second.base_url, token) as api:
        response = api.get("/arc/v1/products", params={"size": "1"})

    assert response.status_code == 200, response.text
    assert response.json()["page"]["total_elements"] == restart.catalogue_size


def test_serve_restart_existing_database_keeps_registrations(restart: Restart) -> None:
    token = _token(restart.second.base_url, restart.client_id, restart.client_secret).json()["access_token"]
    with _api(restart.second.base_url, token) as api:
        listed = _all_pages(api, "/arc/v1/providers/products")

    assert sorted(item["product_code"] for item in listed) == sorted(restart.codes)


def test_serve_restart_existing_database_accepts_same_credentials(restart: Restart) -> None:
    response = _token(restart.second.base_url, restart.client_id, restart.client_secret)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert set(body["scope"].split()) >= {"arc:read", "arc:write"}


# --- workers -------------------------------------------------------------------------------------


def test_serve_two_workers_with_memory_limiter_exits_nonzero(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(CLI), "serve", "--host", "127.0.0.1", "--port", str(free_port()), "--workers", "2"],
        cwd=tmp_path,
        env=clean_env(database_url=f"sqlite:///{tmp_path / 'x.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode != 0
    assert "limiter" in " ".join(result.stderr.split())
    assert "Serving on" not in result.stdout
