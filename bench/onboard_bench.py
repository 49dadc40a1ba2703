"""Onboarding benchmark: 2,000 inventory rows against a server limited to 600 requests a minute.

The inventory has 1,970 catalogue codes (50 of them registered beforehand), 20 codes that are not
in the catalogue and 10 malformed ones. It is onboarded twice, each time for a fresh provider:
with single calls (``--no-batch``), whose floor is R / 600 minutes for the R requests it makes,
and with the batch extension. Both runs must end in exactly the expected registrations with no
429 answer.

Usage::

    .venv/bin/python bench/onboard_bench.py            # about 4 minutes
"""

from __future__ import annotations

import argparse
import csv
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

import gen_catalogue
from harness import admin, api, lifecycle
from harness.results import machine_info, md_table, write_results
from harness.server import Server

LIMIT_PER_MINUTE = 600
ROWS = 2000
PRE_REGISTERED = 50
UNKNOWN = 20
MALFORMED = 10


def _onboard(base_url: str, credentials: admin.Credentials, inventory: Path, *args: str) -> dict[str, Any]:
    env = admin.sqlite_env(Path("unused.db"))
    env.update(
        PROVIDER_PRODUCTS_BASE_URL=base_url,
        PROVIDER_PRODUCTS_CLIENT_ID=credentials.client_id,
        PROVIDER_PRODUCTS_CLIENT_SECRET=credentials.client_secret,
    )
    started = time.perf_counter()
    done = subprocess.run(
        [admin.cli_path(), "onboard", str(inventory), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.perf_counter() - started
    summary = re.search(r"; (\d+) requests, (\d+) answered 429", done.stdout)
    if summary is None:
        raise RuntimeError(f"onboard failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return {
        "seconds": round(seconds, 1),
        "exit_code": done.returncode,
        "requests": int(summary.group(1)),
        "answered_429": int(summary.group(2)),
        "summary": done.stdout.strip().splitlines()[0],
    }


def _inventory(path: Path, valid: list[str]) -> None:
    """Write the inventory: the valid codes, then codes not in the catalogue, then malformed ones."""
    codes = [
        *valid,
        *(f"NOT-IN-CATALOGUE-{n}" for n in range(UNKNOWN)),
        *(f"bad code {n}" for n in range(MALFORMED)),
    ]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "product_code"])
        writer.writerows([f"SKU-{n}", code] for n, code in enumerate(codes))


def _run_mode(
    server: Server, env: dict[str, str], work: Path, valid: list[str], extra: list[str]
) -> dict[str, Any]:
    """Onboard the inventory for a fresh provider that already holds some of it; check the end state."""
    slug = "pharmacy-single" if extra else "pharmacy-batch"
    setup = admin.create_client(env, slug, rate_limit=None)
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        api.register_batch(http, api.get_token(server.base_url, setup), valid[:PRE_REGISTERED])
    # A second client of the same provider: the setup requests do not count against it.
    onboarding = admin.add_client(env, slug, rate_limit=None)
    outcome = _onboard(
        server.base_url,
        onboarding,
        work / "inventory.csv",
        *("--report", str(work / f"{slug}.csv"), "--state", str(work / f"{slug}.state")),
        *extra,
    )
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        final = api.list_registered(http, api.get_token(server.base_url, onboarding))
    outcome["exact_final_state"] = final == set(valid)
    outcome["floor_seconds"] = round(outcome["requests"] * 60 / LIMIT_PER_MINUTE, 1)
    outcome["ratio_to_floor"] = round(outcome["seconds"] / outcome["floor_seconds"], 3)
    return outcome


def render(results: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    single, batch = results["single calls"], results["batch"]
    return (
        f"# Onboarding {ROWS} rows at {LIMIT_PER_MINUTE}/minute\n\n"
        + md_table(
            ["mode", "seconds", "requests R", "floor R/600 min (s)", "ratio", "429s", "exact final state"],
            [
                [
                    m,
                    r["seconds"],
                    r["requests"],
                    r["floor_seconds"],
                    r["ratio_to_floor"],
                    r["answered_429"],
                    r["exact_final_state"],
                ]
                for m, r in (("single calls", single), ("batch", batch))
            ],
        )
        + f"\nsingle calls within 5% of the floor: {single['ratio_to_floor'] <= 1.05}; "
        f"batch under 10 s: {batch['seconds'] < 10}\n"
    )


def main(argv: list[str] | None = None) -> int:
    """Run both onboardings and write the report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--catalogue-size", type=int, default=5000)
    args = parser.parse_args(argv)
    lifecycle.exit_cleanly_on_sigterm()
    with lifecycle.workdir("pp-bench-onboard-") as work:
        catalogue = work / "catalogue.jsonl"
        gen_catalogue.write(catalogue, args.catalogue_size)
        active = [
            r["product_code"] for r in gen_catalogue.rows(args.catalogue_size) if r["status"] == "ACTIVE"
        ]
        valid = active[: ROWS - UNKNOWN - MALFORMED]
        _inventory(work / "inventory.csv", valid)
        env = admin.sqlite_env(work / "service.db")
        env["PROVIDER_PRODUCTS_RATE_LIMIT"] = f"{LIMIT_PER_MINUTE}/minute"
        admin.import_catalogue(env, catalogue)
        results: dict[str, Any] = {"machine": machine_info(), "rows": ROWS, "limit": LIMIT_PER_MINUTE}
        with Server(env, work / "server.log") as server:
            for mode, extra in (("single calls", ["--no-batch"]), ("batch", [])):
                results[mode] = _run_mode(server, env, work, valid, extra)
    markdown = render(results)
    write_results("onboard", results, markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
