"""The serialised layout of a search snapshot: named sections of sorted keys, bitmaps and arrays.

Offsets and positions are 4-byte integers, and sorted keys can be front-coded in blocks (each key
stored as the length it shares with the previous one and the rest): no library offers a sorted
string set served in place from a byte buffer that answers prefix ranges. The serialised form
starts with its format version (``FORMAT_VERSION``), bumped whenever the layout changes.
"""

from __future__ import annotations

import struct
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from typing import cast

from pyroaring import BitMap, FrozenBitMap

_MAGIC = b"PPSNAP\0\0"
# The layout of the serialised snapshot; stored rows say theirs (``catalogue_index_snapshot``).
FORMAT_VERSION = 4
_FRONT_BLOCK = 16  # keys per front-coded block: one block is decoded per lookup


class SnapshotFormatError(ValueError):
    """The bytes are not a snapshot this version can read."""


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
