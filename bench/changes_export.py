"""Catalogue export and change feed at scale: memory of ``catalogue export``, cost of feed pages.

For each ``--sizes`` N: generate N entries (``gen_catalogue``), import them into a fresh SQLite file
with the CLI, then

- run ``provider-products catalogue export -o FILE`` in a child process and record its wall time
  and peak RSS; the baseline, in the same run, is a child that reads the whole catalogue in one
  query and writes the same lines (what an export that holds the catalogue in memory costs);
- import a file that changes 3 entries, then time feed pages (``changes.changes_since``, the
  route's whole database work) against the catalogue's plain page by code at the same offsets
  (``repository.list_by_code``, the same rendering, plus a count), medians of repeated calls in this process.

Usage::

    .venv/bin/python bench/changes_export.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import gen_catalogue
from harness.stats import median
from provider_products.catalogue import changes, repository
from provider_products.catalogue.service import to_read
from provider_products.db.engine import Database
from provider_products.pagination import PageParams

CLI = Path(sys.executable).parent / "provider-products"

# Reads every entry in one query and writes the same lines: the in-memory way to export.
_WHOLE = """
import asyncio, sys, orjson
from provider_products.catalogue import changes
from provider_products.db.engine import Database

async def main():
    database = Database(sys.argv[1])
    async with database.transaction() as conn:
        rows = [e for page in [p async for p in changes.export_pages(conn, page_rows=10**9)] for e in page]
    with open(sys.argv[2], "wb") as out:
        out.write(b"".join(orjson.dumps(changes.export_record(e)) + b"\\n" for e in rows))
    await database.dispose()

asyncio.run(main())
"""


def _child(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a child process; return (wall seconds, peak RSS MiB) from its own rusage."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{args} failed: {process.stderr.read().decode() if process.stderr else ''}")
    return elapsed, usage.ru_maxrss / 1024


async def _timed(fn: Any, repeat: int) -> float:
    """Median milliseconds of ``repeat`` calls of the coroutine function ``fn``."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


async def _feed(url: str, size: int, repeat: int) -> dict[str, float]:
    database = Database(url)
    last = PageParams(page=(size - 1) // 200, size=200)
    first = PageParams(page=0, size=200)

    async def feed(since: int, params: PageParams) -> None:
        async with database.transaction() as conn:
            await changes.changes_since(conn, since_revision=since, params=params)

    async def plain(params: PageParams) -> None:
        async with database.transaction() as conn:
            rows = await repository.list_by_code(
                conn, product_type=None, limit=params.size, offset=params.offset
            )
            [to_read(r) for r in rows]
            await repository.count(conn)

    results = {
        "feed_3_changes_ms": await _timed(lambda: feed(1, first), repeat),
        "feed_nothing_new_ms": await _timed(lambda: feed(2, first), repeat),
        "feed_since_0_first_page_ms": await _timed(lambda: feed(0, first), repeat),
        "plain_first_page_ms": await _timed(lambda: plain(first), repeat),
        "feed_since_0_last_page_ms": await _timed(lambda: feed(0, last), max(3, repeat // 5)),
        "plain_last_page_ms": await _timed(lambda: plain(last), max(3, repeat // 5)),
    }
    await database.dispose()
    return results


def measure(size: int, workdir: Path, repeat: int) -> dict[str, Any]:
    """Build a catalogue of ``size`` entries and measure the export and the feed on it."""
    source = workdir / f"catalogue-{size}.jsonl"
    gen_catalogue.write(source, size)
    db = workdir / f"bench-{size}.db"
    url = f"sqlite:///{db}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PROVIDER_PRODUCTS_", "OTEL_"))}
    env["PROVIDER_PRODUCTS_DATABASE_URL"] = url
    subprocess.run([str(CLI), "catalogue", "import", str(source)], env=env, check=True, capture_output=True)
    exported = workdir / f"export-{size}.jsonl"
    export_s, export_mib = _child([str(CLI), "catalogue", "export", "-o", str(exported)], env)
    whole = workdir / f"whole-{size}.jsonl"
    whole_s, whole_mib = _child([sys.executable, "-c", _WHOLE, url, str(whole)], env)
    if exported.read_bytes() != whole.read_bytes():
        raise RuntimeError("the export and the one-query baseline differ")
    lines = exported.read_text("utf-8").splitlines()[:3]
    changed = workdir / "changed.jsonl"
    renamed = [{**json.loads(line), "name": json.loads(line)["name"] + " (nuevo)"} for line in lines]
    changed.write_text("".join(json.dumps(r) + "\n" for r in renamed), encoding="utf-8")
    subprocess.run([str(CLI), "catalogue", "import", str(changed)], env=env, check=True, capture_output=True)
    feed = asyncio.run(_feed(url, size, repeat))
    for path in (source, exported, whole, db):
        path.unlink()
    return {
        "size": size,
        "export_s": round(export_s, 2),
        "export_peak_rss_mib": round(export_mib, 1),
        "one_query_s": round(whole_s, 2),
        "one_query_peak_rss_mib": round(whole_mib, 1),
        **{k: round(v, 3) for k, v in feed.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the measurements and print one JSON object per size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=25, help="calls per timed feed page")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pp-changes-") as tmp:
        for size in args.sizes:
            print(json.dumps(measure(size, Path(tmp), args.repeat)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
