"""Accent- and case-folding of catalogue text, shared by indexing, search and ordering.

Both backends search the same application-normalised column, so SQLite and PostgreSQL answer
exactly alike: a query word matches an entry when one of the entry's words starts with it.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Decompose, drop combining marks and case-fold: ``"Acetaminofén"`` becomes ``"acetaminofen"``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> list[str]:
    """Split folded text into its words (letters and digits; everything else separates)."""
    return _WORD.findall(fold(text))


def name_key(name: str) -> str:
    """Return the accent-insensitive ordering key of a name."""
    return " ".join(words(name))


def search_text(*parts: str | None) -> str:
    """Return the indexed search text: the folded words of every part, each preceded by a space.

    The leading space lets ``LIKE '% word%'`` express "some word starts with ``word``".
    """
    return "".join(" " + w for part in parts if part for w in words(part))
