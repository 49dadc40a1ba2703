"""Integrity of the held-out labelled set bench/match_eval/check_names.csv and its `--set check` reader."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
EVAL = ROOT / "bench" / "match_eval"
CHECK = EVAL / "check_names.csv"
REAL = EVAL / "real_names.csv"
SANDBOX = ROOT / "src" / "provider_products" / "catalogue" / "data" / "sandbox.jsonl"
TYPES = {"MEDICATION", "LAB", "IMAGING", "PROCEDURE"}
REQUIRED = ("name", "product_type", "country", "source", "source_url")


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def catalogue() -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in SANDBOX.read_text("utf-8").splitlines() if line.strip()]
    return {r["product_code"]: r for r in records}


def match_real() -> ModuleType:
    """Import bench/match_real.py (bench/ is not a package)."""
    if "match_real" not in sys.modules:
        spec = importlib.util.spec_from_file_location("match_real", ROOT / "bench" / "match_real.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["match_real"] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules["match_real"]


def test_check_set_columns_equal_real_set_columns() -> None:
    assert header(CHECK) == header(REAL)


def test_check_set_rows_have_required_fields_and_known_types() -> None:
    bad = [r["name"] for r in rows(CHECK) if any(not r[f].strip() for f in REQUIRED)]
    assert bad == []
    assert {r["product_type"] for r in rows(CHECK)} <= TYPES


def test_check_set_labels_are_active_sandbox_codes_of_the_row_type() -> None:
    codes = catalogue()
    wrong = [
        (r["name"], r["expected_code"])
        for r in rows(CHECK)
        if r["expected_code"]
        and (
            r["expected_code"] not in codes
            or codes[r["expected_code"]]["status"] != "ACTIVE"
            or codes[r["expected_code"]]["product_type"] != r["product_type"]
        )
    ]
    assert wrong == []


def test_check_set_empty_labels_have_a_note() -> None:
    assert [r["name"] for r in rows(CHECK) if not r["expected_code"] and not r["note"].strip()] == []


def test_check_set_names_are_unique_and_trimmed() -> None:
    names = [r["name"] for r in rows(CHECK)]
    assert [n for n, k in Counter(names).items() if k > 1] == []
    assert [n for n in names if n != n.strip()] == []


def test_check_set_shares_no_name_with_real_set() -> None:
    assert {r["name"] for r in rows(CHECK)} & {r["name"] for r in rows(REAL)} == set()


def test_check_set_mix_has_every_type_and_some_rows_without_answer() -> None:
    check = rows(CHECK)
    per_type = Counter(r["product_type"] for r in check)
    assert len(check) >= 200
    assert all(per_type[t] >= 20 for t in TYPES)
    assert 0.2 <= sum(1 for r in check if not r["expected_code"]) / len(check) <= 0.3


@pytest.mark.parametrize(("name", "path"), [("real", REAL), ("check", CHECK)])
def test_match_real_set_option_reads_the_named_file(name: str, path: Path) -> None:
    module = match_real()
    read = module.read_real_set(module.SETS[name])
    assert module.SETS[name] == path
    assert [(r.name, r.expected) for r in read] == [(r["name"], r["expected_code"]) for r in rows(path)]
