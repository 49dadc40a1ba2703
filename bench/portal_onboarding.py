"""How long the portal takes to turn an uploaded inventory into a saved onboarding job, and register it.

One command, deterministic (``--seed``)::

    .venv/bin/python bench/portal_onboarding.py [--rows 2000] [--database-url postgresql://...]

Builds an ``.xlsx`` inventory of ``--rows`` rows named the way pharmacies write them (upper case,
abbreviated forms, squeezed units) from the sandbox catalogue's ACTIVE entries, then, on a fresh
database (SQLite in a temporary folder unless ``--database-url``, migrated and loaded with the
sandbox catalogue), times each step the upload route takes: reading the file, building the
matcher (once per catalogue revision), matching every row off the event loop, saving the job; then
registering every accepted row in batches. While matching runs a probe task sleeps 5 ms in a loop
and records its longest wake-up delay: how long the event loop was held at most.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import random
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

from provider_products.auth import service as auth_service
from provider_products.catalogue import importer
from provider_products.db import migrate
from provider_products.db.engine import Database
from provider_products.portal.onboarding import inventory, runner, service

_FORMS = {"Tableta": "TAB", "Cápsula": "CAP", "Jarabe": "JBE", "Solución inyectable": "SOL INY"}


def _written(name: str, rng: random.Random) -> str:
    """Write a catalogue name as an inventory might: capitals, short forms, units run together."""
    out = name
    for form, short in _FORMS.items():
        out = out.replace(form, short)
    out = out.replace(" mg", "MG").replace(" mL", "ML") if rng.random() < 0.5 else out
    return out.upper() if rng.random() < 0.7 else out


def workbook(rows: int, seed: int) -> bytes:
    """An .xlsx inventory of ``rows`` rows drawn from the sandbox catalogue."""
    rng = random.Random(seed)
    records = [json.loads(line) for line in importer.sandbox_catalogue().splitlines() if line.strip()]
    names = [r["name"] for r in records if r.get("status", "ACTIVE") == "ACTIVE"]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["SKU", "Descripción", "Existencias"])
    for number in range(rows):
        sheet.append([f"SKU-{number:05d}", _written(rng.choice(names), rng), rng.randint(1, 500)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def _probe(stop: asyncio.Event, worst: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        worst[0] = max(worst[0], time.perf_counter() - started - 0.005)


async def run(database: Database, data: bytes) -> dict[str, float]:
    """Time each step of an upload and its registration; return the figures in seconds."""
    figures: dict[str, float] = {}
    async with database.transaction(write=True) as conn:
        provider_id = await auth_service.create_provider(conn, slug="bench-farmacia", name="Bench")
    matchers = inventory.MatcherCache(database)
    started = time.perf_counter()
    await matchers.current()
    figures["build_matcher_s"] = time.perf_counter() - started

    stop, worst = asyncio.Event(), [0.0]
    probe = asyncio.create_task(_probe(stop, worst))
    started = time.perf_counter()
    upload = await asyncio.to_thread(inventory.read_upload, "inventario.xlsx", data)
    figures["read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    revision, matcher = await matchers.current()
    proposals = await inventory.propose_off_loop(matcher, upload.items)
    figures["match_s"] = time.perf_counter() - started
    stop.set()
    await probe
    figures["loop_held_max_ms"] = worst[0] * 1000
    started = time.perf_counter()
    async with database.transaction(write=True) as conn:
        job = await service.create_job(
            conn, provider_id=provider_id, upload=upload, proposals=proposals, catalogue_revision=revision
        )
    figures["save_s"] = time.perf_counter() - started
    figures["accepted_rows"] = job.progress.to_register
    registrations = runner.Registrations(database)
    started = time.perf_counter()
    assert await registrations.start(provider_id=provider_id, job_id=job.job_id)
    await registrations.wait()
    figures["register_s"] = time.perf_counter() - started
    return figures


async def main() -> None:
    """Parse the arguments, set the database up and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite, temporary)")
    args = parser.parse_args()
    data = workbook(args.rows, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        database = Database(args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}")
        await migrate.upgrade(database)
        await importer.import_content(database, importer.sandbox_catalogue(), "jsonl")
        try:
            figures = await run(database, data)
        finally:
            await database.dispose()
    print(f"{args.rows} rows, {len(data) / 1024:.0f} KiB .xlsx, backend {database.dialect}")
    for key, value in figures.items():
        print(f"  {key:18} {value:10.3f}")


if __name__ == "__main__":
    asyncio.run(main())
