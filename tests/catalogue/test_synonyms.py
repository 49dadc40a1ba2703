"""Catalogue synonyms: read from import files, stored, answered, and searched like names."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from provider_products.catalogue import importer
from provider_products.catalogue.importer import ImportRejected
from tests.conftest import ApiClient

MEDICATIONS = "/medical-catalogs/v1/medications"
PRODUCTS = "/arc/v1/products"

CSV_HEADER = "product_code,product_type,name,active_ingredient,synonyms\n"


@pytest.fixture
async def client(make_client: Any) -> ApiClient:
    """A client with a limit high enough for several searches."""
    result: ApiClient = await make_client(rate_limit="100000/minute")
    return result


async def _search(
    http: httpx.AsyncClient, client: ApiClient, path: str, **params: Any
) -> list[dict[str, Any]]:
    response = await http.get(path, params={"size": 200, **params}, headers=client.headers)
    assert response.status_code == 200, response.text
    content: list[dict[str, Any]] = response.json()["content"]
    return content


# --- search ----------------------------------------------------------------------------------------


async def test_search_brand_finds_generic_with_matched_synonym(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _search(http, client, MEDICATIONS, query="dolex")
    by_code = {i["product_code"]: i for i in items}
    assert by_code["MED-SBX-0001"]["name"] == "Acetaminofén 500 mg Tableta"
    assert by_code["MED-SBX-0001"]["matched_synonym"] == "Dolex"
    assert all("Acetaminofén" in i["name"] or "Paracetamol" in i["name"] for i in items)
    assert all(i["matched_synonym"].startswith("Dolex") for i in items)


async def test_search_brand_and_strength_narrows_to_one_tablet(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _search(http, client, MEDICATIONS, query="dolex 500")
    assert {i["product_code"] for i in items} == {"MED-SBX-0001", "MED-042"}
    assert {i["matched_synonym"] for i in items} == {"Dolex"}


@pytest.mark.parametrize(
    ("query", "code", "synonym"),
    [
        ("orina completa", "LAB-SBX-0135", "Orina completa"),
        ("biometria hematica", "LAB-HEMO", "Biometría hemática"),
        ("BHC", "LAB-HEMO", "BHC"),
        ("pantomografia", "IMG-SBX-0015", "Pantomografía"),
        ("ecotomografia abdominal completa", "IMG-SBX-0063", "Ecotomografía abdominal completa"),
        ("vias digestivas altas", "IMG-SBX-0057", "Vías digestivas altas"),
        ("radiografia de omoplato", "IMG-SBX-0027", "Radiografía de omóplato"),
        ("creatininemia", "LAB-SBX-0031", "Creatininemia"),
        ("impedanciometria", "PRC-SBX-0112", "Impedanciometría"),
    ],
)
async def test_search_regional_study_name_finds_the_study_first(
    http: httpx.AsyncClient, client: ApiClient, query: str, code: str, synonym: str
) -> None:
    items = await _search(http, client, PRODUCTS, query=query)
    assert items[0]["product_code"] == code
    assert items[0]["matched_synonym"] == synonym


async def test_search_market_brand_and_strength_finds_that_strength(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _search(http, client, MEDICATIONS, query="ulsen 20")
    assert [(i["product_code"], i["matched_synonym"]) for i in items] == [("MED-SBX-0345", "Ulsen")]


async def test_search_english_inn_finds_only_that_ingredient(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _search(http, client, MEDICATIONS, query="amoxicillin")
    assert {i["product_code"] for i in items} == {
        "MED-SBX-0067",
        "MED-SBX-0068",
        "MED-SBX-0069",
        "MED-SBX-0070",
    }
    assert {i["matched_synonym"] for i in items} == {"Amoxicillin"}


async def test_search_own_name_match_has_no_matched_synonym(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _search(http, client, PRODUCTS, query="hemograma completo")
    assert items[0]["product_code"] == "LAB-HEMO"
    assert items[0]["matched_synonym"] is None


async def test_search_ranks_names_before_synonyms_starting_with_query(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _search(http, client, MEDICATIONS, query="paracetamol")
    kinds = [i["matched_synonym"] is not None for i in items]
    assert kinds == sorted(kinds), "entries named Paracetamol come before those found by the synonym"
    assert any(i["product_code"] == "MED-SBX-0001" and i["matched_synonym"] == "Paracetamol" for i in items)
    assert items[0]["name"].startswith("Paracetamol")


async def test_search_words_split_between_synonyms_do_not_match(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    # "Dolex" and "Tylenol" are two synonyms of one entry: all words must match one synonym (plus the entry).
    assert await _search(http, client, MEDICATIONS, query="dolex tylenol") == []


async def test_search_synonym_respects_product_type(http: httpx.AsyncClient, client: ApiClient) -> None:
    assert await _search(http, client, PRODUCTS, query="dolex", product_type="LAB") == []


# --- import ----------------------------------------------------------------------------------------


def test_parse_jsonl_synonym_objects_and_plain_names() -> None:
    line = (
        '{"product_code": "T-1", "product_type": "MEDICATION", "name": "Ibuprofeno 400 mg Tableta", '
        '"synonyms": [{"name": "Advil", "kind": "brand", "countries": ["CO", "MX"]}, "Ibupirac"]}'
    )
    [entry] = importer.parse(line, "jsonl")
    assert [s.model_dump() for s in entry.synonyms] == [
        {"name": "Advil", "kind": "brand", "countries": ["CO", "MX"]},
        {"name": "Ibupirac", "kind": "regional", "countries": []},
    ]


def test_parse_csv_synonyms_cell_with_kinds_and_countries() -> None:
    content = (
        CSV_HEADER
        + 'T-1,MEDICATION,Ibuprofeno 400 mg,Ibuprofeno,"Advil [brand] | Ibupirac [brand:AR] | Ibu"\n'
    )
    [entry] = importer.parse(content, "csv")
    assert [s.model_dump() for s in entry.synonyms] == [
        {"name": "Advil", "kind": "brand", "countries": []},
        {"name": "Ibupirac", "kind": "brand", "countries": ["AR"]},
        {"name": "Ibu", "kind": "regional", "countries": []},
    ]


def test_parse_csv_empty_synonyms_cell_is_no_synonyms() -> None:
    [entry] = importer.parse(CSV_HEADER + "T-1,MEDICATION,Ibuprofeno 400 mg,Ibuprofeno,\n", "csv")
    assert entry.synonyms == []


@pytest.mark.parametrize(
    ("synonyms", "message"),
    [
        ('[{"name": "Advil", "kind": "trade"}]', "kind"),
        ('[{"name": "Advil", "kind": "brand", "countries": ["co"]}]', "ISO 3166-1 alpha-2"),
        ('[{"name": "Advil", "kind": "brand", "countries": ["COL"]}]', "ISO 3166-1 alpha-2"),
        ('[""]', "1 to 200 characters"),
        ('["' + "x" * 201 + '"]', "1 to 200 characters"),
        ('["Ad\\u0000vil"]', "control characters"),
        ('["Advil", "ADVIL"]', "listed twice"),
        ('[{"name": "Advil", "kind": "brand", "extra": 1}]', "extra"),
        ("[" + ", ".join(f'"S{n}"' for n in range(51)) + "]", "at most 50"),
        ("5", "list"),
    ],
)
def test_parse_jsonl_bad_synonyms_rejected_with_line(synonyms: str, message: str) -> None:
    good = '{"product_code": "T-1", "product_type": "LAB", "name": "Uno"}'
    bad = f'{{"product_code": "T-2", "product_type": "LAB", "name": "Dos", "synonyms": {synonyms}}}'
    with pytest.raises(ImportRejected) as raised:
        importer.parse(f"{good}\n{bad}\n", "jsonl")
    [error] = raised.value.errors
    assert error.line == 2
    assert error.message.startswith("synonyms")
    assert message.lower() in error.message.lower()


@pytest.mark.parametrize(
    "cell",
    ["Advil [brand:CO", "Advil [trade]", "Advil [brand:co]", "Advil ] x"],
)
def test_parse_csv_bad_synonyms_rejected_with_line(cell: str) -> None:
    content = CSV_HEADER + "T-1,LAB,Uno,,\n" + f'T-2,LAB,Dos,,"{cell}"\n'
    with pytest.raises(ImportRejected) as raised:
        importer.parse(content, "csv")
    assert [e.line for e in raised.value.errors] == [3]
    assert raised.value.errors[0].message.startswith("synonyms")


async def test_import_bad_synonym_writes_nothing(
    app: Any, http: httpx.AsyncClient, client: ApiClient
) -> None:
    content = (
        '{"product_code": "T-NEW-1", "product_type": "LAB", "name": "Prueba nueva", "synonyms": ["Nueva"]}\n'
        '{"product_code": "LAB-HEMO", "product_type": "LAB", "name": "Hemograma completo", '
        '"synonyms": [{"name": "CBC", "kind": "acronym"}]}\n'
    )
    with pytest.raises(ImportRejected) as raised:
        await importer.import_content(app.state.runtime.database, content, "jsonl")
    assert [e.line for e in raised.value.errors] == [2]
    assert await _search(http, client, PRODUCTS, query="prueba nueva") == []
    hemo = (await http.get(f"{PRODUCTS}/LAB-HEMO", headers=client.headers)).json()
    assert "CBC" in {s["name"] for s in hemo["synonyms"]}


async def test_import_csv_synonyms_are_answered_and_searched(
    app: Any, http: httpx.AsyncClient, client: ApiClient
) -> None:
    content = (
        CSV_HEADER + 'T-MED-1,MEDICATION,Zolmitriptán 2.5 mg Tableta,Zolmitriptán,"Zomig [brand:MX,CO]"\n'
    )
    result = await importer.import_content(app.state.runtime.database, content, "csv")
    assert result.inserted == 1
    body = (await http.get(f"{MEDICATIONS}/T-MED-1", headers=client.headers)).json()
    assert body["synonyms"] == [{"name": "Zomig", "kind": "brand", "countries": ["MX", "CO"]}]
    items = await _search(http, client, MEDICATIONS, query="zomig")
    assert [(i["product_code"], i["matched_synonym"]) for i in items] == [("T-MED-1", "Zomig")]


async def test_reimport_changed_synonyms_updates_and_search_follows(
    app: Any, http: httpx.AsyncClient, client: ApiClient
) -> None:
    database = app.state.runtime.database
    row = (
        '{{"product_code": "T-MED-2", "product_type": "MEDICATION", "name": "Rizatriptán 10 mg", '
        '"synonyms": {}}}'
    )
    await importer.import_content(database, row.format('["Maxalt"]'), "jsonl")
    assert [i["product_code"] for i in await _search(http, client, MEDICATIONS, query="maxalt")] == [
        "T-MED-2"
    ]
    same = await importer.import_content(database, row.format('["Maxalt"]'), "jsonl")
    assert (same.updated, same.unchanged) == (0, 1)
    changed = await importer.import_content(database, row.format('["Rizalt"]'), "jsonl")
    assert (changed.inserted, changed.updated) == (0, 1)
    assert await _search(http, client, MEDICATIONS, query="maxalt") == []
    found = await _search(http, client, MEDICATIONS, query="rizalt")
    assert [(i["product_code"], i["matched_synonym"]) for i in found] == [("T-MED-2", "Rizalt")]
    dropped = await importer.import_content(database, row.format("[]"), "jsonl")
    assert dropped.updated == 1
    assert await _search(http, client, MEDICATIONS, query="rizalt") == []


async def test_api_answer_imports_again_unchanged(
    app: Any, http: httpx.AsyncClient, client: ApiClient
) -> None:
    entry = (await http.get(f"{PRODUCTS}/MED-SBX-0001", headers=client.headers)).json()
    line = importer.CatalogueEntryIn.model_validate(entry).model_dump_json()
    result = await importer.import_content(app.state.runtime.database, line, "jsonl")
    assert (result.unchanged, result.updated) == (1, 0)
