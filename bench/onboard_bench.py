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
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib

LIMIT_PER_MINUTE = 600
ROWS = 2000
PRE_REGISTERED = 50
UNKNOWN = 20
MALFORMED = 10


def _client(env: dict[str, str], slug: str) -> benchlib.Credentials:
    """Create a provider and a client that has the server's default limit."""
    benchlib.run_cli(["providers", "create", slug, "--name", slug], env, timeout=60)
    data = json.loads(
        benchlib.run_cli(["clients", "create", "--provider", slug, "--json"], env).splitlines()[-1]
    )
    return benchlib.Credentials(slug, data["client_id"], data["client_secret"])


def _registered(base_url: str, credentials: benchlib.Credentials) -> set[str]:
    token = benchlib.get_token(base_url, credentials)
    codes: set[str] = set()
    page, pages = 0, 1
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        while page < pages:
            body = http.get(
                f"{base_url}/arc/v1/providers/products", params={"size": 200, "page": page}
            ).json()
            codes |= {i["product_code"] for i in body["content"]}
            pages = body["page"]["total_pages"]
            page += 1
    return codes


def _pre_register(base_url: str, credentials: benchlib.Credentials, codes: list[str]) -> None:
    token = benchlib.get_token(base_url, credentials)
    response = httpx.post(
        f"{base_url}/arc/v1/providers/products/batch",
        json={"product_codes": codes},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    assert response.json()["counts"]["registered"] == len(codes)


def _onboard(base_url: str, credentials: benchlib.Credentials, inventory: Path, *args: str) -> dict[str, Any]:
    env = benchlib.service_env(Path("unused.db"))
    env.update(
        PROVIDER_PRODUCTS_BASE_URL=base_url,
        PROVIDER_PRODUCTS_CLIENT_ID=credentials.client_id,
        PROVIDER_PRODUCTS_CLIENT_SECRET=credentials.client_secret,
    )
    started = time.perf_counter()
    done = subprocess.run(
        [benchlib.cli_path(), "onboard", str(inventory), *args],
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


def main() -> None:
    """Run both onboardings and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalogue-size", type=int, default=5000)
    args = parser.parse_args()
    benchlib.exit_cleanly_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="pp-bench-onboard-") as tmp:
        work = Path(tmp)
        catalogue = work / "catalogue.jsonl"
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("gen_catalogue.py")),
                "--size",
                str(args.catalogue_size),
                "--out",
                str(catalogue),
            ],
            check=True,
            capture_output=True,
        )
        active = [
            r["product_code"]
            for r in map(json.loads, catalogue.read_text("utf-8").splitlines())
            if r["status"] == "ACTIVE"
        ]
        valid = active[: ROWS - UNKNOWN - MALFORMED]
        codes = [
            *valid,
            *(f"NOT-IN-CATALOGUE-{n}" for n in range(UNKNOWN)),
            *(f"bad code {n}" for n in range(MALFORMED)),
        ]
        inventory = work / "inventory.csv"
        with inventory.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sku", "product_code"])
            writer.writerows([f"SKU-{n}", code] for n, code in enumerate(codes))

        env = benchlib.service_env(work / "service.db")
        env["PROVIDER_PRODUCTS_RATE_LIMIT"] = f"{LIMIT_PER_MINUTE}/minute"
        benchlib.import_catalogue(env, catalogue)
        results: dict[str, Any] = {
            "machine": benchlib.machine_info(),
            "rows": ROWS,
            "limit": LIMIT_PER_MINUTE,
        }
        with benchlib.Server(env, work / "server.log") as server:
            for mode, extra in (("single calls", ["--no-batch"]), ("batch", [])):
                slug = "pharmacy-single" if extra else "pharmacy-batch"
                setup = _client(env, slug)
                _pre_register(server.base_url, setup, valid[:PRE_REGISTERED])
                # A second client of the same provider: the setup requests do not count against it.
                onboarding = _second_client(env, slug)
                outcome = _onboard(
                    server.base_url,
                    onboarding,
                    inventory,
                    "--report",
                    str(work / f"{slug}.csv"),
                    "--state",
                    str(work / f"{slug}.state"),
                    *extra,
                )
                final = _registered(server.base_url, onboarding)
                outcome["exact_final_state"] = final == set(valid)
                outcome["floor_seconds"] = round(outcome["requests"] * 60 / LIMIT_PER_MINUTE, 1)
                outcome["ratio_to_floor"] = round(outcome["seconds"] / outcome["floor_seconds"], 3)
                results[mode] = outcome
    single, batch = results["single calls"], results["batch"]
    markdown = (
        f"# Onboarding {ROWS} rows at {LIMIT_PER_MINUTE}/minute\n\n"
        + benchlib.md_table(
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
    benchlib.write_results("onboard", results, markdown)
    print(markdown)


def _second_client(env: dict[str, str], slug: str) -> benchlib.Credentials:
    """Another client of an existing provider (its own, untouched rate-limit window)."""
    data = json.loads(
        benchlib.run_cli(["clients", "create", "--provider", slug, "--json"], env).splitlines()[-1]
    )
    return benchlib.Credentials(slug, data["client_id"], data["client_secret"])


if __name__ == "__main__":
    main()
