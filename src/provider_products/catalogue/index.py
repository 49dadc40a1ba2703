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
sorted string set that is served in place from a byte buffer and answers prefix ranges.

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

_MAGIC = b"PPSNAP\0\0"
# The layout of the serialised snapshot; stored rows say theirs (``catalogue_index_snapshot``).
FORMAT_VERSION = 4
_FRONT_BLOCK = 16  # keys per front-coded block: one block is decoded per lookup
_PREFIX_CACHE_SIZE = 4096
# Broad prefixes union into big bitmaps: bound the values the cache keeps (at most 2 bytes each).
_PREFIX_CACHE_VALUES = 16_000_000
_EMPTY = FrozenBitMap()


class SnapshotFormatError(ValueError):
    """The bytes are not a snapshot this version can read."""


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


class _Keys:
    """Sorted UTF-8 strings stored end to end, addressed by an offsets array; a sequence for bisect.

    UTF-8 byte order is code point order, so the bytes sort exactly as the strings did.
    """

    __slots__ = ("_blob", "_offsets")

    def __init__(self, blob: memoryview, offsets: memoryview) -> None:
        self._blob = blob
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> bytes:
        return bytes(self._blob[self._offsets[i] : self._offsets[i + 1]])

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """The slice of the keys that start with ``prefix``."""
        key = prefix.encode()
        lo = bisect_left(self, key)
        # 0xFF never occurs in UTF-8: it sorts after every continuation of the prefix.
        return lo, bisect_left(self, key + b"\xff", lo)


class _FrontCodedKeys:
    """Sorted UTF-8 strings front-coded in blocks of ``_FRONT_BLOCK``, answering prefix ranges in place.

    Each block's first key is kept whole (in ``heads``); the block holds, for every other key, a
    varint of the bytes it shares with the previous key, a varint of the rest's length, the rest.
    A lookup bisects the heads and decodes one block.
    """

    __slots__ = ("_blob", "_count", "_heads", "_offsets")

    def __init__(self, heads: _Keys, blob: memoryview, offsets: memoryview, count: int) -> None:
        self._heads = heads
        self._blob = blob
        self._offsets = offsets
        self._count = count

    def __len__(self) -> int:
        return self._count

    def _block(self, j: int) -> list[bytes]:
        data = bytes(self._blob[self._offsets[j] : self._offsets[j + 1]])
        key = self._heads[j]
        keys = [key]
        at = 0
        while at < len(data):
            shared, at = _varint(data, at)
            size, at = _varint(data, at)
            key = key[:shared] + data[at : at + size]
            keys.append(key)
            at += size
        return keys

    def lower_bound(self, key: bytes) -> tuple[int, bytes | None]:
        """The index of the first key not below ``key``, and that key (None past the end)."""
        j = bisect_left(self._heads, key)
        if j > 0:
            block = self._block(j - 1)
            i = bisect_left(block, key)
            if i < len(block):
                return (j - 1) * _FRONT_BLOCK + i, block[i]
        if j >= len(self._heads):
            return self._count, None
        return j * _FRONT_BLOCK, self._heads[j]

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """The slice of the keys that start with ``prefix``."""
        key = prefix.encode()
        # 0xFF never occurs in UTF-8: it sorts after every continuation of the prefix.
        return self.lower_bound(key)[0], self.lower_bound(key + b"\xff")[0]


def _varint(data: bytes | memoryview, at: int) -> tuple[int, int]:
    """Decode the unsigned LEB128 integer at ``at``; return it and the index after it."""
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _offsets(values: Iterable[int]) -> array[int]:
    """4-byte offsets (every section of a snapshot stays far below 4 GiB)."""
    found = array("I")
    try:
        found.extend(values)
    except OverflowError as exc:
        raise SnapshotFormatError("a search snapshot section exceeds 4 GiB") from exc
    return found


class _Postings:
    """Serialised bitmaps stored end to end; one is deserialised when a search needs it."""

    __slots__ = ("_blob", "_offsets")

    def __init__(self, blob: memoryview, offsets: memoryview) -> None:
        self._blob = blob
        self._offsets = offsets

    def __getitem__(self, i: int) -> FrozenBitMap:
        # pyroaring reads any buffer; its stubs say bytes.
        return FrozenBitMap.deserialize(cast(bytes, self._blob[self._offsets[i] : self._offsets[i + 1]]))

    def union(self, lo: int, hi: int) -> FrozenBitMap:
        """The union of the bitmaps ``lo .. hi - 1``."""
        if hi - lo == 1:
            return self[lo]
        return FrozenBitMap(BitMap.union(BitMap(), *(self[i] for i in range(lo, hi))))


class _Writer:
    """Named sections of a snapshot, each aligned to 8 bytes, behind a small table of contents."""

    def __init__(self) -> None:
        self.sections: list[tuple[str, bytes]] = []

    def add(self, name: str, data: bytes) -> None:
        self.sections.append((name, data))

    def keys(self, name: str, keys: Iterable[str]) -> None:
        self._pieces(name, (key.encode() for key in keys))

    def front_coded(self, name: str, keys: Iterable[str]) -> None:
        """Sorted keys, front-coded in blocks (see ``_FrontCodedKeys``)."""
        heads: list[bytes] = []
        blocks: list[bytes] = []
        block: list[bytes] = []
        previous = b""
        for n, key in enumerate(keys):
            encoded = key.encode()
            if n % _FRONT_BLOCK == 0:
                if heads:
                    blocks.append(b"".join(block))
                heads.append(encoded)
                block = []
            else:
                shared = 0
                limit = min(len(previous), len(encoded))
                while shared < limit and previous[shared] == encoded[shared]:
                    shared += 1
                rest = encoded[shared:]
                block += [_encode_varint(shared), _encode_varint(len(rest)), rest]
            previous = encoded
        if heads:
            blocks.append(b"".join(block))
        self._pieces(name + ".heads", heads)
        self._pieces(name, blocks)

    def postings(self, name: str, bitmaps: Iterable[Iterable[int]]) -> None:
        self._pieces(name, (FrozenBitMap(members).serialize() for members in bitmaps))

    def _pieces(self, name: str, pieces: Iterable[bytes]) -> None:
        """Byte strings end to end (``.blob``) and where each starts (``.offsets``, one more)."""
        parts = list(pieces)
        at = 0

        def ends() -> Iterable[int]:
            nonlocal at
            yield 0
            for part in parts:
                at += len(part)
                yield at

        offsets = _offsets(ends())
        self.add(name + ".blob", b"".join(parts))
        self.add(name + ".offsets", offsets.tobytes())

    def to_bytes(self) -> bytes:
        toc = b"".join(
            struct.pack("<H", len(n.encode())) + n.encode() + struct.pack("<Q", len(d))
            for n, d in self.sections
        )
        head = _MAGIC + struct.pack("<II", FORMAT_VERSION, len(self.sections)) + toc
        out = [head, b"\0" * (-len(head) % 8)]
        for _, data in self.sections:
            out += [data, b"\0" * (-len(data) % 8)]
        return b"".join(out)


def format_version(data: bytes | bytearray | memoryview) -> int | None:
    """The format version a serialised snapshot was written in, or None when it is not one."""
    head = bytes(data[: len(_MAGIC) + 4])
    if head.startswith(b"PPSNAP3\n"):  # before versions had a field of their own
        return 3
    if len(head) < len(_MAGIC) + 4 or not head.startswith(_MAGIC):
        return None
    return int(struct.unpack_from("<I", head, len(_MAGIC))[0])


def _read_sections(data: bytes | bytearray) -> dict[str, memoryview]:
    """Map each section name of a serialised snapshot to a view of its bytes (no copies)."""
    view = memoryview(data)
    version = format_version(data)
    if version is None:
        raise SnapshotFormatError("not a search snapshot")
    if version != FORMAT_VERSION:
        raise SnapshotFormatError(
            f"search snapshot of format version {version}, this version reads {FORMAT_VERSION}"
        )
    (count,) = struct.unpack_from("<I", data, len(_MAGIC) + 4)
    at = len(_MAGIC) + 8
    entries: list[tuple[str, int]] = []
    for _ in range(count):
        (name_size,) = struct.unpack_from("<H", data, at)
        name = bytes(view[at + 2 : at + 2 + name_size]).decode()
        (size,) = struct.unpack_from("<Q", data, at + 2 + name_size)
        entries.append((name, size))
        at += 2 + name_size + 8
    at += -at % 8
    sections: dict[str, memoryview] = {}
    for name, size in entries:
        if at + size > len(data):
            raise SnapshotFormatError("search snapshot is truncated")
        sections[name] = view[at : at + size]
        at += size + (-size % 8)
    return sections


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
        return own, possible

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
