"""The SDK's catalogue shapes against the real app: synonyms, the synonym a search matched, batch lookup."""

from __future__ import annotations

import pytest

from provider_products_client import errors, models
from provider_products_client.onboarding import match as matching
from tests.client.conftest import Connect, SyncConnect

pytestmark = [
    pytest.mark.filterwarnings("ignore:You should not use the 'timeout' argument with the TestClient"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]

LOOKUP = "/arc/v1/products/lookup"


async def test_get_medication_carries_typed_synonyms(connect: Connect) -> None:
    h = await connect()
    medication = await h.api.get_medication("MED-042")
    assert all(isinstance(s, models.Synonym) for s in medication.synonyms)
    by_name = {s.name: s for s in medication.synonyms}
    assert by_name["Dolex"] == models.Synonym(name="Dolex", kind="brand", countries=["CO"])
    assert by_name["Acetaminofén"].kind == "regional"
    assert medication.matched_synonym is None


async def test_get_product_service_product_carries_synonyms_with_empty_countries(connect: Connect) -> None:
    h = await connect()
    lab = await h.api.get_product("LAB-HEMO")
    assert isinstance(lab, models.ServiceProduct)
    cbc = next(s for s in lab.synonyms if s.name == "CBC")
    assert (cbc.kind, cbc.countries) == ("abbreviation", [])


async def test_list_products_search_by_brand_says_which_synonym_matched(connect: Connect) -> None:
    h = await connect()
    page = await h.api.list_products(query="dolex", size=50)
    matched = {p.product_code: p.matched_synonym for p in page.content}
    assert matched["MED-042"] == "Dolex"
    assert all(name is not None and name.startswith("Dolex") for name in matched.values())
    by_name = await h.api.list_products(query="paracetamol 500", size=50)
    assert {p.matched_synonym for p in by_name.content if p.product_code == "MED-042"} == {None}


async def test_list_medications_search_by_regional_name_says_which_synonym_matched(connect: Connect) -> None:
    h = await connect()
    page = await h.api.list_medications(query="acetaminofen 500")
    hit = next(m for m in page.content if m.product_code == "MED-042")
    assert hit.matched_synonym == "Acetaminofén"


async def test_lookup_products_answers_typed_item_per_code_in_order(
    connect: Connect, inactive_code: str
) -> None:
    h = await connect()
    inactive = await h.api.get_product(inactive_code)
    result = await h.api.lookup_products(["med-042", "NOPE-1", "bad code", inactive_code, "LAB-HEMO"])
    assert h.sent(LOOKUP, "POST") == 1
    assert isinstance(result, models.LookupResult)
    assert [(i.product_code, i.found, i.status, i.product_type, i.error_code) for i in result.content] == [
        ("MED-042", True, "ACTIVE", "MEDICATION", None),
        ("NOPE-1", False, None, None, None),
        ("bad code", False, None, None, "071-105"),
        (inactive_code, True, "INACTIVE", inactive.product_type, None),
        ("LAB-HEMO", True, "ACTIVE", "LAB", None),
    ]
    assert result.content[0].name == "Paracetamol 500 mg Tableta"


async def test_lookup_products_over_500_codes_raises_validation_failed(connect: Connect) -> None:
    h = await connect()
    with pytest.raises(errors.ValidationFailed) as raised:
        await h.api.lookup_products([f"MED-{n}" for n in range(501)])
    assert (raised.value.status_code, raised.value.error_code) == (422, "071-105")
    assert [e["field"] for e in raised.value.errors] == ["product_codes"]


async def test_catalogue_fetched_through_the_sdk_keeps_synonyms_for_matching(connect: Connect) -> None:
    h = await connect()
    entries = await matching.fetch_catalogue(h.api, product_types=["MEDICATION"])
    paracetamol = next(e for e in entries if e.product_code == "MED-042")
    assert {"Dolex", "Tylenol", "Acetaminofén"} <= set(paracetamol.synonyms)


def test_sync_lookup_and_search_return_typed_synonym_fields(sync_connect: SyncConnect) -> None:
    h = sync_connect()
    result = h.api.lookup_products(["lab-hemo", "NOPE-1"])
    assert [(i.product_code, i.found, i.product_type) for i in result.content] == [
        ("LAB-HEMO", True, "LAB"),
        ("NOPE-1", False, None),
    ]
    hit = h.api.list_products(query="biometria hematica").content[0]
    assert (hit.product_code, hit.matched_synonym) == ("LAB-HEMO", "Biometría hemática")
    medication = h.api.get_medication("MED-042")
    assert models.Synonym(name="Tempra", kind="brand", countries=["MX"]) in medication.synonyms


def test_catalogue_entry_without_synonym_fields_parses_with_empty_defaults() -> None:
    # What a server from before synonyms answers.
    old = {
        "product_code": "LAB-HEMO",
        "product_type": "LAB",
        "name": "Hemograma completo",
        "status": "ACTIVE",
    }
    product = models.ServiceProduct.model_validate(old)
    assert (product.synonyms, product.matched_synonym) == ([], None)
