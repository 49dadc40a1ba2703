"""Whether a candidate may be filled without a person: what the row and the entry agree on, and what not.

A confident code needs every core word of the entry (ingredient or study, not form or salt) named by
the row (directly, by a typo or abbreviation, or through one of the entry's synonyms), the entry's
strength stated and equal, no stated form, route, release or qualifier that contradicts the entry, and
no significant word of the row that the entry does not explain.
"""

from __future__ import annotations

from collections.abc import Mapping

from provider_products.onboarding.match.facets import contradictions
from provider_products.onboarding.match.names import is_number
from provider_products.onboarding.match.scoring import (
    SAME_STRENGTH,
    Indexed,
    Query,
    covered_words,
    credit,
    synonym_match,
)
from provider_products.onboarding.match.vocabulary import FORM_MAIN, FORM_QUALIFIERS, MINOR_WORDS

# A core word counts as named at this similarity (one typo in a long word, an abbreviation).
_NAMED = 0.8
# A row word the catalogue knows this well (IDF) and the entry does not explain is a different product.
_SIGNIFICANT_IDF = 3.5
_IGNORED = FORM_MAIN | FORM_QUALIFIERS | MINOR_WORDS | {"con", "sin", "simple", "contraste"}


def assess(query: Query, indexed: Indexed, idf: Mapping[str, float]) -> tuple[str, str | None]:
    """Return why the entry fits the row and, when it may not be filled, what is missing or contradicts."""
    problems: list[str] = []
    if query.facets is not None and indexed.facets is not None:
        problems.extend(contradictions(query.facets, indexed.facets))
    covered = covered_words(query, indexed)
    missing = [w for w in indexed.core if covered.get(w, 0.0) < _NAMED]
    if missing:
        problems.append("name words missing: " + ", ".join(missing))
    strength, strength_problem = _strength(query, indexed)
    if strength_problem:
        problems.append(strength_problem)
    extra = _unexplained(query, indexed, idf)
    if extra:
        problems.append("row words not in the entry: " + ", ".join(extra))
    reason = ", ".join(part for part in (_named(query, indexed), strength, _form(indexed)) if part)
    return reason, "; ".join(problems) or None


def _named(query: Query, indexed: Indexed) -> str:
    for synonym in indexed.synonyms:
        if synonym_match(query, synonym) and not any(w in query.words for w in indexed.core):
            return "synonym " + " ".join(synonym)
    label = "ingredient" if indexed.entry.product_type == "MEDICATION" else "name"
    return f"{label} {' '.join(indexed.core)}" if indexed.core else ""


def _form(indexed: Indexed) -> str:
    families = indexed.facets.families if indexed.facets else frozenset()
    return "form " + "/".join(sorted(families)) if families else ""


def _strength(query: Query, indexed: Indexed) -> tuple[str, str | None]:
    if not indexed.quantities:
        return "", None
    shown = " + ".join(q.text() for q in indexed.quantities)
    if not query.quantities:
        numbers = {n for q in indexed.quantities for n in (q.number, q.value)}
        if query.numbers and query.numbers <= numbers:
            return f"strength {shown}", None
        return "", "strength missing"
    credits = [credit(q, indexed) for q in query.quantities]
    if min(credits) < SAME_STRENGTH or len(credits) < len(indexed.quantities):
        return "", f"strength differs: entry {shown}"
    return f"strength {shown}", None


def _unexplained(query: Query, indexed: Indexed, idf: Mapping[str, float]) -> list[str]:
    """Row words the catalogue knows well that this entry does not explain ("apo a1" for "apo b")."""
    out: list[str] = []
    for word, matches in zip(query.words, query.matches, strict=True):
        if word in _IGNORED or is_number(word) or not matches:
            continue
        if max(idf.get(w, 0.0) for w in matches) < _SIGNIFICANT_IDF:
            continue
        if any(matches.get(other, 0.0) >= _NAMED for other in indexed.all_words):
            continue
        out.append(word)
    return out
