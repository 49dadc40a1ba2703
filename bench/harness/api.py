"""The service's HTTP API as the benchmarks use it to set up and read back: tokens and registrations."""

from __future__ import annotations

import time

import httpx

from harness.admin import Credentials

REGS = "/arc/v1/providers/products"


def get_token(base_url: str, credentials: Credentials) -> str:
    """Get an access token with the client-credentials grant."""
    response = httpx.post(
        f"{base_url}/v1/oauth/token",
        auth=(credentials.client_id, credentials.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=30,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def register_codes(base_url: str, token: str, codes: list[str]) -> float:
    """Register ``codes`` one by one through the real API; every answer must be 201. Return seconds taken."""
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        for code in codes:
            response = client.post(REGS, json={"product_code": code})
            if response.status_code != 201:
                raise RuntimeError(f"registering {code}: {response.status_code} {response.text}")
    return time.perf_counter() - started


def register_batch(http: httpx.Client, token: str, codes: list[str]) -> None:
    """Register ``codes`` with one batch request; every one must come back ``registered``."""
    response = http.post(
        f"{REGS}/batch", json={"product_codes": codes}, headers={"Authorization": f"Bearer {token}"}
    )
    response.raise_for_status()
    counts = response.json()["counts"]
    if counts.get("registered") != len(codes):
        raise RuntimeError(f"batch of {len(codes)}: {counts}")


def list_registered(http: httpx.Client, token: str) -> set[str]:
    """Read every page of the caller's registrations and return their codes."""
    headers = {"Authorization": f"Bearer {token}"}
    listed: set[str] = set()
    page, pages = 0, 1
    while page < pages:
        response = http.get(REGS, params={"page": page, "size": 200}, headers=headers)
        response.raise_for_status()
        body = response.json()
        listed.update(item["product_code"] for item in body["content"])
        pages = body["page"]["total_pages"]
        page += 1
    return listed
