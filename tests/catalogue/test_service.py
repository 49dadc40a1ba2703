"""Catalogue rules, called directly on the service: lookups, what may be registered, search."""

from __future__ import annotations

import pytest

from provider_products.catalogue import importer, text
from provider_products.catalogue import service as catalogue_service
from provider_products.catalogue.index import Snapshot
from provider_products.catalogue.sharing import SearchIndex
from provider_products.db.engine import Database
from provider_products.errors import ProductNotInCatalogue, ValidationFailed
from provider_products.pagination import PageParams

SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")
ALL = PageParams(page=0, size=200)


@pytest.fixture
async def snapshot(database: Database) -> Snapshot:
    """The search index over this test's catalogue."""
    return await SearchIndex(database, refresh_seconds=0).current()


async def _search(
    database: Database, snapshot: Snapshot, query: str | None, product_type: str | None = None
) -> list[str]:
    async with database.transaction() as conn:
        page = await catalogue_service.list_products(
            conn, snapshot, product_type=product_type, query=query, params=ALL
        )
    return [item.product_code for item in page.content]


def _name(code: str) -> str:
    return next(e.name for e in SANDBOX if e.product_code == code)


def _texts(code: str) -> str:
    """The entry's name and synonyms: the text a search matches besides code and ingredient."""
    entry = next(e for e in SANDBOX if e.product_code == code)
    return " ".join([entry.name, *(s.name for s in entry.synonyms)])


# lookups


async def test_get_product_lower_case_code_answers_catalogue_entry(database: Database) -> None:
    async with database.transaction() as conn:
        product = await catalogue_service.get_product(conn, code=" med-042 ")
    assert (product.product_code, product.product_type, product.name) == (
        "MED-042",
        "MEDICATION",
        "Paracetamol 500 mg Tableta",
    )


async def test_get_product_of_other_type_raises_product_not_in_catalogue(database: Database) -> None:
    async with database.transaction() as conn:
        with pytest.raises(ProductNotInCatalogue) as caught:
            await catalogue_service.get_product(conn, code="LAB-HEMO", product_type="MEDICATION")
    assert caught.value.additional_information == {"product_code": "LAB-HEMO"}


async def test_get_product_unknown_code_raises_product_not_in_catalogue(database: Database) -> None:
    async with database.transaction() as conn:
        with pytest.raises(ProductNotInCatalogue) as caught:
            await catalogue_service.get_product(conn, code=" NOPE-9 ")
    assert caught.value.additional_information == {"product_code": "NOPE-9"}


async def test_get_product_withdrawn_code_answers_entry_marked_inactive(
    database: Database, inactive_code: str
) -> None:
    async with database.transaction() as conn:
        product = await catalogue_service.get_product(conn, code=inactive_code.lower())
    assert (product.product_code, product.status) == (inactive_code, "INACTIVE")


async def test_registrable_active_code_answers_catalogue_spelling(database: Database) -> None:
    async with database.transaction() as conn:
        found = await catalogue_service.registrable(conn, code="lab-hemo")
    assert found.product_code == "LAB-HEMO"


async def test_registrable_withdrawn_code_raises_product_not_in_catalogue(
    database: Database, inactive_code: str
) -> None:
    async with database.transaction() as conn:
        with pytest.raises(ProductNotInCatalogue):
            await catalogue_service.registrable(conn, code=inactive_code)


async def test_lookup_id_withdrawn_code_answers_catalogue_spelling(
    database: Database, inactive_code: str
) -> None:
    async with database.transaction() as conn:
        found = await catalogue_service.lookup_id(conn, code=inactive_code.lower())
        missing = await catalogue_service.lookup_id(conn, code="NOPE-9")
    assert found is not None
    assert found[1] == inactive_code
    assert missing is None


async def test_entries_by_code_answers_found_keys_in_any_status(
    database: Database, inactive_code: str
) -> None:
    async with database.transaction() as conn:
        found = await catalogue_service.entries_by_code(conn, code_keys=["MED-042", inactive_code, "NOPE-9"])
    assert set(found) == {"MED-042", inactive_code}
    assert (found["MED-042"].status, found[inactive_code].status) == ("ACTIVE", "INACTIVE")


async def test_count_answers_every_entry_in_any_status(database: Database) -> None:
    async with database.transaction() as conn:
        assert await catalogue_service.count(conn) == len(SANDBOX)


# search


async def test_list_products_unaccented_query_matches_accented_names(
    database: Database, snapshot: Snapshot
) -> None:
    codes = await _search(database, snapshot, "acetaminofen")
    assert "MED-SBX-0001" in codes
    assert all("acetaminofen" in text.fold(_texts(c)) for c in codes)


async def test_list_products_accented_upper_case_query_matches_the_same(
    database: Database, snapshot: Snapshot
) -> None:
    assert await _search(database, snapshot, "ACETAMINOFÉN") == await _search(
        database, snapshot, "acetaminofen"
    )


async def test_list_products_word_prefix_matches_and_infix_does_not(
    database: Database, snapshot: Snapshot
) -> None:
    assert "MED-SBX-0001" in await _search(database, snapshot, "acetam")
    assert "MED-SBX-0001" not in await _search(database, snapshot, "cetaminofen")


async def test_list_products_several_words_must_all_match(database: Database, snapshot: Snapshot) -> None:
    codes = await _search(database, snapshot, "acetaminofen jarabe")
    assert codes == ["MED-SBX-0005"]


async def test_list_products_exact_code_ranks_before_name_order(
    database: Database, snapshot: Snapshot
) -> None:
    codes = await _search(database, snapshot, "med-042")
    # MED-SBX-0420 to 0429 match "med 042" too, and some of their names sort before Paracetamol.
    assert len(codes) > 1
    assert any(text.name_key(_name(c)) < text.name_key(_name("MED-042")) for c in codes[1:])
    assert codes[0] == "MED-042"


async def test_list_products_names_starting_with_query_rank_before_other_matches(
    database: Database, snapshot: Snapshot
) -> None:
    codes = await _search(database, snapshot, "sangre")
    starting = [c for c in codes if text.name_key(_name(c)).startswith("sangre")]
    assert starting
    assert len(codes) > len(starting)
    assert codes[: len(starting)] == starting
    rest = codes[len(starting) :]
    assert rest == sorted(rest, key=lambda c: (text.name_key(_name(c)), c))


async def test_list_products_product_type_filter_answers_that_type_only(
    database: Database, snapshot: Snapshot
) -> None:
    async with database.transaction() as conn:
        page = await catalogue_service.list_products(
            conn, snapshot, product_type="LAB", query="sangre", params=ALL
        )
    assert page.content
    assert {item.product_type for item in page.content} == {"LAB"}
    assert page.page.total_elements == len(page.content)


async def test_list_products_without_query_answers_type_total_in_code_order(
    database: Database, snapshot: Snapshot
) -> None:
    async with database.transaction() as conn:
        page = await catalogue_service.list_products(
            conn, snapshot, product_type="IMAGING", query=None, params=PageParams(page=0, size=10)
        )
    codes = [item.product_code for item in page.content]
    assert page.page.total_elements == sum(1 for e in SANDBOX if e.product_type == "IMAGING")
    assert len(codes) == 10
    assert codes == sorted(codes, key=str.upper)


async def test_list_products_punctuation_only_query_answers_empty_page(
    database: Database, snapshot: Snapshot
) -> None:
    async with database.transaction() as conn:
        page = await catalogue_service.list_products(
            conn, snapshot, product_type=None, query="%_*'", params=ALL
        )
    assert (page.content, page.page.total_elements, page.page.total_pages) == ([], 0, 0)


async def test_list_products_blank_query_answers_whole_catalogue(
    database: Database, snapshot: Snapshot
) -> None:
    async with database.transaction() as conn:
        page = await catalogue_service.list_products(
            conn, snapshot, product_type=None, query="   ", params=ALL
        )
    assert page.page.total_elements == len(SANDBOX)


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("x" * 201, id="too-long"),
        pytest.param("a\x00b", id="control-character"),
        pytest.param(" ".join("abcdefghijk"), id="eleven-words"),
    ],
)
async def test_list_products_bad_query_raises_validation_failed(
    database: Database, snapshot: Snapshot, query: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await _search(database, snapshot, query)
    assert [e["field"] for e in caught.value.additional_information["errors"]] == ["query"]


async def test_parse_query_of_ten_words_is_accepted() -> None:
    parsed = catalogue_service.SearchQuery.parse(" ".join("abcdefghij"))
    assert parsed is not None
    assert len(parsed.words) == 10
