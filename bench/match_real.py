"""The matcher on real inventory names (bench/match_eval/*.csv), labelled with sandbox codes or none.

``--set real`` (the default) reads real_names.csv, the set the matcher's rules were written against;
``--set check`` reads check_names.csv, a held-out set collected and labelled independently of the matcher.

Measures, overall and per product type:

* top-1 / top-3: over rows that have a right answer, the share whose right code is the best
  candidate / among the first three;
* coverage: over rows with a right answer, the share given that code as a confident fill;
* confident-fill precision: over all confident fills, the share that are right;
* fills on rows with no right answer: over rows the catalogue has no product for, the share given
  any confident code (for those rows "right" means "left unfilled").

The catalogue is the bundled sandbox catalogue with its synonyms (each record's ``synonyms`` field).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from provider_products_client.onboarding.match import InventoryItem, Matcher, accepted, catalogue_entries

REAL_SET = Path(__file__).parent / "match_eval" / "real_names.csv"
CHECK_SET = Path(__file__).parent / "match_eval" / "check_names.csv"
SETS = {"real": REAL_SET, "check": CHECK_SET}
TYPES = ("MEDICATION", "LAB", "IMAGING", "PROCEDURE")


@dataclass(frozen=True)
class RealRow:
    """A real inventory name and its label (``""``: the catalogue has no such product)."""

    name: str
    product_type: str
    expected: str
    country: str


def read_real_set(path: Path = REAL_SET) -> list[RealRow]:
    """Read the labelled real names."""
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            RealRow(r["name"], r["product_type"], r["expected_code"].strip(), r["country"])
            for r in csv.DictReader(handle)
        ]


def catalogue_records() -> tuple[list[dict[str, Any]], str]:
    """Return the sandbox catalogue's records with synonyms, and where the synonyms came from."""
    text = (resources.files("provider_products.catalogue") / "data" / "sandbox.jsonl").read_text("utf-8")
    records = [json.loads(line) for line in text.splitlines() if line.strip()]
    return records, "sandbox.jsonl"


def evaluate(matcher: Matcher, rows: Sequence[RealRow], top: int = 3) -> dict[str, Any]:
    """Match every real row and return the measures overall and per product type, and the misses."""
    buckets: dict[str, list[tuple[RealRow, list[str], str | None]]] = defaultdict(list)
    misses: list[dict[str, Any]] = []
    for number, row in enumerate(rows, start=2):
        found = matcher.candidates(InventoryItem(line=number, name=row.name), top=top)
        chosen = accepted(found)
        filled = chosen.product_code if chosen else None
        codes = [c.product_code for c in found]
        outcome = (row, codes, filled)
        buckets["all"].append(outcome)
        buckets[row.product_type].append(outcome)
        if (filled or None) != (row.expected or None) or (row.expected and codes[:1] != [row.expected]):
            best = found[0] if found else None
            misses.append(
                {
                    "name": row.name,
                    "type": row.product_type,
                    "expected": row.expected,
                    "filled": filled,
                    "best": f"{best.product_code} {best.name} {best.score}" if best else "",
                    "reason": best.reason if best else "",
                    "blocked": best.blocked if best else "",
                }
            )
    return {"by_type": {k: _measures(v) for k, v in buckets.items()}, "misses": misses}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _measures(outcomes: Sequence[tuple[RealRow, list[str], str | None]]) -> dict[str, Any]:
    answered = [o for o in outcomes if o[0].expected]
    absent = [o for o in outcomes if not o[0].expected]
    fills = [o for o in outcomes if o[2]]
    return {
        "rows": len(outcomes),
        "with_answer": len(answered),
        "top1": _share(sum(1 for r, c, _ in answered if c[:1] == [r.expected]), len(answered)),
        "top3": _share(sum(1 for r, c, _ in answered if r.expected in c), len(answered)),
        "coverage": _share(sum(1 for r, _, f in answered if f == r.expected), len(answered)),
        "fills": len(fills),
        "fill_precision": _share(sum(1 for r, _, f in fills if f == r.expected), len(fills)),
        "no_answer": len(absent),
        "no_answer_filled": _share(sum(1 for _, _, f in absent if f), len(absent)),
    }


def markdown(report: dict[str, Any]) -> list[str]:
    """Render the real-set measures as a Markdown table."""
    lines = [
        "| type | rows | with answer | top-1 | top-3 | coverage | confident fills | fill precision "
        "| no answer | no-answer rows filled |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("all", *TYPES):
        m = report["by_type"].get(name)
        if m is None:
            continue
        cells = [
            name,
            m["rows"],
            m["with_answer"],
            m["top1"],
            m["top3"],
            m["coverage"],
            m["fills"],
            m["fill_precision"],
            m["no_answer"],
            m["no_answer_filled"],
        ]
        lines.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Print a labelled set's measures and the misses (``python bench/match_real.py [--set check]``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--set", choices=sorted(SETS), default="real", help="labelled set (default: real)")
    args = parser.parse_args(argv)
    records, source = catalogue_records()
    matcher = Matcher(catalogue_entries(records))
    report = evaluate(matcher, read_real_set(SETS[args.set]))
    print(f"set: {SETS[args.set].name}; synonyms: {source}")
    print("\n".join(markdown(report)))
    for miss in report["misses"]:
        print(json.dumps(miss, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
