"""The shared search snapshot: built once per revision by one process, stored, loaded by all."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_products.catalogue import builder, importer, repository, text
from provider_products.catalogue.index import Snapshot, SnapshotFormatError
from provider_products.catalogue.sharing import SearchIndex, SnapshotBuildFailed
from provider_products.db.base import utcnow
from provider_products.db.engine import Database

NEW = '{"product_code": "MED-NEW-9", "product_type": "MEDICATION", "name": "Zolmitriptán 5 mg Tableta"}'
OTHER = '{"product_code": "MED-NEW-8", "product_type": "MEDICATION", "name": "Naratriptán 2.5 mg Tableta"}'
# Words of the sandbox catalogue and of its synonyms, and prefixes of them: what people type.
SANDBOX = importer.parse(importer.sandbox_catalogue(), "jsonl")
VOCABULARY = sorted(
    {
        w
        for e in SANDBOX
        for w in text.words(f"{e.product_code} {e.name} {getattr(e, 'active_ingredient', '')}")
    }
    | {w for e in SANDBOX for s in e.synonyms for w in text.words(s.name)}
)
WORD = st.sampled_from(VOCABULARY).flatmap(lambda w: st.integers(1, len(w)).map(lambda n: w[:n]))


def _naive(rows: list[repository.IndexRow], words: list[str]) -> set[int]:
    """The README's rule, entry by entry: every word starts an entry word, or with one synonym's words."""

    def matches(own: list[str], extra: list[str]) -> bool:
        return all(any(o.startswith(w) for o in own + extra) for w in words)

    found = set()
    for row in rows:
        own = row.search_text.split()
        synonyms = [text.words(str(s["name"])) for s in row.synonyms]
        if matches(own, []) or any(matches(own, s) for s in synonyms):
            found.add(row.id)
    return found


async def _rows(database: Database) -> tuple[int, list[repository.IndexRow]]:
    async with database.transaction() as conn:
        return await repository.revision(conn), await repository.index_rows(conn)


async def _states(database: Database) -> list[tuple[int, str]]:
    async with database.transaction() as conn:
        rows = await conn.execute(
            repository.index_snapshot.select().order_by(repository.index_snapshot.c.revision)
        )
        return [(r.revision, r.status) for r in rows.all()]


@pytest.fixture
async def loaded(database: Database) -> tuple[Snapshot, Snapshot, list[repository.IndexRow]]:
    """The sandbox's snapshot loaded from the database, one built here from the rows, and the rows."""
    stored = await SearchIndex(database, refresh_seconds=0).current()
    revision, rows = await _rows(database)
    return stored, Snapshot.build(revision, rows), rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(words=st.lists(WORD, min_size=1, max_size=3), page=st.integers(0, 3))
async def test_stored_snapshot_answers_exactly_like_a_fresh_build_and_the_rule(
    loaded: tuple[Snapshot, Snapshot, list[repository.IndexRow]], words: list[str], page: int
) -> None:
    stored, fresh, rows = loaded
    kwargs = {"product_type": None, "code_key": " ".join(words).upper(), "offset": page * 5, "limit": 5}
    assert stored.search(words, **kwargs) == fresh.search(words, **kwargs)
    everything = stored.search(words, product_type=None, code_key="", offset=0, limit=len(rows))
    assert set(everything.ids) == _naive(rows, words)
    assert everything.total == len(everything.ids)


def test_bytes_that_are_not_a_snapshot_are_refused() -> None:
    with pytest.raises(SnapshotFormatError):
        Snapshot(b"PK\x03\x04 not a snapshot")


async def test_a_stored_snapshot_is_loaded_not_rebuilt(database: Database) -> None:
    index = SearchIndex(database, refresh_seconds=0)
    snapshot = await index.current()  # the template database holds the sandbox's snapshot
    assert (index.builds, index.loads) == (0, 1)
    assert index.revision == snapshot.revision == 1


async def test_two_processes_seeing_a_new_revision_build_it_once(db_url: str) -> None:
    databases = [Database(db_url), Database(db_url)]
    try:
        indexes = [SearchIndex(d, refresh_seconds=0, poll_seconds=0.02) for d in databases]
        await asyncio.gather(*(i.current() for i in indexes))
        await importer.import_content(databases[0], NEW, "jsonl")
        snapshots = await asyncio.gather(*(i.current() for i in indexes))
        assert [s.revision for s in snapshots] == [2, 2]
        assert sum(i.builds for i in indexes) == 1
        assert [i.loads for i in indexes] == [2, 2]  # the builder loads what it stored, like the other
        hits = snapshots[1].search(["zolmitriptan"], product_type=None, code_key="", offset=0, limit=5)
        assert hits.total == 1
        assert await _states(databases[0]) == [(2, "ready")]  # revision 1's snapshot was pruned
    finally:
        for d in databases:
            await d.dispose()


async def test_a_crashed_builders_claim_lapses_and_another_process_builds(database: Database) -> None:
    await importer.import_content(database, NEW, "jsonl")
    async with database.transaction(write=True) as conn:  # a builder that died 30 s ago
        await repository.claim_snapshot(
            conn, revision=2, token="d" * 32, now=utcnow() - timedelta(seconds=30), lease_seconds=1
        )
    index = SearchIndex(database, refresh_seconds=0)
    snapshot = await asyncio.wait_for(index.current(), 60)
    assert (snapshot.revision, index.builds) == (2, 1)


async def test_a_live_claim_is_waited_for_until_its_lease_lapses(database: Database) -> None:
    await importer.import_content(database, NEW, "jsonl")
    async with database.transaction(write=True) as conn:  # a builder that stops renewing right away
        await repository.claim_snapshot(conn, revision=2, token="d" * 32, now=utcnow(), lease_seconds=1)
    index = SearchIndex(database, refresh_seconds=0, poll_seconds=0.05)
    started = asyncio.get_running_loop().time()
    snapshot = await asyncio.wait_for(index.current(), 60)
    assert snapshot.revision == 2
    assert asyncio.get_running_loop().time() - started >= 0.5  # it waited for the lease
    assert index.builds == 1


async def test_a_failed_build_releases_its_claim_for_the_next_attempt(database: Database) -> None:
    await importer.import_content(database, NEW, "jsonl")
    broken = SearchIndex(
        database, refresh_seconds=0, builder_command=[sys.executable, "-c", "raise SystemExit(1)"]
    )
    with pytest.raises(SnapshotBuildFailed):
        await broken.current()
    assert await _states(database) == [(1, "ready")]
    index = SearchIndex(database, refresh_seconds=0)
    assert (await index.current()).revision == 2
    assert index.builds == 1


async def test_a_build_of_a_revision_the_catalogue_moved_past_stores_nothing(database: Database) -> None:
    assert await builder.claim(database, revision=2, token="a" * 32, lease_seconds=30)
    await importer.import_content(database, NEW, "jsonl")
    await importer.import_content(database, OTHER, "jsonl")  # revision 3 now
    with pytest.raises(builder.Superseded):
        await builder.build_and_store(database, revision=2, token="a" * 32, lease_seconds=30)
    assert await _states(database) == [(1, "ready")]  # the claim was released


async def test_no_stale_snapshot_is_served_once_a_new_revision_is_loaded(database: Database) -> None:
    index = SearchIndex(database, refresh_seconds=0)
    first = await index.current()
    await importer.import_content(database, NEW, "jsonl")
    second = await index.current()
    assert (first.revision, second.revision) == (1, 2)
    for _ in range(5):
        served = await index.current()
        assert served is second
        assert served.search(["zolmitriptan"], product_type=None, code_key="", offset=0, limit=5).total == 1
    # Another process starting now finds only the new revision's snapshot.
    late = SearchIndex(database, refresh_seconds=0)
    assert (await late.current()).revision == 2
    assert (late.builds, late.loads) == (0, 1)


async def test_a_running_index_follows_a_new_revision_without_being_searched(database: Database) -> None:
    index = SearchIndex(database, refresh_seconds=0.05)
    follow = asyncio.create_task(index.run())
    try:
        for _ in range(200):
            if index.revision == 1:
                break
            await asyncio.sleep(0.05)
        await importer.import_content(database, NEW, "jsonl")
        for _ in range(600):  # a build in a child process: a few seconds on a busy machine
            if index.revision == 2:
                break
            await asyncio.sleep(0.05)
        assert index.revision == 2
    finally:
        follow.cancel()
