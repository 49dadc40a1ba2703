"""Shape and content checks for the bundled sandbox catalogue (``catalogue/data/sandbox.jsonl``)."""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

SANDBOX = Path(__file__).parents[2] / "src/provider_products/catalogue/data/sandbox.jsonl"

COMMON_KEYS = {"product_code", "product_type", "name", "status"}
MEDICATION_KEYS = COMMON_KEYS | {
    "active_ingredient",
    "concentration",
    "pharmaceutical_form",
    "presentation",
    "atc_code",
}
SERVICE_KEYS = COMMON_KEYS | {"description", "coding_system", "coding_code"}
KEYS_BY_TYPE = {
    "MEDICATION": MEDICATION_KEYS,
    "LAB": SERVICE_KEYS,
    "IMAGING": SERVICE_KEYS,
    "PROCEDURE": SERVICE_KEYS,
}
CODING_SYSTEMS_BY_TYPE = {
    "LAB": {"LOINC"},
    "IMAGING": {"CPT", "CUPS"},
    "PROCEDURE": {"CPT", "CUPS"},
}
MINIMUM_BY_TYPE = {"MEDICATION": 320, "LAB": 110, "IMAGING": 110, "PROCEDURE": 110}
SEQUENCE_PREFIX = {
    "MEDICATION": "MED-SBX-",
    "LAB": "LAB-SBX-",
    "IMAGING": "IMG-SBX-",
    "PROCEDURE": "PRC-SBX-",
}

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
ATC_RE = re.compile(r"^[A-Z]\d{2}[A-Z]{2}\d{2}$")
LOINC_RE = re.compile(r"^\d{1,6}-\d$")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return SANDBOX.read_text(encoding="utf-8").split("\n")


@pytest.fixture(scope="module")
def rows(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line]


@pytest.fixture(scope="module")
def by_code(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["product_code"]: row for row in rows}


def test_file_bytes_valid_utf8_without_blank_lines(lines: list[str]) -> None:
    SANDBOX.read_bytes().decode("utf-8")
    assert lines[-1] == "", "the file should end with a newline"
    body = lines[:-1]
    assert body, "the file is empty"
    assert all(line.strip() for line in body), "blank lines are not allowed"


def test_every_line_parses_as_json_object(lines: list[str]) -> None:
    for number, line in enumerate(lines[:-1], start=1):
        value = json.loads(line)
        assert isinstance(value, dict), f"line {number} is not a JSON object"


def test_every_row_product_type_is_known(rows: list[dict[str, Any]]) -> None:
    unknown = {row.get("product_type") for row in rows} - set(KEYS_BY_TYPE)
    assert not unknown


def test_every_row_keys_match_its_type_exactly(rows: list[dict[str, Any]]) -> None:
    wrong = [
        (row.get("product_code"), sorted((set(row) - {"synonyms"}) ^ KEYS_BY_TYPE[row["product_type"]]))
        for row in rows
        if set(row) - {"synonyms"} != KEYS_BY_TYPE[row["product_type"]]
    ]
    assert not wrong


def test_every_row_field_values_are_strings_or_null(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        for key in COMMON_KEYS:
            assert isinstance(row[key], str), (row["product_code"], key)
            assert row[key].strip(), (row["product_code"], key)
        for key in set(row) - COMMON_KEYS - {"synonyms"}:
            assert row[key] is None or (isinstance(row[key], str) and row[key].strip()), (
                row["product_code"],
                key,
            )


def test_every_row_status_is_active_or_inactive(rows: list[dict[str, Any]]) -> None:
    assert {row["status"] for row in rows} <= {"ACTIVE", "INACTIVE"}


def test_product_codes_well_formed_match_regex(rows: list[dict[str, Any]]) -> None:
    bad = [row["product_code"] for row in rows if not (1 <= len(row["product_code"]) <= 64)]
    bad += [row["product_code"] for row in rows if not CODE_RE.fullmatch(row["product_code"])]
    assert not bad


def test_product_codes_case_insensitive_are_unique(rows: list[dict[str, Any]]) -> None:
    counts = Counter(row["product_code"].upper() for row in rows)
    assert [code for code, n in counts.items() if n > 1] == []


@pytest.mark.parametrize(("product_type", "minimum"), sorted(MINIMUM_BY_TYPE.items()))
def test_type_count_meets_minimum(rows: list[dict[str, Any]], product_type: str, minimum: int) -> None:
    assert sum(1 for row in rows if row["product_type"] == product_type) >= minimum


@pytest.mark.parametrize(("product_type", "prefix"), sorted(SEQUENCE_PREFIX.items()))
def test_sequence_codes_per_type_are_consecutive_from_one(
    rows: list[dict[str, Any]], product_type: str, prefix: str
) -> None:
    codes = [row["product_code"] for row in rows if row["product_code"].startswith(prefix)]
    assert all(row["product_type"] == product_type for row in rows if row["product_code"].startswith(prefix))
    assert codes == [f"{prefix}{n:04d}" for n in range(1, len(codes) + 1)]


def test_med_042_present_is_paracetamol_tablet(by_code: dict[str, dict[str, Any]]) -> None:
    row = by_code["MED-042"]
    assert row["product_type"] == "MEDICATION"
    assert row["name"] == "Paracetamol 500 mg Tableta"
    assert row["status"] == "ACTIVE"
    assert row["atc_code"] == "N02BE01"


def test_lab_hemo_present_is_complete_blood_count(by_code: dict[str, dict[str, Any]]) -> None:
    row = by_code["LAB-HEMO"]
    assert row["product_type"] == "LAB"
    assert row["name"] == "Hemograma completo"
    assert (row["coding_system"], row["coding_code"]) == ("LOINC", "58410-2")


def test_cons_gen_present_is_general_consultation(by_code: dict[str, dict[str, Any]]) -> None:
    row = by_code["CONS-GEN"]
    assert row["product_type"] == "PROCEDURE"
    assert row["name"] == "Consulta de medicina general"


@pytest.mark.parametrize("product_type", sorted(KEYS_BY_TYPE))
def test_names_per_type_include_accented_letter(rows: list[dict[str, Any]], product_type: str) -> None:
    names = [row["name"] for row in rows if row["product_type"] == product_type]
    assert any(_fold(name) != name.casefold() for name in names)


@pytest.mark.parametrize("product_type", sorted(KEYS_BY_TYPE))
def test_names_within_type_are_unique(rows: list[dict[str, Any]], product_type: str) -> None:
    counts = Counter(row["name"].casefold() for row in rows if row["product_type"] == product_type)
    assert [name for name, n in counts.items() if n > 1] == []


def test_atc_codes_when_present_match_who_format(rows: list[dict[str, Any]]) -> None:
    bad = [
        (row["product_code"], row["atc_code"])
        for row in rows
        if row["product_type"] == "MEDICATION"
        and row["atc_code"] is not None
        and not ATC_RE.fullmatch(row["atc_code"])
    ]
    assert not bad


def test_loinc_codes_when_present_match_loinc_format(rows: list[dict[str, Any]]) -> None:
    bad = [
        (row["product_code"], row["coding_code"])
        for row in rows
        if row.get("coding_system") == "LOINC" and not LOINC_RE.fullmatch(row["coding_code"] or "")
    ]
    assert not bad


@pytest.mark.parametrize("product_type", sorted(CODING_SYSTEMS_BY_TYPE))
def test_coding_system_per_type_is_allowed_or_null(rows: list[dict[str, Any]], product_type: str) -> None:
    allowed = CODING_SYSTEMS_BY_TYPE[product_type] | {None}
    assert {row["coding_system"] for row in rows if row["product_type"] == product_type} <= allowed


def test_coding_system_and_code_null_together(rows: list[dict[str, Any]]) -> None:
    mismatched = [
        row["product_code"]
        for row in rows
        if row["product_type"] != "MEDICATION"
        and (row["coding_system"] is None) != (row["coding_code"] is None)
    ]
    assert not mismatched


def test_inactive_entries_exist_in_several_types(rows: list[dict[str, Any]]) -> None:
    inactive_types = {row["product_type"] for row in rows if row["status"] == "INACTIVE"}
    assert len(inactive_types) >= 2
    assert sum(1 for row in rows if row["status"] == "INACTIVE") >= 4


@pytest.mark.parametrize("query", ["paracetamol", "acetaminofen"])
def test_medication_names_spanish_spellings_are_searchable(rows: list[dict[str, Any]], query: str) -> None:
    assert any(query in _fold(row["name"]) for row in rows if row["product_type"] == "MEDICATION")


def test_every_row_imports_with_its_synonyms() -> None:
    from provider_products.catalogue import importer

    entries = importer.parse(SANDBOX.read_text(encoding="utf-8"), "jsonl")
    assert sum(len(e.synonyms) for e in entries) >= 3300
    assert sum(1 for e in entries if e.synonyms) >= 1190


def test_synonyms_shape_when_present(rows: list[dict[str, Any]]) -> None:
    kinds = {"brand", "regional", "abbreviation", "former"}
    for row in rows:
        for synonym in row.get("synonyms", []):
            assert set(synonym) == {"name", "kind", "countries"}, row["product_code"]
            assert synonym["kind"] in kinds, row["product_code"]
            assert all(re.fullmatch(r"[A-Z]{2}", c) for c in synonym["countries"]), row["product_code"]


def test_synonyms_never_repeat_an_entry_name(rows: list[dict[str, Any]]) -> None:
    names = {_fold(row["name"]) for row in rows}
    clashes = [
        (row["product_code"], s["name"])
        for row in rows
        for s in row.get("synonyms", [])
        if _fold(s["name"]) in names
    ]
    assert not clashes


@pytest.mark.parametrize("product_type", ["LAB", "IMAGING", "PROCEDURE"])
def test_service_synonyms_name_one_study_each(rows: list[dict[str, Any]], product_type: str) -> None:
    owners: dict[str, set[str]] = {}
    for row in rows:
        if row["product_type"] == product_type:
            for synonym in row.get("synonyms", []):
                owners.setdefault(_fold(synonym["name"]), set()).add(row["product_code"])
    assert [name for name, codes in owners.items() if len(codes) > 1] == []


def test_brand_dolex_is_on_acetaminophen_entries_only(rows: list[dict[str, Any]]) -> None:
    with_dolex = [row for row in rows if any(s["name"] == "Dolex" for s in row.get("synonyms", []))]
    assert {row["product_code"] for row in with_dolex} >= {"MED-SBX-0001"}
    assert all(_fold(row["active_ingredient"]) in {"acetaminofen", "paracetamol"} for row in with_dolex)


def _key(name: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", _fold(name)))


@pytest.mark.parametrize("product_type", ["LAB", "IMAGING"])
def test_every_lab_and_imaging_entry_has_a_synonym(rows: list[dict[str, Any]], product_type: str) -> None:
    bare = [r["product_code"] for r in rows if r["product_type"] == product_type and not r.get("synonyms")]
    assert bare == []


def test_service_synonyms_name_one_study_across_types(rows: list[dict[str, Any]]) -> None:
    owners: dict[str, set[str]] = {}
    for row in rows:
        if row["product_type"] != "MEDICATION":
            for synonym in row.get("synonyms", []):
                owners.setdefault(_key(synonym["name"]), set()).add(row["product_code"])
    assert [name for name, codes in owners.items() if len(codes) > 1] == []


def test_medication_synonyms_shared_only_within_one_ingredient(rows: list[dict[str, Any]]) -> None:
    # Acetaminofén and Paracetamol are one ingredient under two names (SYNONYMS.md, caveats).
    same = {"paracetamol": "acetaminofen"}
    ingredients: dict[str, set[str]] = {}
    for row in rows:
        if row["product_type"] == "MEDICATION":
            ingredient = _fold(row["active_ingredient"] or "")
            for synonym in row.get("synonyms", []):
                ingredients.setdefault(_key(synonym["name"]), set()).add(same.get(ingredient, ingredient))
    assert {name: found for name, found in ingredients.items() if len(found) > 1} == {}


def test_brands_only_on_medications_and_vaccines(rows: list[dict[str, Any]]) -> None:
    misplaced = [
        (row["product_code"], s["name"])
        for row in rows
        for s in row.get("synonyms", [])
        if s["kind"] == "brand" and row["product_type"] != "MEDICATION" and "Vacuna" not in row["name"]
    ]
    assert misplaced == []


def test_synonym_never_repeats_its_entry_name_ignoring_punctuation(rows: list[dict[str, Any]]) -> None:
    names = {_key(row["name"]) for row in rows}
    assert [
        (r["product_code"], s["name"])
        for r in rows
        for s in r.get("synonyms", [])
        if _key(s["name"]) in names
    ] == []
