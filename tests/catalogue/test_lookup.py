"""``POST /arc/v1/products/lookup`` (lookupProducts): many codes looked up in one request."""

from __future__ import annotations

import httpx

from provider_products.catalogue import importer
from tests.conftest import ApiClient, assert_error

SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")
ACTIVE = next(e for e in SANDBOX if e.status == "ACTIVE")
INACTIVE = next(e for e in SANDBOX if e.status == "INACTIVE")
LOOKUP = "/arc/v1/products/lookup"


async def test_lookup_answers_each_code_in_order(http: httpx.AsyncClient, make_client) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(scopes="arc:read")
    codes = [f" {ACTIVE.product_code.lower()} ", "NOPE-1", INACTIVE.product_code, "bad code"]
    response = await http.post(LOOKUP, json={"product_codes": codes}, headers=client.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "content": [
            {
                "product_code": ACTIVE.product_code,
                "found": True,
                "status": "ACTIVE",
                "product_type": ACTIVE.product_type,
                "name": ACTIVE.name,
                "error_code": None,
            },
            {
                "product_code": "NOPE-1",
                "found": False,
                "status": None,
                "product_type": None,
                "name": None,
                "error_code": None,
            },
            {
                "product_code": INACTIVE.product_code,
                "found": True,
                "status": "INACTIVE",
                "product_type": INACTIVE.product_type,
                "name": INACTIVE.name,
                "error_code": None,
            },
            {
                "product_code": "bad code",
                "found": False,
                "status": None,
                "product_type": None,
                "name": None,
                "error_code": "071-105",
            },
        ]
    }


async def test_lookup_of_no_codes_or_over_500_is_422(http: httpx.AsyncClient, make_client) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client()
    for codes in ([], [f"C-{n}" for n in range(501)]):
        response = await http.post(LOOKUP, json={"product_codes": codes}, headers=client.headers)
        assert_error(response, 422, "071-105")


async def test_lookup_without_a_token_is_401(http: httpx.AsyncClient) -> None:
    assert_error(await http.post(LOOKUP, json={"product_codes": ["MED-042"]}), 401, "071-401")


async def test_lookup_of_500_codes_counts_once_against_the_rate_limit(
    http: httpx.AsyncClient, make_client
) -> None:  # type: ignore[no-untyped-def]
    client: ApiClient = await make_client(rate_limit="2/minute")
    body = {"product_codes": [f"C-{n}" for n in range(500)]}
    first = await http.post(LOOKUP, json=body, headers=client.headers)
    assert first.status_code == 200
    assert (await http.post(LOOKUP, json=body, headers=client.headers)).status_code == 200
    assert_error(await http.post(LOOKUP, json=body, headers=client.headers), 429, "071-429")


async def test_lookup_is_documented_with_its_errors(http: httpx.AsyncClient) -> None:
    operation = (await http.get("/openapi.json")).json()["paths"][LOOKUP]["post"]
    assert operation["operationId"] == "lookupProducts"
    assert {"200", "401", "422", "429"} <= set(operation["responses"])
