"""The shared search snapshot: built once per revision by one process, stored, loaded by all."""

from __future__ import annotations

import asyncio
import sys
from bisect import bisect_left
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider_products.catalogue import builder, importer, repository, sharing, text
from provider_products.catalogue.index import FORMAT_VERSION, Snapshot, SnapshotFormatError, format_version
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
    return [(revision, status) for revision, _, status in await _formats(database)]


async def _formats(database: Database) -> list[tuple[int, int, str]]:
    """Every stored snapshot row: revision, format version, status."""
    async with database.transaction() as conn:
        rows = await conn.execute(
            repository.index_snapshot.select().order_by(
                repository.index_snapshot.c.revision, repository.index_snapshot.c.format_version
            )
        )
        return [(r.revision, r.format_version, r.status) for r in rows.all()]


async def _store_raw(database: Database, *, revision: int, format_version: int, data: bytes) -> None:
    """Store ``data`` as the ready snapshot of ``revision`` in ``format_version``, replacing that row."""
    token = f"{format_version:02d}".ljust(32, "f")
    async with database.transaction(write=True) as conn:
        await conn.execute(
            repository.index_snapshot.delete().where(
                repository.index_snapshot.c.revision == revision,
                repository.index_snapshot.c.format_version == format_version,
            )
        )
        assert await repository.claim_snapshot(
            conn,
            revision=revision,
            token=token,
            now=utcnow(),
            lease_seconds=30,
            format_version=format_version,
        )
        await repository.store_snapshot_chunk(conn, token=token, number=0, data=data)
        assert await repository.finish_snapshot(
            conn,
            revision=revision,
            token=token,
            chunks=1,
            size_bytes=len(data),
            now=utcnow(),
            format_version=format_version,
        )


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


def test_a_snapshot_says_its_format_version_and_another_version_is_refused() -> None:
    data = Snapshot.build(7, []).data
    assert format_version(data) == FORMAT_VERSION
    assert format_version(b"PPSNAP3\n\x01\x00\x00\x00") == 3  # the layout before the version field
    assert format_version(b"PK\x03\x04") is None
    newer = data[:8] + (FORMAT_VERSION + 1).to_bytes(4, "little") + data[12:]
    with pytest.raises(SnapshotFormatError, match="format version"):
        Snapshot(newer)
    with pytest.raises(SnapshotFormatError, match="format version"):
        Snapshot(b"PPSNAP3\n\x01\x00\x00\x00" + data[12:])


async def test_a_stored_snapshot_of_an_older_format_is_rebuilt_once(db_url: str) -> None:
    first = Database(db_url)
    # The revision's snapshot as a release of format 3 stored it (the rows migration 0012 found).
    await _store_raw(first, revision=1, format_version=3, data=b"PPSNAP3\n" + bytes(64))
    async with first.transaction(write=True) as conn:  # and none in this release's format
        await conn.execute(
            repository.index_snapshot.delete().where(
                repository.index_snapshot.c.format_version == FORMAT_VERSION
            )
        )
    databases = [first, Database(db_url)]
    try:
        indexes = [SearchIndex(d, refresh_seconds=0, poll_seconds=0.02) for d in databases]
        snapshots = await asyncio.wait_for(asyncio.gather(*(i.current() for i in indexes)), 120)
        assert [s.revision for s in snapshots] == [1, 1]
        assert sum(i.builds for i in indexes) == 1  # one build, under the claim, for both processes
        assert [i.loads for i in indexes] == [1, 1]
        hits = snapshots[0].search(["acetaminofen"], product_type=None, code_key="", offset=0, limit=5)
        assert hits.total > 0
        # The older format's row stays for its own release; this release's is stored beside it.
        assert await _formats(first) == [(1, 3, "ready"), (1, FORMAT_VERSION, "ready")]
        late = SearchIndex(databases[1], refresh_seconds=0)
        await late.current()
        assert (late.builds, late.loads) == (0, 1)
    finally:
        for d in databases:
            await d.dispose()


async def test_a_stored_snapshot_that_cannot_be_read_is_dropped_and_built_again(database: Database) -> None:
    # A row of this release's format whose bytes are another format's: never served.
    await _store_raw(database, revision=1, format_version=FORMAT_VERSION, data=b"PPSNAP3\n" + bytes(64))
    index = SearchIndex(database, refresh_seconds=0)
    snapshot = await asyncio.wait_for(index.current(), 120)
    assert (snapshot.revision, index.builds, index.loads) == (1, 1, 1)
    assert snapshot.search(["acetaminofen"], product_type=None, code_key="", offset=0, limit=5).total > 0
    assert await _formats(database) == [(1, FORMAT_VERSION, "ready")]


async def test_a_snapshot_stored_in_many_chunks_loads_identically(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    await importer.import_content(database, NEW, "jsonl")
    monkeypatch.setattr(builder, "CHUNK_BYTES", 1000)  # more chunks than one read takes
    assert await builder.claim(database, revision=2, token="c" * 32, lease_seconds=30)
    size = await builder.build_and_store(database, revision=2, token="c" * 32, lease_seconds=30)
    async with database.transaction() as conn:
        state = await repository.snapshot_state(conn, 2)
    assert state is not None
    assert state.chunks == -(-size // 1000) > 2 * sharing.LOAD_CHUNKS
    index = SearchIndex(database, refresh_seconds=0)
    loaded = await index.current()
    assert (index.builds, index.loads) == (0, 1)
    revision, rows = await _rows(database)
    assert bytes(loaded.data) == Snapshot.build(revision, rows).data


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


NAME = st.text(alphabet="ab é0 ", max_size=6)


@settings(max_examples=200, deadline=None)
@given(names=st.lists(NAME, max_size=80), prefixes=st.lists(NAME, min_size=1, max_size=5))
def test_front_coded_names_and_codes_answer_like_a_sorted_list(names: list[str], prefixes: list[str]) -> None:
    # Short keys from a small alphabet: shared prefixes, duplicates, multi-byte characters, block edges.
    rows = [(n + 1, f"C{name}", "LAB", name, "x", ()) for n, name in enumerate(names)]
    snapshot = Snapshot.build(1, rows)
    ordered = sorted(r[3].encode() for r in rows)
    codes = sorted(r[1] for r in rows)
    for prefix in prefixes:
        key = prefix.encode()
        expected = (bisect_left(ordered, key), bisect_left(ordered, key + b"\xff"))
        assert snapshot._names.prefix_range(prefix) == expected
        # The exact-code lookup finds a code when it exists, whatever the duplicates around it.
        found = snapshot._exact(f"C{prefix}")
        assert (found is not None) == (f"C{prefix}" in codes)
        if found is not None:
            assert rows[snapshot._ids[found] - 1][1] == f"C{prefix}"
