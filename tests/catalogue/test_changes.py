"""``GET /arc/v1/products/changes`` (listProductChanges): the entries changed since a catalogue revision."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from provider_products.catalogue import importer
from provider_products.catalogue.schemas import CatalogueEntryIn
from tests.conftest import ApiClient, assert_error

CHANGES = "/arc/v1/products/changes"
SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")
SANDBOX_CODES = {e.product_code for e in SANDBOX}
# The test template holds the sandbox, loaded by one import: revision 1.
LOADED = 1


def _active(index: int) -> CatalogueEntryIn:
    return [e for e in SANDBOX if e.status == "ACTIVE"][index]


async def _import(app: FastAPI, entries: list[CatalogueEntryIn], **options: Any) -> importer.ImportResult:
    async with app.state.runtime.database.transaction(write=True) as conn:
        return await importer.upsert(conn, entries, **options)


async def _changes(http: httpx.AsyncClient, client: ApiClient, **params: Any) -> httpx.Response:
    response = await http.get(CHANGES, params=params, headers=client.headers)
    assert response.status_code == 200, response.text
    return response


async def _walk(http: httpx.AsyncClient, client: ApiClient, since: int, size: int) -> list[dict[str, Any]]:
    """Read every page, following the ``next`` links."""
    pages: list[dict[str, Any]] = []
    url: str | None = f"{CHANGES}?since_revision={since}&size={size}"
    while url is not None:
        response = await http.get(url, headers=client.headers)
        assert response.status_code == 200, response.text
        pages.append(response.json())
        url = response.links.get("next", {}).get("url")
    return pages


async def test_changes_since_zero_list_every_entry_once(http: httpx.AsyncClient, make_client) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    pages = await _walk(http, client, since=0, size=200)
    codes = [item["product_code"] for page in pages for item in page["content"]]
    assert len(codes) == len(SANDBOX_CODES)
    assert set(codes) == SANDBOX_CODES
    assert {page["revision"] for page in pages} == {LOADED}
    assert pages[0]["since_revision"] == 0
    assert pages[0]["page"] == {
        "size": 200,
        "number": 0,
        "total_elements": len(SANDBOX_CODES),
        "total_pages": -(-len(SANDBOX_CODES) // 200),
    }


async def test_changes_after_import_of_three_changes_list_exactly_those(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    renamed = _active(0).model_copy(update={"name": "Renamed in revision two"})
    withdrawn = _active(1).model_copy(update={"status": "INACTIVE"})
    added = CatalogueEntryIn(
        product_code="LAB-NEW-1",
        product_type="LAB",
        name="Nuevo estudio",
        synonyms=[{"name": "Estudio nuevo", "kind": "regional", "countries": ["MX"]}],
    )
    unchanged = _active(2)
    result = await _import(app, [renamed, withdrawn, added, unchanged])
    assert (result.inserted, result.updated, result.unchanged, result.revision) == (1, 2, 1, LOADED + 1)

    body = (await _changes(http, client, since_revision=LOADED)).json()

    assert body["revision"] == LOADED + 1
    assert body["page"]["total_elements"] == 3
    by_code = {item["product_code"]: item for item in body["content"]}
    assert list(by_code) == sorted(by_code, key=str.upper, reverse=True)
    assert set(by_code) == {renamed.product_code, withdrawn.product_code, "LAB-NEW-1"}
    assert by_code[renamed.product_code]["name"] == "Renamed in revision two"
    assert by_code[withdrawn.product_code]["status"] == "INACTIVE"
    assert by_code["LAB-NEW-1"]["synonyms"] == [
        {"name": "Estudio nuevo", "kind": "regional", "countries": ["MX"]}
    ]
    assert by_code["LAB-NEW-1"]["matched_synonym"] is None


async def test_changes_list_the_most_recent_change_first(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    first, second = _active(0), _active(1)
    await _import(app, [first.model_copy(update={"name": "Changed first"})])
    await _import(app, [second.model_copy(update={"name": "Changed second"})])
    await _import(app, [first.model_copy(update={"name": "Changed first, again"})])

    body = (await _changes(http, client, since_revision=LOADED)).json()

    assert [(i["product_code"], i["name"]) for i in body["content"]] == [
        (first.product_code, "Changed first, again"),
        (second.product_code, "Changed second"),
    ]
    assert body["revision"] == LOADED + 3
    only_last = (await _changes(http, client, since_revision=LOADED + 2)).json()
    assert [i["product_code"] for i in only_last["content"]] == [first.product_code]


async def test_changes_since_current_revision_are_empty(http: httpx.AsyncClient, make_client) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    body = (await _changes(http, client, since_revision=LOADED)).json()
    assert body == {
        "content": [],
        "page": {"size": 15, "number": 0, "total_elements": 0, "total_pages": 0},
        "revision": LOADED,
        "since_revision": LOADED,
    }


async def test_import_that_changes_nothing_keeps_the_revision(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    result = await _import(app, SANDBOX[:20])
    assert (result.unchanged, result.revision) == (20, LOADED)
    assert (await _changes(http, client, since_revision=LOADED)).json()["page"]["total_elements"] == 0


async def test_deactivate_missing_lists_every_withdrawn_entry(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    kept = [e for e in SANDBOX if e.status == "ACTIVE"][:-2]
    retired = {e.product_code for e in SANDBOX if e.status == "ACTIVE"} - {e.product_code for e in kept}
    result = await _import(app, kept, deactivate_missing=True)
    assert result.deactivated == 2
    body = (await _changes(http, client, since_revision=LOADED)).json()
    assert {(i["product_code"], i["status"]) for i in body["content"]} == {(c, "INACTIVE") for c in retired}


async def test_changes_pages_carry_the_page_envelope_and_links(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    await _import(app, [_active(i).model_copy(update={"name": f"Changed {i}"}) for i in range(5)])
    everything = (await _changes(http, client, since_revision=LOADED, size=5)).json()["content"]

    response = await _changes(http, client, since_revision=LOADED, size=2, page=1)

    body = response.json()
    assert body["content"] == everything[2:4]
    assert body["page"] == {"size": 2, "number": 1, "total_elements": 5, "total_pages": 3}
    assert set(response.links) == {"first", "prev", "next", "last"}
    assert response.links["next"]["url"] == f"{CHANGES}?since_revision={LOADED}&size=2&page=2"
    past_the_end = (await _changes(http, client, since_revision=LOADED, size=2, page=3)).json()
    assert past_the_end["content"] == []


async def test_walk_during_imports_misses_no_entry(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    """Imports between the pages of a walk: every entry is met, and what changed comes next time."""
    client: ApiClient = await make_client(scopes="arc:read")
    seen: set[str] = set()
    size, number, first_revision = 100, 0, None
    changed: list[str] = []
    while True:
        body = (await _changes(http, client, since_revision=0, size=size, page=number)).json()
        first_revision = body["revision"] if first_revision is None else first_revision
        seen.update(item["product_code"] for item in body["content"])
        if number >= body["page"]["total_pages"] - 1:
            break
        if number in (1, 4, 7):
            # Change entries already read and not yet read, and add one: each moves to the front.
            entries = [_active(i * 97 % 600) for i in range(number, number + 6)]
            update = [e.model_copy(update={"name": f"{e.name} (rev {number})"}) for e in entries]
            new = CatalogueEntryIn(product_code=f"NEW-{number}", product_type="LAB", name=f"Nuevo {number}")
            await _import(app, [*update, new])
            changed += [e.product_code for e in entries] + [new.product_code]
        number += 1

    # An entry changed during the walk may move to the front before the walk reaches it: then the
    # next walk, since the first page's revision, brings it. Every other entry was met.
    assert SANDBOX_CODES - set(changed) <= seen
    assert first_revision == LOADED
    next_time = await _changes(http, client, since_revision=first_revision, size=200)
    later = {i["product_code"] for i in next_time.json()["content"]}
    assert later == set(changed)
    assert seen | later >= SANDBOX_CODES


async def test_changes_need_only_a_valid_token(http: httpx.AsyncClient, make_client) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="ehr:read")
    assert (await http.get(CHANGES, params={"since_revision": 0}, headers=client.headers)).status_code == 200
    assert_error(await http.get(CHANGES, params={"since_revision": 0}), 401, "071-401")


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", str(2**63)])
async def test_changes_with_ill_formed_since_revision_are_422(
    http: httpx.AsyncClient, make_client, value: str
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    response = await http.get(f"{CHANGES}?since_revision={value}", headers=client.headers)
    info = assert_error(response, 422, "071-105")
    assert [e["field"] for e in info["errors"]] == ["since_revision"]  # type: ignore[index]


async def test_changes_without_since_revision_are_422(http: httpx.AsyncClient, make_client) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    info = assert_error(await http.get(CHANGES, headers=client.headers), 422, "071-105")
    assert [e["field"] for e in info["errors"]] == ["since_revision"]  # type: ignore[index]


async def test_changes_since_a_revision_ahead_of_the_catalogue_are_422(
    http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    response = await http.get(CHANGES, params={"since_revision": LOADED + 1}, headers=client.headers)
    info = assert_error(response, 422, "071-105")
    assert info["errors"] == [
        {
            "field": "since_revision",
            "message": f"since_revision {LOADED + 1} is ahead of the catalogue's revision {LOADED}; "
            "read the changes since 0 again",
        }
    ]


async def test_product_whose_code_is_changes_is_read_in_upper_case(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    await _import(app, [CatalogueEntryIn(product_code="changes", product_type="LAB", name="Cambios")])
    response = await http.get("/arc/v1/products/CHANGES", headers=client.headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Cambios"


async def test_changes_since_zero_count_only_stamped_entries(
    app: FastAPI, http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    """Entries never stamped (revision 0: written before any revision) are not changes since 0."""
    client: ApiClient = await make_client(scopes="arc:read")
    async with app.state.runtime.database.transaction(write=True) as conn:
        await conn.execute(text("UPDATE catalogue_product SET revision = 0 WHERE id IN (1, 2, 3, 4, 5)"))

    pages = await _walk(http, client, since=0, size=200)

    codes = {item["product_code"] for page in pages for item in page["content"]}
    assert pages[0]["page"]["total_elements"] == len(SANDBOX_CODES) - 5 == len(codes)
