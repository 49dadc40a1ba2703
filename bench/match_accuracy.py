"""Accuracy and speed of inventory matching (``provider_products_client.onboarding.match``), labelled sample.

One command, deterministic (``--seed``)::

    .venv/bin/python bench/match_accuracy.py

The sample is built from the bundled sandbox catalogue: 600 medications and 200 labs, imaging
studies and procedures (ACTIVE entries, drawn without replacement), each renamed the way pharmacy
and clinic inventories write names, with one kind of variation per row so that every kind gets its
own accuracy (``combined`` stacks two to four kinds, the usual messy row). The label is the entry's
own product_code. The matcher indexes the whole ACTIVE catalogue; every row gives only ``name``.

A second, smaller sample measures what happens to products the catalogue does not have: 100 other
entries are removed from the catalogue and looked for under ``combined`` names; a good matcher
leaves their product_code empty (score below the acceptance threshold).

``--scale-size N`` (default 100000, 0 to skip) also times the matcher on a catalogue of N generated
entries (bench/gen_catalogue.py), with ``combined`` names of its own entries as the rows.

Results: printed, and written to bench/out/match-<UTC timestamp>.json and .md (+ match-latest.*).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import match_real
from harness import BENCH_DIR, OUT_DIR
from harness.results import write_results
from match_variations import KINDS, MED_ONLY, vary
from provider_products_client.onboarding.match import (
    ACCEPT_SCORE,
    Candidate,
    CatalogueEntry,
    InventoryItem,
    Matcher,
    accepted,
    catalogue_entries,
)

DEFAULT_SEED = 20261127
TOP = 3

# --- sample and run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """A labelled inventory row."""

    kind: str
    group: str  # MEDICATION or SERVICE
    label: str
    original: str
    name: str


def sandbox_records() -> list[dict[str, Any]]:
    """Return the bundled catalogue's rows."""
    text = (resources.files("provider_products.catalogue") / "data" / "sandbox.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def build_sample(
    entries: Sequence[CatalogueEntry], rng: random.Random, medications: int, services: int
) -> tuple[list[Row], set[str]]:
    """Draw entries without replacement and rename each with one kind of variation."""
    meds = [e for e in entries if e.product_type == "MEDICATION"]
    others = [e for e in entries if e.product_type != "MEDICATION"]
    chosen_meds = rng.sample(meds, min(medications, len(meds)))
    chosen_others = rng.sample(others, min(services, len(others)))
    rows: list[Row] = []
    for group, chosen in (("MEDICATION", chosen_meds), ("SERVICE", chosen_others)):
        kinds = [k for k in KINDS if group == "MEDICATION" or k not in MED_ONLY]
        schedule = [kinds[i % len(kinds)] for i in range(len(chosen))]
        rng.shuffle(schedule)
        for entry, kind in zip(chosen, schedule, strict=True):
            name = vary(kind, entry.name, rng, group == "MEDICATION")
            rows.append(Row(kind, group, entry.product_code, entry.name, name))
    return rows, {e.product_code for e in (*chosen_meds, *chosen_others)}


@dataclass(frozen=True)
class Outcome:
    """What the matcher proposed for one row."""

    codes: list[str]  # candidate codes, best first
    scores: list[float]
    filled: str | None  # the product_code write_proposals would write


def run(
    matcher: Matcher, rows: Sequence[Row], accept_score: float = ACCEPT_SCORE
) -> tuple[list[Outcome], float]:
    """Match every row; return the outcomes and the seconds spent matching."""
    found_all: list[list[Candidate]] = []
    started = time.perf_counter()
    for number, row in enumerate(rows, start=2):
        found_all.append(matcher.candidates(InventoryItem(line=number, name=row.name), top=TOP))
    seconds = time.perf_counter() - started
    outcomes = []
    for found in found_all:
        chosen = accepted(found, accept_score=accept_score)
        outcomes.append(
            Outcome(
                [c.product_code for c in found],
                [c.score for c in found],
                chosen.product_code if chosen else None,
            )
        )
    return outcomes, seconds


def pct(part: int, whole: int) -> float:
    """Percentage, 0 for an empty whole."""
    return 100.0 * part / whole if whole else 0.0


def summarise(rows: Sequence[Row], outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Top-1/top-3 accuracy and how often product_code is filled (rightly or not), overall and per kind."""
    buckets: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        buckets["all"].append(i)
        buckets[f"kind:{row.kind}"].append(i)
        buckets[f"group:{row.group}"].append(i)
    out: dict[str, Any] = {}
    for name, members in buckets.items():
        top1 = sum(1 for i in members if outcomes[i].codes[:1] == [rows[i].label])
        top3 = sum(1 for i in members if rows[i].label in outcomes[i].codes[:TOP])
        filled = [i for i in members if outcomes[i].filled is not None]
        wrong = sum(1 for i in filled if outcomes[i].filled != rows[i].label)
        out[name] = {
            "rows": len(members),
            "top1": pct(top1, len(members)),
            "top3": pct(top3, len(members)),
            "filled": pct(len(filled), len(members)),
            "filled_wrong": pct(wrong, len(members)),
        }
    return out


def sweep(
    matcher: Matcher, rows: Sequence[Row], without: Matcher, absent_rows: Sequence[Row]
) -> list[dict[str, float]]:
    """Filled-right, filled-wrong and absent-filled shares for several acceptance thresholds."""
    table = []
    for threshold in (60.0, 70.0, 75.0, 80.0, 85.0, 90.0):
        outcomes, _ = run(matcher, rows, threshold)
        absent, _ = run(without, absent_rows, threshold)
        right = sum(1 for r, o in zip(rows, outcomes, strict=True) if o.filled == r.label)
        wrong = sum(1 for r, o in zip(rows, outcomes, strict=True) if o.filled not in (None, r.label))
        table.append(
            {
                "threshold": threshold,
                "filled_right": pct(right, len(rows)),
                "filled_wrong": pct(wrong, len(rows)),
                "absent_filled": pct(sum(1 for o in absent if o.filled), len(absent)),
            }
        )
    return table


def inventory_run(entries: Sequence[CatalogueEntry], rng: random.Random, size: int) -> dict[str, Any]:
    """Time a whole inventory of ``size`` random rows from a cold matcher, building the index included."""
    rows = []
    for _ in range(size):
        entry = rng.choice(entries)
        medication = entry.product_type == "MEDICATION"
        kind = rng.choice([k for k in KINDS if medication or k not in MED_ONLY])
        rows.append(
            Row(
                kind,
                entry.product_type,
                entry.product_code,
                entry.name,
                vary(kind, entry.name, rng, medication),
            )
        )
    started = time.perf_counter()
    matcher = Matcher(entries)
    outcomes, _ = run(matcher, rows)
    seconds = time.perf_counter() - started
    top1 = sum(1 for r, o in zip(rows, outcomes, strict=True) if o.codes[:1] == [r.label])
    return {"rows": size, "seconds": seconds, "top1": pct(top1, size)}


def scale_run(size: int, seed: int, rows_wanted: int) -> dict[str, Any]:
    """Time construction and matching on a generated catalogue of ``size`` entries."""
    sys.path.insert(0, str(BENCH_DIR))
    import gen_catalogue  # the benchmarks' own generator

    rng = random.Random(seed)
    records = list(gen_catalogue.rows(size, seed=gen_catalogue.DEFAULT_SEED))
    entries = catalogue_entries(records)
    started = time.perf_counter()
    matcher = Matcher(entries)
    build = time.perf_counter() - started
    picked = rng.sample(entries, rows_wanted)
    sample = [
        Row(
            "combined",
            e.product_type,
            e.product_code,
            e.name,
            vary("combined", e.name, rng, e.product_type == "MEDICATION"),
        )
        for e in picked
    ]
    outcomes, seconds = run(matcher, sample)
    codes = [o.codes for o in outcomes]
    names = {e.product_code: e.name for e in entries}
    # generated catalogues repeat names (same drug from several laboratories): count a hit when the
    # best candidate has the label's name up to the laboratory suffix
    same = sum(
        1
        for row, found in zip(sample, codes, strict=True)
        if found and names[found[0]].startswith(row.original.split(" ")[0])
    )
    return {
        "size": size,
        "entries_active": len(entries),
        "build_seconds": build,
        "rows": rows_wanted,
        "ms_per_row": 1000.0 * seconds / rows_wanted,
        "first_word_agrees_pct": pct(same, rows_wanted),
    }


def absent_sample(
    entries: Sequence[CatalogueEntry], rng: random.Random, size: int
) -> tuple[Matcher, list[Row], list[Outcome]]:
    """Products the catalogue does not have: ``size`` entries (60% medications) removed from a second
    matcher and looked for under ``combined`` names; returns that matcher, the rows and their outcomes."""
    meds = [e for e in entries if e.product_type == "MEDICATION"]
    others = [e for e in entries if e.product_type != "MEDICATION"]
    absent_meds = round(0.6 * size)
    held = rng.sample(meds, absent_meds) + rng.sample(others, size - absent_meds)
    held_codes = {e.product_code for e in held}
    without = Matcher([e for e in entries if e.product_code not in held_codes])
    absent_rows = [
        Row(
            "combined",
            e.product_type,
            e.product_code,
            e.name,
            vary("combined", e.name, rng, e.product_type == "MEDICATION"),
        )
        for e in held
    ]
    absent_outcomes, _ = run(without, absent_rows)
    return without, absent_rows, absent_outcomes


def print_failures(
    limit: int,
    entries: Sequence[CatalogueEntry],
    sample: tuple[Sequence[Row], Sequence[Outcome]],
    absent: tuple[Sequence[Row], Sequence[Outcome]],
) -> None:
    """Print up to ``limit`` misses, right-but-unfilled rows and wrongly filled absent products."""
    rows, outcomes = sample
    absent_rows, absent_outcomes = absent
    names = {e.product_code: e.name for e in entries}
    misses = [(r, o) for r, o in zip(rows, outcomes, strict=True) if o.codes[:1] != [r.label]]
    for row, outcome in misses[:limit]:
        got = f"{names[outcome.codes[0]]!r} ({outcome.scores[0]:.1f})" if outcome.codes else "nothing"
        print(f"miss [{row.kind}] {row.name!r} -> {got}; want {row.original!r}")
    unfilled = [
        (r, o) for r, o in zip(rows, outcomes, strict=True) if o.codes[:1] == [r.label] and not o.filled
    ]
    for row, outcome in unfilled[:limit]:
        print(f"right but not filled [{row.kind}] {row.name!r} ({outcome.scores[:2]}); {row.original!r}")
    wrong = [(r, o) for r, o in zip(absent_rows, absent_outcomes, strict=True) if o.filled]
    for row, outcome in wrong[:limit]:
        print(f"absent but filled {row.name!r} -> {names[outcome.codes[0]]!r} ({outcome.scores[0]:.1f})")


def markdown(report: dict[str, Any]) -> str:
    """Render the tables of the report."""
    main = report["sample"]
    names = {"all": "**all**", "group:MEDICATION": "medications", "group:SERVICE": "labs/imaging/procedures"}
    lines = [
        "| variation | rows | top-1 | top-3 | product_code filled | filled but wrong |",
        "|---|---|---|---|---|---|",
    ]
    for key in ["all", "group:MEDICATION", "group:SERVICE"] + [f"kind:{k}" for k in KINDS]:
        if key not in main:
            continue
        s = main[key]
        label = names.get(key, "`" + key.removeprefix("kind:") + "`")
        lines.append(
            f"| {label} | {s['rows']} | {s['top1']:.1f}% | {s['top3']:.1f}% | {s['filled']:.1f}% | "
            f"{s['filled_wrong']:.1f}% |"
        )
    absent = report["absent"]
    timing = report["timing"]
    lines += [
        "",
        f"Products absent from the catalogue ({absent['rows']} `combined` rows whose entries were removed): "
        f"product_code filled (wrongly) for {absent['filled']:.1f}%.",
        "",
        "| acceptance threshold | filled and right | filled but wrong | absent products filled |",
        "|---|---|---|---|",
    ]
    for row in report["sweep"]:
        mark = " (default)" if row["threshold"] == report["accept_score"] else ""
        lines.append(
            f"| {row['threshold']:.0f}{mark} | {row['filled_right']:.1f}% | {row['filled_wrong']:.1f}% | "
            f"{row['absent_filled']:.1f}% |"
        )
    lines += [
        "",
        f"Speed: {timing['ms_per_row']:.2f} ms per row ({timing['rows']} rows in {timing['seconds']:.2f} s); "
        f"index of {timing['entries']} entries built in {timing['build_seconds']:.2f} s.",
    ]
    inventory = report["inventory"]
    lines.append(
        f"A {inventory['rows']:,}-row inventory (random entries and variations) takes "
        f"{inventory['seconds']:.2f} s from a cold start, index included (top-1 {inventory['top1']:.1f}%)."
    )
    if report.get("scale"):
        sc = report["scale"]
        lines.append(
            f"At {sc['entries_active']:,} generated entries: index built in {sc['build_seconds']:.1f} s, "
            f"{sc['ms_per_row']:.2f} ms per row ({sc['rows']} `combined` rows; best candidate has the "
            f"right first word for {sc['first_word_agrees_pct']:.1f}%)."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Build the sample, run the matcher, print and save the report."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--medications", type=int, default=600)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument(
        "--absent", type=int, default=100, help="rows for products missing from the catalogue"
    )
    parser.add_argument("--inventory-rows", type=int, default=2000, help="rows of the timed whole inventory")
    parser.add_argument("--scale-size", type=int, default=100_000, help="generated catalogue size (0: skip)")
    parser.add_argument("--scale-rows", type=int, default=500)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--failures", type=int, default=0, help="print this many misses")
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    entries = catalogue_entries(sandbox_records())
    started = time.perf_counter()
    matcher = Matcher(entries)
    build = time.perf_counter() - started
    rows, _ = build_sample(entries, rng, args.medications, args.services)
    outcomes, seconds = run(matcher, rows)

    without, absent_rows, absent_outcomes = absent_sample(entries, rng, args.absent)

    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": args.seed,
        "accept_score": ACCEPT_SCORE,
        "sample": summarise(rows, outcomes),
        "absent": {
            "rows": len(absent_rows),
            "filled": pct(sum(1 for o in absent_outcomes if o.filled), len(absent_rows)),
        },
        "sweep": sweep(matcher, rows, without, absent_rows),
        "timing": {
            "entries": len(matcher),
            "build_seconds": build,
            "rows": len(rows),
            "seconds": seconds,
            "ms_per_row": 1000.0 * seconds / max(1, len(rows)),
        },
        "inventory": inventory_run(entries, rng, args.inventory_rows),
        "kinds": dict(Counter(r.kind for r in rows)),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "rapidfuzz": metadata.version("rapidfuzz"),
        },
    }
    right = [o.scores[0] for r, o in zip(rows, outcomes, strict=True) if o.codes[:1] == [r.label]]
    report["right_best_score_median"] = statistics.median(right) if right else 0.0
    if args.scale_size:
        report["scale"] = scale_run(args.scale_size, args.seed, args.scale_rows)
    # the real names (bench/match_eval/real_names.csv) next to the synthetic sample
    real = match_real.evaluate(matcher, match_real.read_real_set())
    report["real"] = real["by_type"]

    text = markdown(report) + "\n\n## Real inventory names (bench/match_eval/real_names.csv)\n\n"
    text += "\n".join(match_real.markdown(real))
    print(text)
    if args.failures:
        print_failures(args.failures, entries, (rows, outcomes), (absent_rows, absent_outcomes))
    write_results("match", report, text + "\n", args.out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
