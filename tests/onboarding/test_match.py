"""Inventory matching (``onboarding/match/``) against the bundled sandbox catalogue: pure unit tests."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from provider_products.catalogue import importer
from provider_products_client.onboarding.match import (
    ACCEPT_SCORE,
    Candidate,
    CatalogueEntry,
    InventoryItem,
    Matcher,
    accepted,
    catalogue_entries,
    parse_name,
    read_inventory,
    write_proposals,
)

RECORDS = [json.loads(line) for line in importer.sandbox_catalogue().splitlines() if line.strip()]
ENTRIES = catalogue_entries(RECORDS)
CODE_BY_NAME = {e.name: e.product_code for e in ENTRIES}


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(ENTRIES)


def best(
    matcher: Matcher, name: str, *, strength: str | None = None, form: str | None = None
) -> list[Candidate]:
    return matcher.candidates(InventoryItem(line=2, name=name, strength=strength, form=form), top=3)


def code(name: str) -> str:
    return CODE_BY_NAME[name]


# --- normalisation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "catalogue"),
    [
        ("500mg", "500 mg"),
        ("0,5 %", "0.5 %"),
        ("1g", "1000 mg"),
        ("1.200.000 U.I.", "1 200 000 UI"),
        ("50000UI", "50 000 UI"),
        ("250MG/5ML", "250 mg/5 mL"),
        ("100 mcg", "0.1 mg"),
        ("40mg/0,4ml", "40 mg/0.4 mL"),
        ("5 cc", "5 mL"),
    ],
)
def test_strengths_are_normalised(written: str, catalogue: str) -> None:
    assert {q.key for q in parse_name(written).quantities} == {
        q.key for q in parse_name(catalogue).quantities
    }


def test_packaging_count_is_not_a_thousands_group() -> None:
    parsed = parse_name("Acetaminofén tab x 100 500 mg")
    assert [q.key for q in parsed.quantities] == [("mass", 500.0)]


def test_abbreviations_accents_and_packaging_are_normalised() -> None:
    parsed = parse_name("ACETAMINOFÉN 500MG TABS X 100")
    assert parsed.words == ("acetaminofen", "tableta")
    assert parse_name("Diclofenaco 75 mg amp").words == ("diclofenaco", "inyectable")
    assert parse_name("Jbe").words == ("jarabe",)


# --- ranking --------------------------------------------------------------------------------------


# The sandbox lists paracetamol 500 mg tablets twice (MED-042 for the guide, MED-SBX-0001); codes are
# never repurposed, so the two stay, and no name can tell them apart.
DUPLICATES = frozenset({"MED-042", "MED-SBX-0001"})


def test_every_exact_name_matches_itself_first_and_is_accepted(matcher: Matcher) -> None:
    misses = []
    for entry in ENTRIES:
        if entry.product_code in DUPLICATES:
            continue
        found = best(matcher, entry.name)
        if not found or found[0].product_code != entry.product_code or accepted(found) is None:
            misses.append(entry.name)
    assert misses == []


def test_a_product_listed_twice_is_filled_only_by_its_own_name(matcher: Matcher) -> None:
    for code in DUPLICATES:
        found = best(matcher, next(e.name for e in ENTRIES if e.product_code == code))
        assert {c.product_code for c in found[:2]} == DUPLICATES
        chosen = accepted(found)
        assert chosen is not None
        assert chosen.product_code == code
    # named through a synonym both share: a coin toss, left for a person
    found = best(matcher, "TYLENOL 500 MG TABLETAS")
    assert {c.product_code for c in found[:2]} == DUPLICATES
    assert accepted(found) is None


@pytest.mark.parametrize(
    ("inventory", "expected"),
    [
        # no accents, upper case, lower case
        ("LOSARTAN POTASICO 50 MG TABLETA", "Losartán potásico 50 mg Tableta"),
        ("acetaminofen 500 mg tableta", "Acetaminofén 500 mg Tableta"),
        ("tomografia computarizada de craneo simple", "Tomografía computarizada de cráneo simple"),
        # abbreviations and unit spelling
        ("ACETAMINOFEN 500MG TAB X 100 GENFAR", "Acetaminofén 500 mg Tableta"),
        ("Ibuprofeno susp 100mg/5ml fco x 120ml", "Ibuprofeno 100 mg/5 mL Suspensión oral"),
        ("Diclofenaco sodico 75mg/3ml amp", "Diclofenaco sódico 75 mg/3 mL Solución inyectable"),
        ("Loratadina jbe 5mg/5ml", "Loratadina 5 mg/5 mL Jarabe"),
        ("Omeprazol 20mg caps", "Omeprazol 20 mg Cápsula"),
        ("Clotrimazol crem 1 %", "Clotrimazol 1 % Crema"),
        ("Latanoprost 0,005% sol oft", "Latanoprost 0.005 % Solución oftálmica"),
        ("METFORMINA 1G TAB", "Metformina 1000 mg Tableta"),
        ("AMOXICILINA/CLAVULANICO 875/125MG TAB", "Amoxicilina + Ácido clavulánico 875 mg/125 mg Tableta"),
        (
            "Penicilina benzatinica 2.400.000 UI",
            "Penicilina G benzatínica 2 400 000 UI Polvo para suspensión inyectable",
        ),
        ("RMN rodilla", "Resonancia magnética de rodilla"),
        ("TAC craneo simple", "Tomografía computarizada de cráneo simple"),
        # word order
        ("Tableta 500 mg Acetaminofén", "Acetaminofén 500 mg Tableta"),
        ("de húmero Radiografía", "Radiografía de húmero"),
        # typos (1-2 edits)
        ("Acetaminfoen 500 mg Tabelta", "Acetaminofén 500 mg Tableta"),
        ("Hemolgobina", "Hemoglobina"),
        ("Cltnazepam 2 mg Tableta", "Clonazepam 2 mg Tableta"),
        ("Histerousalpnigografía", "Histerosalpingografía"),
        # other names for the same thing
        ("Aspirina 100mg", "Ácido acetilsalicílico 100 mg Tableta"),
        ("Glicemia en ayunas", "Glucosa en ayunas"),
        # strength without a unit, salt left out
        ("losartan 50", "Losartán potásico 50 mg Tableta"),
    ],
)
def test_variations_find_the_right_entry(matcher: Matcher, inventory: str, expected: str) -> None:
    found = best(matcher, inventory)
    assert found, inventory
    assert (found[0].name, found[0].product_code) == (expected, code(expected))
    assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
    assert all(0.0 <= c.score <= 100.0 for c in found)


def test_wrong_strength_ranks_below_the_right_strength(matcher: Matcher) -> None:
    found = matcher.candidates(InventoryItem(line=2, name="IBUPROFENO 400MG TAB"), top=10)
    names = [c.name for c in found]
    assert names[0] == "Ibuprofeno 400 mg Tableta"
    scores = {c.name: c.score for c in found}
    for other in ("Ibuprofeno 200 mg Tableta", "Ibuprofeno 600 mg Tableta", "Ibuprofeno 800 mg Tableta"):
        assert scores.get(other, 0.0) < scores["Ibuprofeno 400 mg Tableta"] - 20
    assert all(c.blocked for c in found[1:])
    assert all("strength differs" in (c.blocked or "") for c in found[1:4])


def test_strength_and_form_columns_are_used(matcher: Matcher) -> None:
    found = best(matcher, "Ibuprofeno", strength="600mg", form="tab")
    assert found[0].name == "Ibuprofeno 600 mg Tableta"
    found = best(matcher, "Ibuprofeno", strength="100 mg/5 ml", form="susp")
    assert found[0].name == "Ibuprofeno 100 mg/5 mL Suspensión oral"


def test_a_combination_with_one_different_strength_is_not_accepted() -> None:
    entries = [
        CatalogueEntry("A-875", "MEDICATION", "Amoxicilina + Ácido clavulánico 875 mg/125 mg Tableta"),
        CatalogueEntry("A-500", "MEDICATION", "Amoxicilina + Ácido clavulánico 500 mg/125 mg Tableta"),
    ]
    only_875 = Matcher(entries[:1])
    found = only_875.candidates(InventoryItem(line=2, name="Amoxicilina + Ac. clavulanico 500/125 mg tab"))
    assert found
    assert accepted(found) is None
    assert (
        Matcher(entries).candidates(InventoryItem(line=2, name="amoxi clav 500/125mg tab"))[0].product_code
        == "A-500"
    )


def test_a_look_alike_drug_is_not_accepted_for_a_missing_one() -> None:
    # the catalogue has no "Clonazepam 2 mg Tableta": "Lorazepam 2 mg Tableta" (two edits away) must
    # not be written as its code
    without = Matcher([e for e in ENTRIES if e.name != "Clonazepam 2 mg Tableta"])
    found = without.candidates(InventoryItem(line=2, name="Clonazepam 2mg tab"))
    assert accepted(found) is None


def test_nonsense_gets_no_product_code(matcher: Matcher, tmp_path: Path) -> None:
    items = [InventoryItem(line=2, name="xilofono cuantico"), InventoryItem(line=3, name="zzzz qqqq 12")]
    proposals = [matcher.candidates(item) for item in items]
    assert all(accepted(p) is None for p in proposals)
    out = tmp_path / "proposals.csv"
    write_proposals(out, items, proposals, top=3)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["product_code"] for r in rows] == ["", ""]


def test_a_tie_at_the_top_is_left_for_a_person(matcher: Matcher) -> None:
    # without a number of projections, "Rx torax" fits one, two and three alike
    found = best(matcher, "Rx torax")
    assert found[0].score >= ACCEPT_SCORE
    assert accepted(found) is None


def test_empty_catalogue_and_empty_name_give_no_candidates() -> None:
    assert Matcher([]).candidates(InventoryItem(line=2, name="Acetaminofén 500 mg")) == []
    assert Matcher(ENTRIES[:5]).candidates(InventoryItem(line=2, name="---")) == []


def test_catalogue_entries_skip_inactive_rows() -> None:
    inactive = {r["product_code"] for r in RECORDS if r["status"] != "ACTIVE"}
    assert inactive
    assert not inactive & {e.product_code for e in ENTRIES}
    assert len(catalogue_entries(RECORDS, include_inactive=True)) == len(RECORDS)


# --- files ----------------------------------------------------------------------------------------


def test_read_inventory_csv_keeps_every_column(tmp_path: Path) -> None:
    path = tmp_path / "inventario.csv"
    path.write_text(
        'sku,name,strength,qty\nA1,Acetaminofén 500 mg tab,,10\nA2,"Ibuprofeno, suspensión",100 mg/5 mL,3\n',
        "utf-8-sig",  # a spreadsheet's BOM
    )
    items = read_inventory(path)
    assert [i.line for i in items] == [2, 3]
    assert items[0].name == "Acetaminofén 500 mg tab"
    assert items[0].strength is None
    assert items[1].strength == "100 mg/5 mL"
    assert items[0].extra == {"sku": "A1", "qty": "10"}
    assert items[0].columns == ("sku", "name", "strength", "qty")


def test_read_inventory_semicolon_csv(tmp_path: Path) -> None:
    path = tmp_path / "inventario.csv"
    path.write_text("Name;Precio\nLosartán 50 mg;1,50\n", "utf-8")
    (item,) = read_inventory(path)
    assert (item.name, item.extra) == ("Losartán 50 mg", {"Precio": "1,50"})


def test_read_inventory_names_the_lines_without_a_name(tmp_path: Path) -> None:
    path = tmp_path / "inventario.csv"
    path.write_text("name,qty\nAcetaminofén,1\n  ,2\nIbuprofeno,3\n,4\n", "utf-8")
    with pytest.raises(ValueError, match=r"line 3: the row has no name.*line 5: the row has no name"):
        read_inventory(path)


def test_read_inventory_without_a_name_column(tmp_path: Path) -> None:
    path = tmp_path / "inventario.csv"
    path.write_text("articulo,qty\nAcetaminofén,1\n", "utf-8")
    with pytest.raises(ValueError, match=r"line 1: .*no 'name' column"):
        read_inventory(path)


def test_read_inventory_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "inventario.jsonl"
    path.write_text(
        '{"name": "Omeprazol 20 mg caps", "form": "cápsula", "stock": 12}\n'
        "\n"
        '{"name": "Hemograma", "price": null}\n',
        "utf-8",
    )
    items = read_inventory(path)
    assert [i.line for i in items] == [1, 3]
    assert items[0].form == "cápsula"
    assert items[0].extra == {"stock": "12"}
    assert items[1].extra == {"price": ""}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"name": "Omeprazol"}\n{"stock": 3}\n', "line 2: the row has no name"),
        ('{"name": "Omeprazol"}\n{"name": \n', "line 2: invalid JSON"),
        ('{"name": "Omeprazol"}\n["Omeprazol"]\n', "line 2: each line must be a JSON object"),
    ],
)
def test_read_inventory_jsonl_errors_name_the_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "inventario.jsonl"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError, match=message):
        read_inventory(path)


def test_write_proposals_columns_and_values(matcher: Matcher, tmp_path: Path) -> None:
    source = tmp_path / "inventario.csv"
    source.write_text(
        "sku,name,qty\nA1,IBUPROFENO 400MG TAB X 30,10\nA2,xilofono cuantico,1\nA3,Hemograma completo,0\n",
        "utf-8",
    )
    items = read_inventory(source)
    proposals = [matcher.candidates(item, top=3) for item in items]
    out = tmp_path / "proposals.csv"
    write_proposals(out, items, proposals, top=3)
    with out.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    assert header == [
        "sku",
        "name",
        "qty",
        "product_code",
        "score",
        "candidate_code",
        "candidate_name",
        "reason",
        "alternative_2_code",
        "alternative_2_name",
        "alternative_2_score",
        "alternative_3_code",
        "alternative_3_name",
        "alternative_3_score",
    ]
    first, nonsense, lab = rows
    assert (first["sku"], first["name"], first["qty"]) == ("A1", "IBUPROFENO 400MG TAB X 30", "10")
    assert first["product_code"] == code("Ibuprofeno 400 mg Tableta")
    assert first["candidate_name"] == "Ibuprofeno 400 mg Tableta"
    assert first["candidate_code"] == first["product_code"]
    assert float(first["score"]) >= ACCEPT_SCORE
    assert first["alternative_2_code"]
    assert float(first["alternative_2_score"]) <= float(first["score"])
    assert nonsense["product_code"] == ""
    assert nonsense["candidate_code"] != "" or nonsense["score"] == ""
    assert nonsense["qty"] == "1"
    assert lab["product_code"] == code("Hemograma completo")


def test_write_proposals_top_one_and_short_lists(tmp_path: Path) -> None:
    items = [InventoryItem(line=2, name="Algo", extra={"qty": "1"})]
    out = tmp_path / "p.csv"
    write_proposals(out, items, [[Candidate("X-1", "Algo", 91.25)]], top=1)
    assert out.read_text("utf-8").splitlines() == [
        "name,qty,product_code,score,candidate_code,candidate_name,reason",
        "Algo,1,X-1,91.2,X-1,Algo,",
    ]
    write_proposals(out, items, [[Candidate("X-1", "Algo", 91.0)]], top=2)
    assert out.read_text("utf-8").splitlines()[1] == "Algo,1,X-1,91.0,X-1,Algo,,,,"
    with pytest.raises(ValueError, match="1 items but 0 proposal lists"):
        write_proposals(out, items, [], top=1)


def test_write_proposals_keeps_a_clashing_inventory_column(tmp_path: Path) -> None:
    source = tmp_path / "inventario.csv"
    source.write_text("product_code,name\nOLD-1,Acetaminofén 500 mg Tableta\n", "utf-8")
    items = read_inventory(source)
    out = tmp_path / "p.csv"
    write_proposals(out, items, [[Candidate("MED-1", "Acetaminofén 500 mg Tableta", 100.0)]], top=1)
    header, row = out.read_text("utf-8").splitlines()
    assert header == "inventory_product_code,name,product_code,score,candidate_code,candidate_name,reason"
    assert row == "OLD-1,Acetaminofén 500 mg Tableta,MED-1,100.0,MED-1,Acetaminofén 500 mg Tableta,"


# --- issue 10: precision first -------------------------------------------------------------------

_I10 = [
    {"product_code": "T-1", "product_type": "MEDICATION", "name": "Aciclovir 200 mg Tableta",
     "status": "ACTIVE", "synonyms": [{"name": "Zovirax", "kind": "brand", "countries": []}]},
    {"product_code": "T-2", "product_type": "MEDICATION", "name": "Nifedipino 30 mg Tableta",
     "status": "ACTIVE"},
    {"product_code": "T-3", "product_type": "MEDICATION", "name": "Ketamina 50 mg/mL Solución inyectable",
     "status": "ACTIVE"},
    {"product_code": "T-4", "product_type": "MEDICATION", "name": "Zolpidem 10 mg Tableta",
     "status": "INACTIVE"},
    {"product_code": "T-5", "product_type": "LAB", "name": "Aciclovir en sangre", "status": "ACTIVE"},
]  # fmt: skip


def _i10(name: str, types: tuple[str, ...] | None = None) -> list[Candidate]:
    return Matcher(catalogue_entries(_I10, product_types=types)).candidates(InventoryItem(line=2, name=name))


def test_inactive_entries_are_never_proposed() -> None:
    assert all(c.product_code != "T-4" for c in _i10("ZOLPIDEM 10 MG TAB"))


def test_a_contradicting_form_or_release_is_never_filled() -> None:
    vial = _i10("ACICLOVIR FA 200 MG")
    assert vial[0].product_code == "T-1"
    assert accepted(vial) is None
    assert vial[0].blocked
    assert "form contradicts" in vial[0].blocked
    extended = _i10("NIFEDIPINO XL 30 MG TAB")
    assert accepted(extended) is None
    assert "release contradicts" in (extended[0].blocked or "")
    plain = _i10("NIFEDIPINO 30MG TAB X 30")
    assert accepted(plain) is not None
    assert "strength 30 mg" in plain[0].reason


def test_pack_sizes_are_not_strengths_and_vial_totals_are_concentrations() -> None:
    assert [q.key for q in parse_name("Crema 15 g/Tubo 1/Caja").quantities] == []
    assert [q.key for q in parse_name("ALPRAZOLAM CM 0,5 MG (CJX30CM").quantities] == [("mass", 0.5)]
    assert ("mass/ml", 50.0) in parse_name("KETAMINA 500 MG/10 ML").quantities[0].keys
    vial = _i10("KETAMINA 500 MG/10 ML AMP")
    assert accepted(vial) is not None
    assert vial[0].product_code == "T-3"


def test_synonyms_and_product_type_limit() -> None:
    brand = _i10("ZOVIRAX 200 MG TABLETAS")
    assert accepted(brand) is not None
    assert brand[0].product_code == "T-1"
    assert "synonym zovirax" in brand[0].reason
    assert {c.product_code for c in _i10("ACICLOVIR", ("LAB",))} == {"T-5"}
