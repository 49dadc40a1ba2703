"""The global catalogues over HTTP: lookups, accent-insensitive search, ordering, pagination."""

from __future__ import annotations

import unicodedata
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_products.catalogue import importer, text
from tests.conftest import ApiClient, assert_error

MEDICATIONS = "/medical-catalogs/v1/medications"
PRODUCTS = "/arc/v1/products"

SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")


def _reference(query: str, product_type: str | None = None) -> list[str]:
    """What a search must return, computed in Python from the definition (order aside)."""
    words = text.words(query)
    if not words:
        return []  # a query with no letters or digits matches nothing
    found = []
    for entry in SANDBOX:
        if product_type and entry.product_type != product_type:
            continue
        ingredient = entry.active_ingredient if entry.product_type == "MEDICATION" else None
        own = text.search_text(entry.product_code, entry.name, ingredient).split()
        documents = [own] + [own + text.words(s.name) for s in entry.synonyms]
        if any(all(any(w.startswith(q) for w in doc) for q in words) for doc in documents):
            found.append(entry.product_code)
    return found


async def _walk(http: httpx.AsyncClient, client: ApiClient, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 0
    while True:
        response = await http.get(path, params={**params, "page": page}, headers=client.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["content"])
        if page >= body["page"]["total_pages"] - 1:
            assert len(items) == body["page"]["total_elements"]
            return items
        page += 1


@pytest.fixture
async def client(make_client: Any) -> ApiClient:
    """A client with a limit high enough for walking catalogues."""
    result: ApiClient = await make_client(rate_limit="100000/minute")
    return result


async def test_get_medication_returns_medication_fields(http: httpx.AsyncClient, client: ApiClient) -> None:
    response = await http.get(f"{MEDICATIONS}/med-042", headers=client.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["product_code"] == "MED-042"
    assert body["product_type"] == "MEDICATION"
    assert body["atc_code"] == "N02BE01"
    assert set(body) == {
        "product_code",
        "product_type",
        "name",
        "status",
        "active_ingredient",
        "concentration",
        "pharmaceutical_form",
        "presentation",
        "atc_code",
        "synonyms",
        "matched_synonym",
    }
    assert body["matched_synonym"] is None


async def test_get_lab_product_returns_coding(http: httpx.AsyncClient, client: ApiClient) -> None:
    body = (await http.get(f"{PRODUCTS}/LAB-HEMO", headers=client.headers)).json()
    assert body["product_type"] == "LAB"
    assert set(body) == {
        "product_code",
        "product_type",
        "name",
        "status",
        "description",
        "coding_system",
        "coding_code",
        "synonyms",
        "matched_synonym",
    }
    assert {"name": "Biometría hemática", "kind": "regional", "countries": ["MX"]} in body["synonyms"]


async def test_get_unknown_code_is_404_not_in_catalogue(http: httpx.AsyncClient, client: ApiClient) -> None:
    info = assert_error(await http.get(f"{PRODUCTS}/NOPE-9", headers=client.headers), 404, "071-101")
    assert info == {"product_code": "NOPE-9"}


async def test_get_lab_under_medications_is_404(http: httpx.AsyncClient, client: ApiClient) -> None:
    assert_error(await http.get(f"{MEDICATIONS}/LAB-HEMO", headers=client.headers), 404, "071-101")


async def test_search_without_accent_finds_accented_name(http: httpx.AsyncClient, client: ApiClient) -> None:
    items = await _walk(http, client, MEDICATIONS, query="acetaminofen", size=200)
    assert items
    assert any("Acetaminofén" in i["name"] for i in items)
    assert sorted(i["product_code"] for i in items) == sorted(_reference("acetaminofen", "MEDICATION"))


async def test_search_with_accent_and_case_finds_the_same(http: httpx.AsyncClient, client: ApiClient) -> None:
    plain = await _walk(http, client, MEDICATIONS, query="acetaminofen", size=200)
    accented = await _walk(http, client, MEDICATIONS, query="ACETAMINOFÉN", size=200)
    assert plain == accented


async def test_search_guide_query_paracetamol_finds_med_042(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    codes = [i["product_code"] for i in await _walk(http, client, MEDICATIONS, query="paracetamol", size=200)]
    assert "MED-042" in codes


async def test_search_several_words_must_all_match_as_prefixes(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _walk(http, client, MEDICATIONS, query="acetam 500", size=200)
    assert items
    assert sorted(i["product_code"] for i in items) == sorted(_reference("acetam 500", "MEDICATION"))
    for item in items:
        words = text.words(f"{item['product_code']} {item['name']} {item['active_ingredient'] or ''}")
        words += text.words(item["matched_synonym"] or "")
        assert any(w.startswith("acetam") for w in words)
        assert any(w.startswith("500") for w in words)


async def test_search_matches_word_prefixes_not_infixes(http: httpx.AsyncClient, client: ApiClient) -> None:
    infix = await _walk(http, client, MEDICATIONS, query="cetaminofen", size=200)
    assert all(
        "cetaminofen" in text.words(i["name"])
        or any(w.startswith("cetaminofen") for w in text.words(i["name"]))
        for i in infix
    )
    assert not any(i["name"].startswith("Acetaminofén") for i in infix)


async def test_search_exact_code_ranks_first(http: httpx.AsyncClient, client: ApiClient) -> None:
    response = await http.get(PRODUCTS, params={"query": "med-sbx-0001"}, headers=client.headers)
    assert response.json()["content"][0]["product_code"] == "MED-SBX-0001"


async def test_search_orders_by_relevance_then_name_then_code(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _walk(http, client, PRODUCTS, query="a", size=200)
    assert len(items) == len(_reference("a"))

    def key(item: dict[str, Any]) -> tuple[int, str, str]:
        name = text.name_key(item["name"])
        by_synonym = any(text.name_key(s["name"]).startswith("a") for s in item["synonyms"])
        return (0 if name.startswith("a") else 1 if by_synonym else 2, name, item["product_code"].upper())

    assert items == sorted(items, key=key)


async def test_search_matching_nothing_is_an_empty_page(http: httpx.AsyncClient, client: ApiClient) -> None:
    body = (await http.get(PRODUCTS, params={"query": "zzzqqq"}, headers=client.headers)).json()
    assert body == {"content": [], "page": {"size": 15, "number": 0, "total_elements": 0, "total_pages": 0}}


async def test_search_of_punctuation_only_matches_nothing(http: httpx.AsyncClient, client: ApiClient) -> None:
    body = (await http.get(PRODUCTS, params={"query": "%_*'\""}, headers=client.headers)).json()
    assert body["content"] == []


async def test_list_lab_products_returns_only_labs(http: httpx.AsyncClient, client: ApiClient) -> None:
    items = await _walk(http, client, PRODUCTS, product_type="LAB", size=50)
    assert items
    assert all(i["product_type"] == "LAB" for i in items)
    assert len(items) == sum(1 for e in SANDBOX if e.product_type == "LAB")


async def test_walking_all_pages_visits_every_item_exactly_once(
    http: httpx.AsyncClient, client: ApiClient
) -> None:
    items = await _walk(http, client, PRODUCTS, size=37)
    codes = [i["product_code"] for i in items]
    assert len(codes) == len(set(codes)) == len(SANDBOX)
    assert codes == sorted(codes, key=str.upper)


async def test_pages_carry_link_header(http: httpx.AsyncClient, client: ApiClient) -> None:
    response = await http.get(
        PRODUCTS, params={"product_type": "LAB", "size": 10, "page": 1}, headers=client.headers
    )
    link = response.headers["link"]
    total_pages = response.json()["page"]["total_pages"]
    assert 'page=0>; rel="first"' in link
    assert 'page=0>; rel="prev"' in link
    assert 'page=2>; rel="next"' in link
    assert f'page={total_pages - 1}>; rel="last"' in link
    assert "product_type=LAB" in link
    assert "size=10" in link


async def test_page_past_the_end_is_empty_with_totals(http: httpx.AsyncClient, client: ApiClient) -> None:
    body = (await http.get(PRODUCTS, params={"page": 10_000}, headers=client.headers)).json()
    assert body["content"] == []
    assert body["page"]["total_elements"] == len(SANDBOX)


@pytest.mark.parametrize(
    "params",
    [
        {"size": 0},
        {"size": 201},
        {"page": -1},
        {"size": "ten"},
        {"product_type": "drug"},
        {"query": "x" * 201},
    ],
)
async def test_bad_list_parameters_are_422(
    http: httpx.AsyncClient, client: ApiClient, params: dict[str, Any]
) -> None:
    info = assert_error(await http.get(PRODUCTS, params=params, headers=client.headers), 422, "071-105")
    assert info["errors"][0]["field"] in {"size", "page", "product_type", "query"}


VOCABULARY = sorted({w for e in SANDBOX for w in text.words(e.name)})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    words=st.lists(
        st.one_of(
            st.sampled_from(VOCABULARY).map(lambda w: w[: max(1, len(w) // 2)]),
            st.sampled_from(VOCABULARY),
            st.text(min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=3,
    )
)
async def test_search_equals_its_definition(
    http: httpx.AsyncClient, client: ApiClient, words: list[str]
) -> None:
    query = " ".join(words)
    if not query.strip() or len(text.words(query)) > 10:
        return
    if any(unicodedata.category(ch) == "Cc" for ch in query):
        response = await http.get(PRODUCTS, params={"query": query}, headers=client.headers)
        assert_error(response, 422, "071-105")
        return
    items = await _walk(http, client, PRODUCTS, query=query, size=200)
    assert sorted(i["product_code"] for i in items) == sorted(_reference(query))


async def test_query_with_control_characters_is_422(http: httpx.AsyncClient, client: ApiClient) -> None:
    info = assert_error(
        await http.get(PRODUCTS, params={"query": "0\x00"}, headers=client.headers), 422, "071-105"
    )
    assert info["errors"][0]["field"] == "query"


async def test_import_elsewhere_reaches_search(app: Any, http: httpx.AsyncClient, client: ApiClient) -> None:
    line = (
        '{"product_code": "MED-NEW-1", "product_type": "MEDICATION", "name": "Zolmitriptán 2.5 mg Tableta", '
        '"active_ingredient": "Zolmitriptán"}'
    )
    before = await http.get(PRODUCTS, params={"query": "zolmitriptan"}, headers=client.headers)
    assert before.json()["content"] == []
    await importer.import_content(app.state.runtime.database, line, "jsonl")
    after = await http.get(PRODUCTS, params={"query": "zolmitriptan 2.5"}, headers=client.headers)
    assert [i["product_code"] for i in after.json()["content"]] == ["MED-NEW-1"]
    listed = await http.get(PRODUCTS, params={"size": 1}, headers=client.headers)
    assert listed.json()["page"]["total_elements"] == len(SANDBOX) + 1
