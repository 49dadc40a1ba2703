"""Time and size the in-process catalogue search index (``catalogue/index.py::Snapshot``) directly.

The server builds this index when it starts (and again whenever the catalogue's revision changes);
this script does exactly what ``SearchIndex.current`` does, in this process, and measures each part::

    .venv/bin/python bench/index_build.py --size 120000            # generate, import into SQLite, measure
    .venv/bin/python bench/index_build.py --database-url postgresql://postgres@127.0.0.1/pp_bench_scale

Reported: the time to read the index rows from the database (``repository.index_rows``), the time to
build the ``Snapshot`` (median of ``--repeat`` builds), this process's resident memory (RSS) before
the read, after it, after the build, and after the rows are dropped (the index alone), plus the
peak (VmHWM, reset before the read); and the in-process cost of a few searches on the snapshot
(no HTTP, no database). Results go to bench/out/index-*.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gen_catalogue
from harness import OUT_DIR, admin, lifecycle, procfs, stats
from harness.results import machine_info, md_table, publish

# (label, words, product_type): what run_search.py and scale_pg.py send, as the service parses it.
SEARCHES: list[tuple[str, list[str], str | None]] = [
    ("medications: acetaminofen 500", ["acetaminofen", "500"], "MEDICATION"),
    ("products: resonancia magnetica", ["resonancia", "magnetica"], None),
    ("products: xilofono cuantico (no match)", ["xilofono", "cuantico"], None),
    ("products: med s (type-ahead, about a quarter)", ["med", "s"], None),
    ("products: tableta mg (broad)", ["tableta", "mg"], None),
]


def _reset_peak_rss() -> bool:
    """Reset VmHWM (Linux ``clear_refs`` value 5); say whether it worked."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class IndexMeasurement:
    """What one measurement found."""

    entries: int
    fetch_seconds: float
    build_seconds: list[float]
    rss_mib: dict[str, float]
    searches: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the JSON report."""
        return {
            "entries": self.entries,
            "fetch_seconds": self.fetch_seconds,
            "build_seconds": self.build_seconds,
            "build_seconds_median": stats.median(self.build_seconds),
            "rss_mib": self.rss_mib,
            "searches": self.searches,
        }


async def _fetch(database_url: str) -> tuple[int, list[tuple[int, str, str, str, str]], float]:
    from provider_products.catalogue import repository
    from provider_products.db.engine import Database

    database = Database(database_url)
    try:
        started = time.perf_counter()
        async with database.transaction() as conn:
            revision = await repository.revision(conn)
            rows = await repository.index_rows(conn)
        return revision, rows, time.perf_counter() - started
    finally:
        await database.dispose()


def measure(database_url: str, *, repeat: int = 3, search_rounds: int = 50) -> IndexMeasurement:
    """Read the index rows from ``database_url``, build the snapshot ``repeat`` times, measure."""
    from provider_products.catalogue.index import Snapshot

    gc.collect()
    rss: dict[str, float] = {"before_fetch": procfs.status_mib("self", "VmRSS")}
    peak_reset = _reset_peak_rss()
    revision, rows, fetch_seconds = asyncio.run(_fetch(database_url))
    gc.collect()
    rss["after_fetch"] = procfs.status_mib("self", "VmRSS")
    builds: list[float] = []
    snapshot: Snapshot | None = None
    for _ in range(max(1, repeat)):
        snapshot = None
        gc.collect()
        started = time.perf_counter()
        snapshot = Snapshot.build(revision, rows)
        builds.append(time.perf_counter() - started)
    assert snapshot is not None
    gc.collect()
    rss["after_build"] = procfs.status_mib("self", "VmRSS")
    del rows
    gc.collect()
    rss["index_only"] = procfs.status_mib("self", "VmRSS")
    rss["peak"] = procfs.status_mib("self", "VmHWM") if peak_reset else math.nan
    searches = []
    for label, words, product_type in SEARCHES:
        kwargs: dict[str, Any] = {"product_type": product_type, "code_key": " ".join(words).upper()}
        started = time.perf_counter()
        hits = snapshot.search(words, offset=0, limit=15, **kwargs)
        cold = time.perf_counter() - started
        warm: list[float] = []
        for _ in range(search_rounds):
            started = time.perf_counter()
            snapshot.search(words, offset=0, limit=15, **kwargs)
            warm.append(time.perf_counter() - started)
        last_page = max(0, (hits.total - 1) // 15) * 15
        started = time.perf_counter()
        snapshot.search(words, offset=last_page, limit=15, **kwargs)
        last = time.perf_counter() - started
        searches.append(
            {
                "search": label,
                "matches": hits.total,
                "cold_ms": cold * 1000,
                "warm_p50_ms": stats.percentile(warm, 50) * 1000,
                "warm_p95_ms": stats.percentile(warm, 95) * 1000,
                "last_page_ms": last * 1000,
            }
        )
    return IndexMeasurement(len(snapshot), fetch_seconds, builds, rss, searches)


def render(data: dict[str, Any]) -> str:
    """Render one measurement as Markdown."""
    m = data["result"]
    rss = m["rss_mib"]
    lines = [
        f"# Search index build ({data['machine']['date_utc']})\n",
        f"{m['entries']:,} entries from `{data['config']['database']}`.\n",
        md_table(
            [
                "read rows s",
                "build s (median; each)",
                "RSS before read",
                "after read",
                "after build",
                "index only",
                "peak",
            ],
            [
                [
                    f"{m['fetch_seconds']:.2f}",
                    f"**{m['build_seconds_median']:.2f}** "
                    f"({', '.join(f'{s:.2f}' for s in m['build_seconds'])})",
                    *(f"{rss[k]:,.0f} MiB" for k in ("before_fetch", "after_fetch", "after_build")),
                    f"**{rss['index_only']:,.0f} MiB**",
                    f"{rss['peak']:,.0f} MiB",
                ]
            ],
        ),
        "\nIn-process search on the snapshot (no HTTP, no database; page of 15):\n",
        md_table(
            ["search", "matches", "first (cold) ms", "repeated p50 / p95 ms", "last page ms"],
            [
                [
                    s["search"],
                    f"{s['matches']:,}",
                    f"{s['cold_ms']:.2f}",
                    f"{s['warm_p50_ms']:.3f} / {s['warm_p95_ms']:.3f}",
                    f"{s['last_page_ms']:.2f}",
                ]
                for s in m["searches"]
            ],
        ),
        "\n'index only' is the RSS after the rows were dropped: the index plus the interpreter and the "
        "imported modules (see 'before read'); CPython does not always give freed memory back, so it is "
        "an upper bound.\n",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Prepare (or use) a database, measure, report."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--size", type=int, help="generate and import a catalogue of this size into SQLite")
    source.add_argument(
        "--database-url", help="measure an existing database (sqlite:///... or postgresql://...)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="snapshot builds to time (default 3)")
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED, help="catalogue seed")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    if args.size is not None and args.size < 1:
        parser.error("--size must be positive")
    lifecycle.exit_cleanly_on_sigterm()
    machine = machine_info()
    with lifecycle.workdir("pp-bench-index-") as work:
        if args.size is not None:
            catalogue = work / "catalogue.jsonl"
            gen_catalogue.write(catalogue, args.size, args.seed)
            env = admin.sqlite_env(work / "index.db")
            print(f"importing {args.size:,} entries...", file=sys.stderr)
            admin.import_catalogue(env, catalogue)
            url, label = env["PROVIDER_PRODUCTS_DATABASE_URL"], f"SQLite, generated {args.size:,}"
        else:
            url, label = args.database_url, args.database_url
        result = measure(url, repeat=args.repeat)
    data = {
        "config": {"database": label, "repeat": args.repeat},
        "machine": machine,
        "result": result.as_dict(),
    }
    publish("index", data, render(data), args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
