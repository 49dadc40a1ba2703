"""The in-process catalogue search index: word-prefix postings as compressed bitmaps.

The global catalogue is read-mostly and at most a few million entries, so each server process
keeps a snapshot of it in memory and answers every search from that snapshot, identically on
SQLite and PostgreSQL. Entries are numbered by their place in the result order (name, then code);
a posting list holds the numbers of the entries that contain a word, so that

- the matches of a query are the intersection, over its words, of the union of the postings of
  every word starting with that query word (the words are sorted, so those are one slice);
- the total is the intersection's cardinality, whatever its size;
- a page is a slice of the matches in ascending order, after the exact-code match and the
  contiguous range of names that start with the query, with no sort at query time.

Imports bump ``catalogue_revision``; a process that sees a new revision builds a new snapshot in
the background (the build itself in a worker thread) and swaps it in, serving the old one meanwhile.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from array import array
from bisect import bisect_left
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from pyroaring import BitMap, FrozenBitMap

from provider_products.catalogue import repository, text
from provider_products.db.engine import Database

logger = logging.getLogger("provider_products.catalogue")

_HIGHEST = "\U0010ffff"
_PREFIX_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Hits:
    """One page of search results (catalogue row ids, in order) and the total number of matches.

    ``synonym_of`` maps the row id of an entry on the page that a synonym matched to that
    synonym's place in the entry's ``synonyms`` list.
    """

    ids: list[int]
    total: int
    synonym_of: dict[int, int] = field(default_factory=dict)


Row = tuple[int, str, str, str, str, Sequence[Mapping[str, Any]]]


class Snapshot:
    """An immutable search index over one revision of the catalogue.

    Documents ``0 .. n-1`` are the entries (their code, name and ingredient) in result order;
    documents ``n ..`` are their synonyms, sorted by the synonym's folded name, each indexed with
    its own words plus its entry's words. A query matches an entry when all its words match its
    own document or all match one of its synonym documents.
    """

    def __init__(self, revision: int, rows: Iterable[Row]) -> None:
        """Index ``(id, code_key, product_type, name_key, search_text, synonyms)`` rows."""
        ordered = sorted(rows, key=lambda r: (r[3], r[1]))
        self.revision = revision
        self._ids = array("q", (r[0] for r in ordered))
        self._name_keys = [r[3] for r in ordered]
        self._position_of_code = {r[1]: n for n, r in enumerate(ordered)}
        by_type: dict[str, list[int]] = defaultdict(list)
        postings: dict[str, list[int]] = defaultdict(list)
        for position, (_, _, product_type, _, search_text, _) in enumerate(ordered):
            by_type[product_type].append(position)
            for word in set(search_text.split()):
                postings[word].append(position)
        self._entries = len(ordered)
        synonyms = self._index_synonyms(ordered, postings)
        self._all_synonyms = FrozenBitMap(range(self._entries, self._entries + synonyms))
        self._by_type = {t: FrozenBitMap(p) for t, p in by_type.items()}
        self._words = sorted(postings)
        self._postings = [FrozenBitMap(postings[w]) for w in self._words]
        self._prefix_cache: OrderedDict[str, FrozenBitMap] = OrderedDict()

    def _index_synonyms(self, ordered: list[Row], postings: dict[str, list[int]]) -> int:
        """Number the synonym documents after the entries, in synonym-name order, and index their words."""
        synonyms: list[tuple[str, int, int, list[str]]] = []
        for position, row in enumerate(ordered):
            for index, synonym in enumerate(row[5] or ()):
                words = text.words(str(synonym["name"]))
                synonyms.append((" ".join(words), position, index, words + row[4].split()))
        synonyms.sort()
        self._synonym_keys = [s[0] for s in synonyms]
        self._synonym_owner = array("q", (s[1] for s in synonyms))
        self._synonym_index = array("q", (s[2] for s in synonyms))
        self._synonym_docs: dict[int, list[int]] = defaultdict(list)
        for number, (_, position, _, words) in enumerate(synonyms):
            document = self._entries + number
            self._synonym_docs[position].append(document)
            for word in set(words):
                postings[word].append(document)
        return len(synonyms)

    def __len__(self) -> int:
        return len(self._ids)

    def count(self, product_type: str | None) -> int:
        """Return how many entries there are (of one type)."""
        if product_type is None:
            return len(self._ids)
        return len(self._by_type.get(product_type, ()))

    def _prefixed(self, word: str) -> FrozenBitMap:
        """Documents with a word that starts with ``word``."""
        cached = self._prefix_cache.get(word)
        if cached is not None:
            self._prefix_cache.move_to_end(word)
            return cached
        lo = bisect_left(self._words, word)
        hi = bisect_left(self._words, word + _HIGHEST, lo)
        if hi - lo == 1:
            found = self._postings[lo]
        else:
            found = FrozenBitMap(BitMap.union(BitMap(), *self._postings[lo:hi]))
        self._prefix_cache[word] = found
        if len(self._prefix_cache) > _PREFIX_CACHE_SIZE:
            self._prefix_cache.popitem(last=False)
        return found

    def _documents(self, words: Sequence[str]) -> tuple[BitMap, BitMap]:
        """Split the documents matching every word into entries' own documents and synonym documents."""
        sets = sorted((self._prefixed(w) for w in dict.fromkeys(words)), key=len)
        documents = BitMap(sets[0]) if sets else BitMap()
        for other in sets[1:]:
            if not documents:
                break
            documents &= other
        if not self._synonym_keys or not documents or documents.max() < self._entries:
            return documents, BitMap()
        return documents.difference(self._all_synonyms), documents.intersection(self._all_synonyms)

    def _owners(self, documents: BitMap) -> BitMap:
        """The entries (positions) owning these synonym documents."""
        owner, base = self._synonym_owner, self._entries
        return BitMap(owner[d - base] for d in documents)

    def _synonym_starting(self, phrase: str, among: BitMap) -> dict[int, int]:
        """Map each entry of ``among`` with a synonym starting with ``phrase`` to that synonym's index."""
        lo, hi = _prefix_range(self._synonym_keys, phrase)
        found: dict[int, int] = {}
        for number in range(lo, hi):
            position = self._synonym_owner[number]
            if position in among and position not in found:
                found[position] = self._synonym_index[number]
        return found

    def search(
        self, words: Sequence[str], *, product_type: str | None, code_key: str, offset: int, limit: int
    ) -> Hits:
        """Return one page of the entries matching every word, in relevance, name, code order."""
        own, by_synonym = self._documents(words)
        matches = own | self._owners(by_synonym) if by_synonym else own
        if product_type is not None:
            matches &= self._by_type.get(product_type, FrozenBitMap())
        total = len(matches)
        if offset >= total:
            return Hits([], total)
        # Relevance: the exact code first, then names starting with the query, then entries with a
        # synonym starting with the query, then the rest.
        exact = self._position_of_code.get(code_key)
        first = [exact] if exact is not None and exact in matches else []
        if first:
            matches.discard(first[0])
        phrase = " ".join(words)
        starting = matches.intersection(_starting(self._name_keys, phrase))
        rest = matches.difference(starting) if starting else matches
        by_phrase = self._synonym_starting(phrase, rest) if by_synonym and rest else {}
        synonym_starting = BitMap(by_phrase)
        if synonym_starting:
            rest = rest.difference(synonym_starting)
        page = _page((first, starting, synonym_starting, rest), offset=offset, limit=limit)
        return Hits([self._ids[p] for p in page], total, self._matched(page, by_phrase, own, by_synonym))

    def _matched(
        self, page: list[int], by_phrase: dict[int, int], own: BitMap, by_synonym: BitMap
    ) -> dict[int, int]:
        """Map the row id of each entry of the page shown by a synonym to that synonym's index.

        That is the synonym starting with the query when one ranked the entry, else, when the
        entry's own text did not match, its first synonym that did.
        """
        synonym_of: dict[int, int] = {}
        for position in page:
            found = by_phrase.get(position)
            if found is None and position not in own:
                found = self._first_synonym(position, by_synonym)
            if found is not None:
                synonym_of[self._ids[position]] = found
        return synonym_of

    def _first_synonym(self, position: int, matched: BitMap) -> int | None:
        """The list index of the entry's first synonym (in list order) whose document matched."""
        docs = self._synonym_docs.get(position, ())
        return min((self._synonym_index[d - self._entries] for d in docs if d in matched), default=None)


def _prefix_range(keys: Sequence[str], phrase: str) -> tuple[int, int]:
    """The slice of sorted ``keys`` that start with ``phrase``."""
    lo = bisect_left(keys, phrase)
    return lo, bisect_left(keys, phrase + _HIGHEST, lo)


def _starting(keys: Sequence[str], phrase: str) -> BitMap:
    """The positions of the sorted ``keys`` that start with ``phrase``."""
    lo, hi = _prefix_range(keys, phrase)
    return BitMap(range(lo, hi)) if hi > lo else BitMap()


def _page(groups: Iterable[list[int] | BitMap], *, offset: int, limit: int) -> list[int]:
    """Return positions ``offset`` to ``offset + limit`` of the groups taken one after the other."""
    page: list[int] = []
    for group in groups:
        if len(page) >= limit:
            break
        if offset >= len(group):
            offset -= len(group)
            continue
        take = limit - len(page)
        page.extend(group[offset : offset + take])
        offset = 0
    return page


class SearchIndex:
    """The process's current snapshot, refreshed when the catalogue's revision changes.

    Like the edge's client cache, it is a per-process component outside any request: its refresh
    runs in the background or before a search takes a connection, so it opens its own short read
    transaction instead of being handed the request's.
    """

    def __init__(self, database: Database, *, refresh_seconds: float = 2.0) -> None:
        self._database = database
        self._refresh_seconds = refresh_seconds
        self._snapshot: Snapshot | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None

    async def current(self) -> Snapshot:
        """Return the current snapshot; refresh it when the catalogue's revision has changed.

        Once a snapshot exists, a stale one is refreshed in the background while searches go on
        answering from it (with a refresh interval of 0, as in tests, the refresh is waited for).
        """
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked_at < self._refresh_seconds:
            return snapshot
        if snapshot is not None and self._refresh_seconds > 0:
            if self._refreshing is None or self._refreshing.done():
                self._refreshing = asyncio.create_task(self._refresh_quietly())
            return snapshot
        return await self._refresh()

    async def _refresh(self) -> Snapshot:
        async with self._lock:
            if self._snapshot is not None and time.monotonic() - self._checked_at < self._refresh_seconds:
                return self._snapshot
            async with self._database.transaction() as conn:
                revision = await repository.revision(conn)
                stale = self._snapshot is None or self._snapshot.revision != revision
                rows = await repository.index_rows(conn) if stale else None
            if rows is not None:
                self._snapshot = await anyio.to_thread.run_sync(Snapshot, revision, rows)
                # Keep the snapshot's millions of objects out of every later cyclic-GC pass.
                gc.freeze()
            self._checked_at = time.monotonic()
            assert self._snapshot is not None
            return self._snapshot

    async def _refresh_quietly(self) -> None:
        try:
            await self._refresh()
        except Exception:  # the next search tries again; meanwhile the old snapshot serves
            logger.warning("search index refresh failed", exc_info=True)

    async def warm_up(self) -> None:
        """Build the first snapshot ahead of the first search; a failure is left for that search."""
        try:
            await self.current()
        except Exception:  # the first search will retry and answer with the proper error
            logger.warning("search index warm-up failed", exc_info=True)

    def invalidate(self) -> None:
        """Make the next search check the revision (after an import in this process)."""
        self._checked_at = 0.0
