"""The ``onboard`` command against a real server: outcomes, pacing, resume, dry run, sync."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from provider_products.catalogue import importer
from provider_products.catalogue.schemas import CODE_PATTERN
from provider_products_client import AsyncClient, errors
from provider_products_client.models import RateLimitState
from provider_products_client.onboarding import onboard
from provider_products_client.onboarding.pacing import Pacer
from tests.conftest import FakeClock
from tests.servers import CLI, Server, clean_env, start_server

pytestmark = pytest.mark.slow

SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")
ACTIVE = [e.product_code for e in SANDBOX if e.status == "ACTIVE"]
INACTIVE = [e.product_code for e in SANDBOX if e.status == "INACTIVE"]
PRODUCTS = "/arc/v1/providers/products"


def _credentials(server: Server) -> tuple[str, str]:
    client_id = re.search(r"client_id:\s+(\S+)", server.stdout)
    secret = re.search(r"client_secret:\s+(\S+)", server.stdout)
    assert client_id, server.stdout
    assert secret, server.stdout
    return client_id.group(1), secret.group(1)


@pytest.fixture
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    """A sandbox server with the rate limit the test asks for (default 600/minute)."""
    rate = getattr(request, "param", "600/minute")
    env = clean_env(database_url=f"sqlite:///{tmp_path / 'server.db'}", rate_limit=rate)
    started = start_server(tmp_path, env, "server", "--access-log")
    yield started
    started.stop()


def _access_log(server: Server) -> str:
    """Uvicorn's access log (one line per request, on stdout with --access-log)."""
    return server.stdout


def _onboard(server: Server, tmp_path: Path, inventory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    client_id, secret = _credentials(server)
    env = clean_env(base_url=server.base_url, client_id=client_id, client_secret=secret)
    return subprocess.run(
        [str(CLI), "onboard", str(inventory), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _registered(server: Server) -> set[str]:
    client_id, secret = _credentials(server)
    token = httpx.post(
        f"{server.base_url}/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    ).json()["access_token"]
    codes: set[str] = set()
    page = 0
    while True:
        body = httpx.get(
            f"{server.base_url}{PRODUCTS}",
            params={"size": 200, "page": page},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        codes |= {i["product_code"] for i in body["content"]}
        page += 1
        if page >= body["page"]["total_pages"]:
            return codes


def _inventory(path: Path, codes: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "product_code", "stock"])
        for n, code in enumerate(codes):
            writer.writerow([f"SKU-{n}", code, str(n)])
    return path


def _report(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_onboard_registers_missing_codes_and_reports_every_row(server: Server, tmp_path: Path) -> None:
    codes = ["med-042", "LAB-HEMO", "NOT-A-CODE-1", "bad code", INACTIVE[0], "MED-042", *ACTIVE[:30]]
    inventory = _inventory(tmp_path / "inv.csv", codes)
    result = _onboard(server, tmp_path, inventory)
    assert result.returncode == 1, result.stderr  # some rows failed
    rows = _report(tmp_path / "inv.csv.report.csv")
    assert [r["sku"] for r in rows] == [f"SKU-{n}" for n in range(len(codes))]
    outcomes = {r["product_code"]: (r["outcome"], r["error_code"]) for r in rows}
    assert outcomes["med-042"] == ("registered", "")
    assert outcomes["NOT-A-CODE-1"] == ("not_in_catalogue", "071-101")
    assert outcomes["bad code"] == ("invalid", "071-105")
    assert outcomes[INACTIVE[0]] == ("not_in_catalogue", "071-101")
    assert rows[5]["outcome"] == "duplicate"
    assert _registered(server) == {"MED-042", "LAB-HEMO", *ACTIVE[:30]}
    assert "0 answered 429" in result.stdout


def test_onboard_rerun_sends_nothing_new_and_keeps_outcomes(server: Server, tmp_path: Path) -> None:
    inventory = _inventory(tmp_path / "inv.csv", [*ACTIVE[:20], "NOPE-1"])
    first = _onboard(server, tmp_path, inventory)
    posts_before = _access_log(server).count('"POST /arc/v1/providers/products')
    assert posts_before >= 1
    second = _onboard(server, tmp_path, inventory)
    assert first.returncode == second.returncode == 1
    assert _access_log(server).count('"POST /arc/v1/providers/products') == posts_before
    # the server is the truth: the second run registered nothing, so it says so
    assert {r["outcome"] for r in _report(tmp_path / "inv.csv.report.csv")} == {
        "already_registered",
        "not_in_catalogue",
    }


@pytest.mark.parametrize("server", ["40/3 seconds"], indirect=True)
def test_onboard_single_calls_pace_to_the_limit_without_429(server: Server, tmp_path: Path) -> None:
    inventory = _inventory(tmp_path / "inv.csv", ACTIVE[:100])
    result = _onboard(server, tmp_path, inventory, "--no-batch")
    assert result.returncode == 0, result.stderr
    assert "0 answered 429" in result.stdout
    assert '" 429' not in _access_log(server)
    assert _access_log(server).count('POST /arc/v1/providers/products HTTP/1.1" 201') == 100
    assert _registered(server) == set(ACTIVE[:100])


@pytest.mark.parametrize("server", ["10/1 second"], indirect=True)
def test_onboard_killed_midway_resumes_without_resending_acknowledged_codes(
    server: Server, tmp_path: Path
) -> None:
    missing = [f"NOPE-{n}" for n in range(10)]
    inventory = _inventory(tmp_path / "inv.csv", [*missing, *ACTIVE[:60]])
    state = tmp_path / "inv.csv.onboard-state.jsonl"
    client_id, secret = _credentials(server)
    env = clean_env(base_url=server.base_url, client_id=client_id, client_secret=secret)
    process = subprocess.Popen(
        [str(CLI), "onboard", str(inventory), "--no-batch", "--concurrency", "1"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not state.exists() or len(state.read_text().splitlines()) < 25):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    acknowledged = [json.loads(line)["code"] for line in state.read_text().splitlines()]
    assert 25 <= len(acknowledged) < 70
    log_before = _access_log(server)
    # the batch lookup told the run that the NOPE codes are not in the catalogue: none was sent
    assert log_before.count('POST /arc/v1/providers/products HTTP/1.1" 404') == 0
    result = _onboard(server, tmp_path, inventory, "--no-batch", "--concurrency", "1")
    log_after = _access_log(server)[len(log_before) :]
    assert result.returncode == 1  # the ten NOPE codes
    # The acknowledged 404s are not sent again; at most the one code in flight at the kill is.
    assert log_after.count('POST /arc/v1/providers/products HTTP/1.1" 404') == 0
    assert log_after.count('POST /arc/v1/providers/products HTTP/1.1" 409') <= 1
    # Every code not acknowledged is sent once, except one that was registered but not yet
    # acknowledged when the process was killed: the resumed run finds it in the provider's list.
    unacknowledged = 60 - (len(acknowledged) - 10)
    created = log_after.count('POST /arc/v1/providers/products HTTP/1.1" 201')
    assert unacknowledged - 1 <= created <= unacknowledged
    assert _registered(server) == set(ACTIVE[:60])
    outcomes = {r["product_code"]: r["outcome"] for r in _report(tmp_path / "inv.csv.report.csv")}
    assert all(outcomes[c] == "not_in_catalogue" for c in missing)
    assert all(outcomes[c] in ("registered", "already_registered") for c in ACTIVE[:60])


def test_onboard_dry_run_registers_nothing(server: Server, tmp_path: Path) -> None:
    inventory = _inventory(tmp_path / "inv.csv", [*ACTIVE[:5], "NOPE-1"])
    result = _onboard(server, tmp_path, inventory, "--dry-run")
    assert result.returncode == 1
    outcomes = [r["outcome"] for r in _report(tmp_path / "inv.csv.report.csv")]
    assert outcomes == ["would_register"] * 5 + ["not_in_catalogue"]
    assert _registered(server) == set()


def test_onboard_sync_removes_codes_absent_from_inventory(server: Server, tmp_path: Path) -> None:
    _onboard(server, tmp_path, _inventory(tmp_path / "first.csv", ACTIVE[:10]))
    result = _onboard(server, tmp_path, _inventory(tmp_path / "second.csv", ACTIVE[5:12]), "--sync", "--yes")
    assert result.returncode == 0, result.stderr
    assert _registered(server) == set(ACTIVE[5:12])
    removed = [
        r["product_code"] for r in _report(tmp_path / "second.csv.report.csv") if r["outcome"] == "removed"
    ]
    assert sorted(removed) == sorted(ACTIVE[:5])


def test_onboard_without_product_code_column_exits_2(server: Server, tmp_path: Path) -> None:
    inventory = tmp_path / "inv.csv"
    inventory.write_text("sku,name\n1,Paracetamol\n", encoding="utf-8")
    result = _onboard(server, tmp_path, inventory)
    assert result.returncode == 2
    assert "product_code" in result.stderr


def test_pacer_never_exceeds_the_window_and_respects_earlier_use() -> None:
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    pacer = Pacer(clock=clock, sleep=sleep)
    sends: list[float] = []

    async def scenario() -> None:
        await pacer.acquire()
        sends.append(clock.now)
        # The server says 4 of 10 remain after our first request: 5 were used by someone else.
        pacer.observe(RateLimitState(limit=10, remaining=4, reset_after=4, window=10))
        for _ in range(40):
            await pacer.acquire()
            sends.append(clock.now)
            clock.advance(0.01)

    asyncio.run(scenario())
    assert len(sends) == 41
    # Only four more fit before the oldest of the others' requests leaves the window.
    assert sum(1 for t in sends if t < sends[0] + 4) == 5
    # And ours never exceed the limit in any window.
    for start in sends:
        assert sum(1 for t in sends if start <= t < start + 10) <= 10


def test_read_inventory_semicolon_csv_with_bom_is_accepted(tmp_path: Path) -> None:
    # The same file ``match`` and ``catalogue import`` accept: a Spanish-locale spreadsheet's export.
    inventory = tmp_path / "inv.csv"
    inventory.write_text("sku;product_code;precio\nSKU-1;MED-042;1,50\n;;\n", "utf-8-sig")
    read = onboard.read_inventory(inventory)
    assert read.columns == ["sku", "product_code", "precio"]
    assert read.code_column == "product_code"
    assert [(r.line, r.raw_code, r.columns) for r in read.rows] == [
        (2, "MED-042", {"sku": "SKU-1", "product_code": "MED-042", "precio": "1,50"})
    ]


def test_read_inventory_bad_json_line_is_named(tmp_path: Path) -> None:
    inventory = tmp_path / "inv.jsonl"
    inventory.write_text('{"product_code": "MED-042"}\n{"product_code": \n', "utf-8")
    with pytest.raises(onboard.InventoryError, match=r"line 2: invalid JSON"):
        onboard.read_inventory(inventory)


def test_code_pattern_is_the_servers() -> None:
    # The integrator side keeps its own copy so that it imports nothing from the server.
    assert onboard.CODE_PATTERN.pattern == CODE_PATTERN.pattern


# --- the run's rules, in-process against the app ---------------------------------------------------


@pytest.fixture
async def sdk(app: FastAPI, http: httpx.AsyncClient, make_client: Any) -> AsyncIterator[AsyncClient]:
    """The SDK client of a new provider, talking to the app in-process."""
    creds = await make_client()
    client = AsyncClient(
        base_url="http://testserver",
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        http_client=http,
    )
    yield client
    await client.aclose()


async def _run(
    sdk: AsyncClient,
    inventory: Path,
    *,
    answer: bool | None = None,
    asked: list[int] | None = None,
    **plan: Any,
) -> onboard.Summary:
    """Onboard ``inventory``; a removal confirmation is answered with ``answer`` (None: must not be asked)."""
    read = onboard.read_inventory(inventory)

    def confirm(count: int) -> bool:
        assert answer is not None, "asked to confirm"
        if asked is not None:
            asked.append(count)
        return answer

    return await onboard.onboard(
        sdk, onboard.Plan(inventory=inventory, **plan), read, confirm_removal=confirm
    )


async def _codes(sdk: AsyncClient) -> set[str]:
    return {p.product_code async for p in sdk.iter_provider_products()}


async def test_onboard_sync_without_confirmation_removes_nothing(sdk: AsyncClient, tmp_path: Path) -> None:
    await _run(sdk, _inventory(tmp_path / "first.csv", ACTIVE[:3]))
    asked: list[int] = []
    summary = await _run(
        sdk, _inventory(tmp_path / "second.csv", ACTIVE[:1]), sync=True, answer=False, asked=asked
    )
    assert asked == [2]
    assert await _codes(sdk) == set(ACTIVE[:3])
    assert "; 0 removed;" in summary.text
    assert summary.exit_code == 0


async def test_onboard_sync_confirmed_or_assumed_removes_absent_codes(
    sdk: AsyncClient, tmp_path: Path
) -> None:
    await _run(sdk, _inventory(tmp_path / "first.csv", ACTIVE[:4]))
    asked: list[int] = []
    await _run(sdk, _inventory(tmp_path / "second.csv", ACTIVE[:3]), sync=True, answer=True, asked=asked)
    assert asked == [1]
    assert await _codes(sdk) == set(ACTIVE[:3])
    summary = await _run(sdk, _inventory(tmp_path / "third.csv", ACTIVE[:1]), sync=True, assume_yes=True)
    assert await _codes(sdk) == set(ACTIVE[:1])
    assert "; 2 removed;" in summary.text
    removed = [r["product_code"] for r in _report(summary.report) if r["outcome"] == "removed"]
    assert sorted(removed) == sorted(ACTIVE[1:3])


async def test_onboard_failed_row_exits_1_and_a_finished_run_leaves_no_state(
    sdk: AsyncClient, tmp_path: Path
) -> None:
    inventory = _inventory(tmp_path / "inv.csv", [ACTIVE[0], "NOPE-1", "bad code"])
    summary = await _run(sdk, inventory)
    assert summary.exit_code == 1
    assert summary.report == tmp_path / "inv.csv.report.csv"
    # every row is counted, the invalid one included
    assert summary.text.startswith("3 rows: 1 invalid, 1 not_in_catalogue, 1 registered; ")
    assert {r["product_code"]: r["outcome"] for r in _report(summary.report)}["bad code"] == "invalid"
    # every row was settled: nothing to resume, so the next run starts from the server alone
    assert not (tmp_path / "inv.csv.onboard-state.jsonl").exists()


async def test_onboard_dry_run_keeps_no_state_file(sdk: AsyncClient, tmp_path: Path) -> None:
    summary = await _run(sdk, _inventory(tmp_path / "inv.csv", ACTIVE[:2]), dry_run=True, sync=True)
    assert summary.exit_code == 0
    assert not (tmp_path / "inv.csv.onboard-state.jsonl").exists()
    assert await _codes(sdk) == set()


# --- the server is the truth ---------------------------------------------------------------------


def _stale_state(inventory: Path, *records: tuple[str, str]) -> None:
    """Write the state file an interrupted run would have left."""
    state = inventory.with_name(inventory.name + ".onboard-state.jsonl")
    lines = [
        json.dumps({"code": code, "outcome": outcome, "error_code": None, "at": None})
        for code, outcome in records
    ]
    state.write_text("\n".join(lines) + "\n", "utf-8")


async def test_onboard_rerun_after_a_removal_registers_the_code_again(
    sdk: AsyncClient, tmp_path: Path
) -> None:
    inventory = _inventory(tmp_path / "inv.csv", ACTIVE[:3])
    await _run(sdk, inventory)
    await sdk.delete_provider_product(ACTIVE[1])
    summary = await _run(sdk, inventory)
    assert await _codes(sdk) == set(ACTIVE[:3])
    outcomes = {r["product_code"]: r["outcome"] for r in _report(summary.report)}
    assert outcomes == {
        ACTIVE[0]: "already_registered",
        ACTIVE[1]: "registered",
        ACTIVE[2]: "already_registered",
    }


async def test_onboard_state_saying_registered_is_not_trusted_over_the_server(
    sdk: AsyncClient, tmp_path: Path
) -> None:
    inventory = _inventory(tmp_path / "inv.csv", ACTIVE[:2])
    _stale_state(inventory, (ACTIVE[0].upper(), "registered"), (ACTIVE[1].upper(), "already_registered"))
    summary = await _run(sdk, inventory)
    assert await _codes(sdk) == set(ACTIVE[:2])
    assert {r["outcome"] for r in _report(summary.report)} == {"registered"}


async def test_onboard_rerun_after_a_catalogue_addition_registers_it(
    sdk: AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    inventory = _inventory(tmp_path / "inv.csv", [ACTIVE[0], "MED-NEW-1"])
    first = await _run(sdk, inventory)
    assert {r["product_code"]: r["outcome"] for r in _report(first.report)}["MED-NEW-1"] == "not_in_catalogue"
    # and even an interrupted run's memory of the 404 does not outweigh the catalogue now
    _stale_state(inventory, ("MED-NEW-1", "not_in_catalogue"))
    entries = importer.parse(
        '{"product_code": "MED-NEW-1", "product_type": "MEDICATION", "name": "Nuevo"}', "jsonl"
    )
    async with app.state.runtime.database.transaction(write=True) as conn:
        await importer.upsert(conn, entries)
    second = await _run(sdk, inventory)
    assert {r["product_code"]: r["outcome"] for r in _report(second.report)}["MED-NEW-1"] == "registered"
    assert "MED-NEW-1" in await _codes(sdk)
    assert second.exit_code == 0


def _counting(http: httpx.AsyncClient) -> list[str]:
    """Record every API request the SDK sends through ``http`` (token requests left out)."""
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        if not request.url.path.startswith("/v1/oauth"):
            seen.append(f"{request.method} {request.url.path}")

    http.event_hooks["request"].append(hook)
    return seen


async def test_onboard_dry_run_costs_one_lookup_per_500_codes_plus_the_list(
    sdk: AsyncClient, http: httpx.AsyncClient, tmp_path: Path
) -> None:
    codes = [*ACTIVE[:5], *(f"NOPE-{n}" for n in range(995))]
    seen = _counting(http)
    summary = await _run(sdk, _inventory(tmp_path / "inv.csv", codes), dry_run=True)
    assert seen == [
        "GET /arc/v1/providers/products",
        "POST /arc/v1/products/lookup",
        "POST /arc/v1/products/lookup",
    ]
    assert summary.counts == {"would_register": 5, "not_in_catalogue": 995}
    assert await _codes(sdk) == set()


async def test_onboard_dry_run_says_what_the_real_run_then_does_and_counts_add_up(
    sdk: AsyncClient, tmp_path: Path
) -> None:
    await sdk.register_product(ACTIVE[0])
    codes = [ACTIVE[0], ACTIVE[1], ACTIVE[1].lower(), "NOPE-1", INACTIVE[0], "bad code", "", ACTIVE[2]]
    inventory = _inventory(tmp_path / "inv.csv", codes)
    dry = await _run(sdk, inventory, dry_run=True)
    real = await _run(sdk, inventory)
    assert real.counts == {
        "already_registered": 1,
        "registered": 2,
        "duplicate": 1,
        "not_in_catalogue": 2,
        "invalid": 2,
    }
    as_real = {("registered" if k == "would_register" else k): v for k, v in dry.counts.items()}
    assert as_real == real.counts
    assert sum(real.counts.values()) == len(codes)
    assert real.text.startswith(f"{len(codes)} rows: 1 already_registered, 1 duplicate, 2 invalid, ")


async def test_onboard_report_is_written_when_the_run_fails(
    http: httpx.AsyncClient, make_client: Any, tmp_path: Path
) -> None:
    creds = await make_client()
    wrong = AsyncClient(
        base_url="http://testserver", client_id=creds.client_id, client_secret="wrong", http_client=http
    )
    inventory = _inventory(tmp_path / "inv.csv", ACTIVE[:2])
    with pytest.raises(errors.AuthenticationFailed):
        await _run(wrong, inventory)
    assert {r["outcome"] for r in _report(tmp_path / "inv.csv.report.csv")} == {"pending"}


def test_onboard_wrong_secret_is_one_line_and_exit_1(server: Server, tmp_path: Path) -> None:
    client_id, _ = _credentials(server)
    env = clean_env(base_url=server.base_url, client_id=client_id, client_secret="wrong")
    result = subprocess.run(
        [str(CLI), "onboard", str(_inventory(tmp_path / "inv.csv", ACTIVE[:2]))],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "refused the client id or secret" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "inv.csv.report.csv").exists()


@pytest.mark.parametrize("server", ["3/3 seconds"], indirect=True)
def test_onboard_without_a_terminal_says_it_waits_for_the_rate_limit(server: Server, tmp_path: Path) -> None:
    result = _onboard(server, tmp_path, _inventory(tmp_path / "inv.csv", ACTIVE[:4]), "--no-batch")
    assert result.returncode == 0, result.stderr
    assert re.search(r"waiting \d+ s for the rate limit", result.stdout), result.stdout
    assert "columns used: product_code='product_code'" in result.stderr
