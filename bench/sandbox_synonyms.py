"""What the sandbox catalogue's synonyms cost: search index and matcher, baseline file against current file.

One command, nothing written outside bench/out/::

    .venv/bin/python bench/sandbox_synonyms.py                  # baseline: the file on git ref main
    .venv/bin/python bench/sandbox_synonyms.py --baseline-ref 0af8119
    .venv/bin/python bench/sandbox_synonyms.py --baseline-file old.jsonl

Both catalogues are parsed with the importer (so a file the import would refuse fails here too) and
measured in the same process, alternating baseline and current in every round so that machine noise
falls on both alike. Measured, per catalogue:

* the in-process search index (``catalogue/index.py::Snapshot``): build time (median of ``--builds``)
  and the latency of a fixed list of searches (medians and p95 over ``--rounds`` shuffled rounds), with
  the number of matches of each;
* the inventory matcher (``onboarding.match.Matcher``) over the ACTIVE entries: build time, and the
  time per row of matching every ACTIVE entry's own name written the way inventories write it (upper
  case, accents dropped; median of ``--matcher-rounds``), with the share of rows whose top candidate is
  the entry itself.

Results: printed, and written to bench/out/synonyms-<UTC timestamp>.json and .md (+ synonyms-latest.*).
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness import BENCH_DIR, OUT_DIR, stats
from harness.results import machine_info, md_table, publish
from provider_products.catalogue import importer, text
from provider_products.catalogue.index import Row, Snapshot
from provider_products_client.onboarding.match import InventoryItem, Matcher, catalogue_entries

SANDBOX = "src/provider_products/catalogue/data/sandbox.jsonl"

# (label, words, product_type): the service's parsed form of a query.
SEARCHES: list[tuple[str, list[str], str | None]] = [
    ("medications: acetaminofen 500", ["acetaminofen", "500"], "MEDICATION"),
    ("medications: losec (brand)", ["losec"], "MEDICATION"),
    ("medications: amoxicillin (English INN)", ["amoxicillin"], "MEDICATION"),
    ("products: ecografia abdominal", ["ecografia", "abdominal"], None),
    ("products: resonancia magnetica", ["resonancia", "magnetica"], None),
    ("products: rx torax", ["rx", "torax"], None),
    ("products: vacuna", ["vacuna"], None),
    ("products: a (type-ahead, broad)", ["a"], None),
    ("products: tableta mg (broad)", ["tableta", "mg"], None),
    ("products: xilofono cuantico (no match)", ["xilofono", "cuantico"], None),
]


def baseline_text(args: argparse.Namespace) -> str:
    """Return the baseline catalogue: a file, or the bundled file as it is on a git ref."""
    if args.baseline_file:
        return Path(args.baseline_file).read_text(encoding="utf-8")
    shown = subprocess.run(
        ["git", "show", f"{args.baseline_ref}:{SANDBOX}"],
        cwd=BENCH_DIR.parent,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return shown.stdout


def index_rows(content: str) -> list[Row]:
    """Return the rows ``Snapshot`` indexes, computed from the file as the importer stores them."""
    rows: list[Row] = []
    for number, entry in enumerate(importer.parse(content, "jsonl"), start=1):
        ingredient = entry.active_ingredient if entry.product_type == "MEDICATION" else None
        rows.append(
            (
                number,
                entry.product_code.upper(),
                entry.product_type,
                text.name_key(entry.name),
                text.search_text(entry.product_code, entry.name, ingredient),
                [s.model_dump() for s in entry.synonyms],
            )
        )
    return rows


def inventory_name(name: str) -> str:
    """Write a catalogue name the way inventories do: upper case, no accents."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).upper()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` once; return its value and the seconds it took."""
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


class Side:
    """One catalogue under measurement and what was measured on it."""

    def __init__(self, label: str, content: str) -> None:
        self.label = label
        self.rows = index_rows(content)
        self.records = [r.model_dump() for r in importer.parse(content, "jsonl")]
        self.synonyms = sum(len(r[5]) for r in self.rows)
        self.builds: list[float] = []
        self.search_ms: dict[str, list[float]] = {label: [] for label, _, _ in SEARCHES}
        self.matches: dict[str, int] = {}
        self.snapshot = Snapshot(1, self.rows)
        self.matcher_builds: list[float] = []
        self.matcher_row_ms: list[float] = []
        self.self_top1 = 0.0

    def build_index(self) -> None:
        """Build one snapshot and record the time."""
        self.snapshot, seconds = timed(lambda: Snapshot(1, self.rows))
        self.builds.append(seconds)

    def search(self, label: str, words: list[str], product_type: str | None) -> None:
        """Time one search on the current snapshot."""
        code_key = " ".join(words).upper()
        hits, seconds = timed(
            lambda: self.snapshot.search(
                words, product_type=product_type, code_key=code_key, offset=0, limit=15
            )
        )
        self.search_ms[label].append(seconds * 1000)
        self.matches[label] = hits.total

    def match_all(self) -> None:
        """Build a matcher and match every ACTIVE entry's inventory-style name; record the times."""
        entries = catalogue_entries(self.records)
        matcher, seconds = timed(lambda: Matcher(entries))
        self.matcher_builds.append(seconds)
        items = [InventoryItem(line=n, name=inventory_name(e.name)) for n, e in enumerate(entries, start=2)]
        found, seconds = timed(lambda: [matcher.candidates(item, top=1) for item in items])
        self.matcher_row_ms.append(seconds * 1000 / len(items))
        right = sum(
            1 for e, c in zip(entries, found, strict=True) if c and c[0].product_code == e.product_code
        )
        self.self_top1 = 100 * right / len(entries)


def measure(sides: Sequence[Side], args: argparse.Namespace) -> None:
    """Alternate the sides in every round of every measurement."""
    rng = random.Random(args.seed)
    for _ in range(args.builds):
        for side in sides:
            side.build_index()
    for _ in range(args.rounds):
        order = list(SEARCHES)
        rng.shuffle(order)
        for label, words, product_type in order:
            for side in sides:
                side.search(label, words, product_type)
    for _ in range(args.matcher_rounds):
        for side in sides:
            side.match_all()


def report(sides: Sequence[Side], args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """Return the JSON report and its Markdown."""
    base, current = sides
    overview = [
        ("entries", len(base.rows), len(current.rows), ""),
        ("synonyms", base.synonyms, current.synonyms, f"{stats.ratio(current.synonyms, base.synonyms):.2f}x"),
    ]
    for name, a, b in [
        ("index build, median ms", base.builds, current.builds),
        ("matcher build, median ms", base.matcher_builds, current.matcher_builds),
        ("matcher, median ms per row", base.matcher_row_ms, current.matcher_row_ms),
    ]:
        scale = 1 if "per row" in name else 1000
        ma, mb = stats.median(a) * scale, stats.median(b) * scale
        overview.append((name, f"{ma:.2f}", f"{mb:.2f}", f"{stats.ratio(mb, ma):.2f}x"))
    overview.append(
        ("matcher, own name is top 1 (%)", f"{base.self_top1:.1f}", f"{current.self_top1:.1f}", "")
    )
    searches = []
    for label, _, _ in SEARCHES:
        pa, pb = stats.median(base.search_ms[label]), stats.median(current.search_ms[label])
        searches.append(
            (
                label,
                base.matches[label],
                current.matches[label],
                f"{pa:.3f}",
                f"{pb:.3f}",
                f"{stats.percentile(base.search_ms[label], 95):.3f}",
                f"{stats.percentile(current.search_ms[label], 95):.3f}",
                f"{stats.ratio(pb, pa):.2f}x",
            )
        )
    markdown = (
        f"# Sandbox synonyms: {base.label} against {current.label}\n\n"
        + md_table(["measure", base.label, current.label, "ratio"], overview)
        + f"\nSearch on the in-process index, {args.rounds} rounds (ms):\n\n"
        + md_table(
            [
                "search",
                "matches (base)",
                "matches (now)",
                "p50 base",
                "p50 now",
                "p95 base",
                "p95 now",
                "p50 ratio",
            ],
            searches,
        )
    )
    data = {
        "machine": machine_info(),
        "args": {k: v for k, v in vars(args).items() if k != "out_dir"},
        "sides": [
            {
                "label": s.label,
                "entries": len(s.rows),
                "synonyms": s.synonyms,
                "index_build_seconds": s.builds,
                "search_ms": s.search_ms,
                "matches": s.matches,
                "matcher_build_seconds": s.matcher_builds,
                "matcher_ms_per_row": s.matcher_row_ms,
                "matcher_self_top1_pct": s.self_top1,
            }
            for s in sides
        ],
    }
    return data, markdown


def main(argv: list[str] | None = None) -> int:
    """Measure both catalogues and publish the comparison."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline-ref", default="main", help="git ref whose bundled file is the baseline")
    parser.add_argument("--baseline-file", help="a JSON Lines catalogue to use as the baseline instead")
    parser.add_argument("--builds", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--matcher-rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    base_label = Path(args.baseline_file).name if args.baseline_file else args.baseline_ref
    sides = [Side(base_label, baseline_text(args)), Side("current", importer.sandbox_catalogue())]
    measure(sides, args)
    data, markdown = report(sides, args)
    publish("synonyms", data, markdown, args.out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
