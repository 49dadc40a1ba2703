"""The catalogue search index: word-prefix postings as compressed bitmaps, in one serialised blob.

The global catalogue is read-mostly and at most a few million entries, so each server process
answers every search from a snapshot of it in memory, identically on SQLite and PostgreSQL. Entries
are numbered by their place in the result order (name, then code); a posting list holds the numbers
of the entries that contain a word, so that

- the matches of a query are the intersection, over its words, of the union of the postings of
  every word starting with that query word (the words are sorted, so those are one slice);
- the total is the intersection's cardinality, whatever its size;
- a page is a slice of the matches in ascending order, after the exact-code match and the
  contiguous range of names that start with the query, with no sort at query time.

A snapshot is built once per catalogue revision (``Snapshot.build``, by one process: see
``catalogue/sharing.py``), serialised, and every process serves it straight from that one byte
string: sorted keys are a blob plus an offsets array, posting lists stay serialised until a search
needs them. So a loaded snapshot holds a handful of Python objects, not millions, and costs its
serialised size in memory. To keep that size small at a million entries, offsets and positions are
4-byte integers, and the entries' names and codes (the largest sections) are front-coded in blocks
(each key stored as the length it shares with the previous one and the rest): no library offers a
sorted string set that is served in place from a byte buffer and answers prefix ranges (the
layout is ``catalogue/snapshot_format.py``).

The serialised form starts with its format version (``FORMAT_VERSION``), bumped whenever the
layout changes: a process reads only its own version and treats any other as absent.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from pyroaring import BitMap, FrozenBitMap

from provider_products.catalogue import text
from provider_products.catalogue.snapshot_format import (
    FORMAT_VERSION as FORMAT_VERSION,
)
from provider_products.catalogue.snapshot_format import (
    SnapshotFormatError as SnapshotFormatError,
)
from provider_products.catalogue.snapshot_format import (
    _FrontCodedKeys,
    _Keys,
    _Postings,
    _read_sections,
    _Writer,
)
from provider_products.catalogue.snapshot_format import (
    format_version as format_version,
)

_PREFIX_CACHE_SIZE = 4096
# Broad prefixes union into big bitmaps: bound the values the cache keeps (at most 2 bytes each).
_PREFIX_CACHE_VALUES = 16_000_000
_EMPTY = FrozenBitMap()


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


def _build(revision: int, rows: Iterable[Row]) -> bytes:
    """Serialise the index of ``(id, code_key, product_type, name_key, search_text, synonyms)`` rows."""
    ordered = sorted(rows, key=lambda r: (r[3], r[1]))
    out = _Writer()
    by_type: dict[str, list[int]] = defaultdict(list)
    postings: dict[str, list[int]] = defaultdict(list)
    for position, (_, _, product_type, _, search_text, _) in enumerate(ordered):
        by_type[product_type].append(position)
        for word in set(search_text.split()):
            postings[word].append(position)
    ids = array("q", (r[0] for r in ordered))
    # Row ids are 4 bytes while they fit (the reader tells by the section's size).
    out.add("ids", (array("I", ids) if not ids or (min(ids) >= 0 and max(ids) < 2**32) else ids).tobytes())
    del ids
    out.front_coded("names", (r[3] for r in ordered))
    codes = sorted((r[1], n) for n, r in enumerate(ordered))
    out.front_coded("codes", (c for c, _ in codes))
    out.add("code_positions", array("I", (n for _, n in codes)).tobytes())
    for product_type, positions in sorted(by_type.items()):
        out.add("type:" + product_type, FrozenBitMap(positions).serialize())
    words = sorted(postings)
    out.keys("words", words)
    out.postings("postings", (postings.pop(w) for w in words))
    synonyms = _synonym_sections(ordered, out)
    out.add("meta", struct.pack("<QQQ", revision, len(ordered), synonyms))
    return out.to_bytes()


def _synonym_sections(ordered: list[Row], out: _Writer) -> int:
    """Number the synonyms in folded-name order and index each one's own words, apart from the entries'.

    Synonym words get postings of their own (over synonym numbers) so that the entries' postings
    are not inflated by the synonyms of every entry that has a word.
    """
    synonyms: list[tuple[str, int, int]] = []
    for position, row in enumerate(ordered):
        for index, synonym in enumerate(row[5] or ()):
            synonyms.append((text.name_key(str(synonym["name"])), position, index))
    synonyms.sort()
    out.keys("synonym_keys", (s[0] for s in synonyms))
    out.add("synonym_owner", array("I", (s[1] for s in synonyms)).tobytes())
    out.add("synonym_index", array("I", (s[2] for s in synonyms)).tobytes())
    by_owner = sorted(range(len(synonyms)), key=lambda n: (synonyms[n][1], synonyms[n][2]))
    out.add("by_owner", array("I", by_owner).tobytes())
    out.add("by_owner_owner", array("I", (synonyms[n][1] for n in by_owner)).tobytes())
    postings: dict[str, list[int]] = defaultdict(list)
    for number, (key, _, _) in enumerate(synonyms):
        for word in set(key.split()):
            postings[word].append(number)
    words = sorted(postings)
    out.keys("synonym_words", words)
    # The same words over entries: "has a synonym with this word", to match in entry space.
    out.postings("synonym_entry_postings", ({synonyms[n][1] for n in postings[w]} for w in words))
    out.postings("synonym_postings", (postings.pop(w) for w in words))
    first: dict[str, set[int]] = defaultdict(set)
    for key, position, _ in synonyms:
        first[key.split(" ", 1)[0]].add(position)
    first_words = sorted(first)
    out.keys("synonym_first_words", first_words)
    out.postings("synonym_first_postings", (first.pop(w) for w in first_words))
    return len(synonyms)


def _front_coded(sections: Mapping[str, memoryview], name: str, count: int) -> _FrontCodedKeys:
    heads = _Keys(sections[name + ".heads.blob"], sections[name + ".heads.offsets"].cast("I"))
    return _FrontCodedKeys(heads, sections[name + ".blob"], sections[name + ".offsets"].cast("I"), count)


class Snapshot:
    """An immutable search index over one revision of the catalogue, served from its serialised form.

    Positions ``0 .. n-1`` are the entries (their code, name and ingredient) in result order; the
    synonyms are numbered apart, sorted by folded name. A query matches an entry when all its words
    match its own words, or all match one of its synonyms' words together with its own.
    """

    def __init__(self, data: bytes | bytearray) -> None:
        """Serve a snapshot from its serialised form (``Snapshot.build(...).data``)."""
        s = _read_sections(data)
        try:
            self.revision, self._entries, synonyms = struct.unpack("<QQQ", s["meta"])
            self.data = data
            self._ids = s["ids"].cast("I" if len(s["ids"]) == 4 * self._entries else "q")
            self._names = _front_coded(s, "names", self._entries)
            self._codes = _front_coded(s, "codes", self._entries)
            self._code_positions = s["code_positions"].cast("I")
            self._by_type = {
                k[5:]: FrozenBitMap.deserialize(cast(bytes, v)) for k, v in s.items() if k.startswith("type:")
            }
            self._words = _Keys(s["words.blob"], s["words.offsets"].cast("I"))
            self._postings = _Postings(s["postings.blob"], s["postings.offsets"].cast("I"))
            self._synonyms = synonyms
            self._synonym_keys = _Keys(s["synonym_keys.blob"], s["synonym_keys.offsets"].cast("I"))
            self._synonym_owner = s["synonym_owner"].cast("I")
            self._synonym_index = s["synonym_index"].cast("I")
            self._by_owner = s["by_owner"].cast("I")
            self._by_owner_owner = s["by_owner_owner"].cast("I")
            self._synonym_words = _Keys(s["synonym_words.blob"], s["synonym_words.offsets"].cast("I"))
            self._synonym_postings = _Postings(
                s["synonym_postings.blob"], s["synonym_postings.offsets"].cast("I")
            )
            self._synonym_entry_postings = _Postings(
                s["synonym_entry_postings.blob"], s["synonym_entry_postings.offsets"].cast("I")
            )
            self._first_words = _Keys(
                s["synonym_first_words.blob"], s["synonym_first_words.offsets"].cast("I")
            )
            self._first_postings = _Postings(
                s["synonym_first_postings.blob"], s["synonym_first_postings.offsets"].cast("I")
            )
        except (KeyError, struct.error, TypeError) as exc:
            raise SnapshotFormatError(f"search snapshot is incomplete: {exc}") from exc
        self._prefix_cache: OrderedDict[tuple[str, str], FrozenBitMap] = OrderedDict()
        self._cached_values = 0

    @classmethod
    def build(cls, revision: int, rows: Iterable[Row]) -> Snapshot:
        """Index ``(id, code_key, product_type, name_key, search_text, synonyms)`` rows."""
        return cls(_build(revision, rows))

    def __len__(self) -> int:
        return int(self._entries)

    def count(self, product_type: str | None) -> int:
        """Return how many entries there are (of one type)."""
        if product_type is None:
            return int(self._entries)
        return len(self._by_type.get(product_type, ()))

    def _prefixed(self, word: str, family: str = "own") -> FrozenBitMap:
        """Entries with an own word starting with ``word`` (``own``); synonyms with such a word
        (``synonym``); entries with a synonym with such a word (``held``); entries with a synonym
        whose first word starts with it (``first``)."""
        key = (family, word)
        cached = self._prefix_cache.get(key)
        if cached is not None:
            self._prefix_cache.move_to_end(key)
            return cached
        words, postings = {
            "own": (self._words, self._postings),
            "synonym": (self._synonym_words, self._synonym_postings),
            "held": (self._synonym_words, self._synonym_entry_postings),
            "first": (self._first_words, self._first_postings),
        }[family]
        lo, hi = words.prefix_range(word)
        found = postings.union(lo, hi) if hi > lo else _EMPTY
        self._prefix_cache[key] = found
        self._cached_values += len(found)
        while len(self._prefix_cache) > _PREFIX_CACHE_SIZE or (
            self._cached_values > _PREFIX_CACHE_VALUES and len(self._prefix_cache) > 1
        ):
            _, dropped = self._prefix_cache.popitem(last=False)
            self._cached_values -= len(dropped)
        return found

    def _documents(self, words: Sequence[str]) -> tuple[BitMap, BitMap]:
        """The entries whose own words match every word, and the other entries one synonym matches.

        A synonym matches with its entry when every word is the synonym's or the entry's own. In
        entry space: an entry missing one word needs any synonym with it (``held``); an entry missing
        every word needs a synonym with all of them (one intersection in synonym space); only
        entries missing some but not all of three or more words need a look at their synonyms one
        by one.
        """
        unique = list(dict.fromkeys(words))
        own_sets = [self._prefixed(w) for w in unique]
        own = _intersection(own_sets)
        if not self._synonyms or not unique:
            return own, BitMap()
        held = [self._prefixed(w, "held") for w in unique]
        possible = _intersection_of_unions(list(zip(own_sets, held, strict=True)))
        possible.difference_update(own)
        if len(unique) == 1 or not possible:
            return own, possible
        self._keep_synonym_matches(possible, unique, own_sets)
        return own, possible

    def _keep_synonym_matches(
        self, possible: BitMap, unique: Sequence[str], own_sets: Sequence[FrozenBitMap]
    ) -> None:
        """Drop from ``possible`` the entries missing two or more words that no one synonym supplies."""
        missing = [possible.difference(o) for o in own_sets]
        several = BitMap()
        for i, first in enumerate(missing):
            for other in missing[i + 1 :]:
                several |= first & other
        every = _intersection(missing) if several else BitMap()
        if every:
            # Entries with none of the words of their own need one synonym with all of them: the
            # owners of those synonyms, found at once when there are not many more than candidates.
            common = _intersection([self._prefixed(w, "synonym") for w in unique])
            if len(common) <= 4 * len(every):
                owner = self._synonym_owner
                possible.difference_update(every.difference(BitMap(owner[n] for n in common)))
                several.difference_update(every)
        if several:
            lacking = [p for p in several if self._matching_synonym(p, unique, own_sets) is None]
            possible.difference_update(BitMap(lacking))

    def _matching_synonym(
        self, position: int, words: Sequence[str], own_sets: Sequence[FrozenBitMap]
    ) -> int | None:
        """The list index of the entry's first synonym that, with the entry's own words, has every word."""
        needed = [
            self._prefixed(w, "synonym") for w, o in zip(words, own_sets, strict=True) if position not in o
        ]
        for number in self._synonyms_of(position):  # in list order
            if all(number in n for n in needed):
                return int(self._synonym_index[number])
        return None

    def _synonyms_of(self, position: int) -> memoryview:
        """The numbers of the entry's synonyms, in list order."""
        lo = bisect_left(self._by_owner_owner, position)
        return self._by_owner[lo : bisect_right(self._by_owner_owner, position, lo)]

    def _synonym_starting(self, phrase: str, among: BitMap) -> tuple[BitMap, tuple[int, int]]:
        """The entries of ``among`` with a synonym starting with ``phrase``, and those synonyms' range."""
        lo, hi = self._synonym_keys.prefix_range(phrase)
        if hi == lo:
            return BitMap(), (lo, hi)
        if " " not in phrase:  # one word: a synonym starts with it when its first word does
            return among & self._prefixed(phrase, "first"), (lo, hi)
        owner = self._synonym_owner
        return among & BitMap(owner[n] for n in range(lo, hi)), (lo, hi)

    def _exact(self, code_key: str) -> int | None:
        """The position of the entry whose code key is ``code_key``, if any."""
        key = code_key.encode()
        i, found = self._codes.lower_bound(key)
        return int(self._code_positions[i]) if found == key else None

    def search(
        self, words: Sequence[str], *, product_type: str | None, code_key: str, offset: int, limit: int
    ) -> Hits:
        """Return one page of the entries matching every word, in relevance, name, code order."""
        own, by_synonym = self._documents(words)
        matches = own | by_synonym
        if product_type is not None:
            matches &= self._by_type.get(product_type, _EMPTY)
        total = len(matches)
        if offset >= total:
            return Hits([], total)
        # Relevance: the exact code first, then names starting with the query, then entries with a
        # synonym starting with the query, then the rest.
        exact = self._exact(code_key)
        first = [exact] if exact is not None and exact in matches else []
        if first:
            matches.discard(first[0])
        phrase = " ".join(words)
        starting = matches.intersection(_range(*self._names.prefix_range(phrase)))
        rest = matches.difference(starting) if starting else matches
        synonym_starting, keys = (
            self._synonym_starting(phrase, rest) if self._synonyms and rest else (BitMap(), (0, 0))
        )
        if synonym_starting:
            rest = rest.difference(synonym_starting)
        page = _page((first, starting, synonym_starting, rest), offset=offset, limit=limit)
        return Hits(
            [self._ids[p] for p in page], total, self._matched(page, words, synonym_starting, keys, own)
        )

    def _matched(
        self,
        page: list[int],
        words: Sequence[str],
        synonym_starting: BitMap,
        keys: tuple[int, int],
        own: BitMap,
    ) -> dict[int, int]:
        """Map the row id of each entry of the page shown by a synonym to that synonym's index.

        That is the synonym starting with the query when one ranked the entry (the first in
        folded-name order), else, when the entry's own text did not match, its first synonym
        (in list order) that did.
        """
        synonym_of: dict[int, int] = {}
        unique = list(dict.fromkeys(words))
        for position in page:
            found: int | None = None
            if position in synonym_starting:
                number = min(n for n in self._synonyms_of(position) if keys[0] <= n < keys[1])
                found = int(self._synonym_index[number])
            elif position not in own:
                found = self._matching_synonym(position, unique, [self._prefixed(w) for w in unique])
            if found is not None:
                synonym_of[self._ids[position]] = found
        return synonym_of


def _intersection(sets: Sequence[FrozenBitMap | BitMap]) -> BitMap:
    """The intersection of the sets, smallest first."""
    ordered = sorted(sets, key=len)
    found = BitMap(ordered[0]) if ordered else BitMap()
    for other in ordered[1:]:
        if not found:
            break
        found &= other
    return found


def _intersection_of_unions(pairs: list[tuple[FrozenBitMap, FrozenBitMap]]) -> BitMap:
    """The intersection over the pairs of each pair's union, without building a broad word's union.

    A common word (``500``) has big postings of its own and among synonyms: start from the most
    selective word's union and narrow it by intersections, which cost what the small side holds.
    """
    ordered = sorted(pairs, key=lambda p: len(p[0]) + len(p[1]))
    if not ordered:
        return BitMap()
    found = BitMap(ordered[0][0] | ordered[0][1])
    for own, held in ordered[1:]:
        if not found:
            break
        found = (found & own) | (found & held)
    return found


def _range(lo: int, hi: int) -> BitMap:
    """The positions ``lo .. hi - 1``."""
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
