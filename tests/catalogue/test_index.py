"""The process's search index: snapshots refresh in the background when the catalogue changes."""

from __future__ import annotations

import asyncio
from typing import Any

from provider_products.catalogue import importer, text
from provider_products.catalogue.sharing import SearchIndex

NEW = '{"product_code": "MED-NEW-9", "product_type": "MEDICATION", "name": "Zolmitriptán 5 mg Tableta"}'


async def test_stale_snapshot_serves_while_the_new_one_builds(app: Any) -> None:
    database = app.state.runtime.database
    index = SearchIndex(database, refresh_seconds=0.05)
    first = await index.current()
    assert (
        first.search(text.words("zolmitriptan"), product_type=None, code_key="", offset=0, limit=5).total == 0
    )
    await importer.import_content(database, NEW, "jsonl")
    await asyncio.sleep(0.06)
    served = await index.current()  # stale: answered at once from the old snapshot
    assert served is first
    for _ in range(1500):  # the new snapshot is built by a child process: seconds on a busy machine
        await asyncio.sleep(0.02)
        if (await index.current()) is not first:
            break
    fresh = await index.current()
    assert fresh is not first
    assert fresh.revision > first.revision
    hits = fresh.search(text.words("zolmitriptan 5"), product_type=None, code_key="", offset=0, limit=5)
    assert hits.total == 1


async def test_unchanged_catalogue_keeps_its_snapshot(app: Any) -> None:
    index = SearchIndex(app.state.runtime.database, refresh_seconds=0)
    first = await index.current()
    assert (await index.current()) is first


async def test_many_concurrent_searches_with_a_small_pool_all_answer(settings: Any, make_client: Any) -> None:
    import httpx

    from provider_products.app import create_app

    client = await make_client(rate_limit="10000/minute")
    app = create_app(settings.model_copy(update={"db_pool_size": 1}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        responses = await asyncio.gather(
            *(
                http.get("/arc/v1/products", params={"query": "acetaminofen 500"}, headers=client.headers)
                for _ in range(30)
            )
        )
    await app.state.runtime.database.dispose()
    assert [r.status_code for r in responses] == [200] * 30
