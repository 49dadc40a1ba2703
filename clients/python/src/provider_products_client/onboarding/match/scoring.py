"""Scoring one catalogue entry against one inventory row: word, strength and form agreement, 0 to 100."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from provider_products_client.onboarding.match.catalogue import CatalogueEntry
from provider_products_client.onboarding.match.facets import (
    MEDICINE_FAMILIES,
    Facets,
    contradictions,
    qualifier_of,
)
from provider_products_client.onboarding.match.names import Quantity, is_number
from provider_products_client.onboarding.match.vocabulary import (
    FORM_MAIN,
    FORM_QUALIFIERS,
    GENERIC_STUDY_WORDS,
    MINOR_WORDS,
    RELATED_FORMS,
)

# Weight of an inventory word the catalogue has never seen (brand, laboratory, packaging): it
# lowers every candidate's score alike, so it only needs to be small enough not to sink good
# matches below ACCEPT_SCORE.
UNKNOWN_WEIGHT = 1.2
# Unit-less numbers ("nivel 3", "45 minutos", "(2 proyecciones)") tell siblings apart: weigh them
# like a fairly rare word.
_NUMBER_WEIGHT = 3.0
# Salts and hydrates that inventories often leave out ("Tramadol" for "Clorhidrato de tramadol").
MINOR_WEIGHT = 0.3
# Form words count less towards covering a catalogue name: rows often leave the form out, and when
# they give it, the form agreement already scores it.
_FORM_RECALL_WEIGHT = 0.4
# How a score is made of the three agreements (a missing one gives its weight to the others).
_WEIGHT_TEXT = 0.60
_WEIGHT_STRENGTH = 0.30
_WEIGHT_FORM = 0.10
# Form words: the main form counts fully, qualifiers ("oral", "recubierta") less.
_QUALIFIER_WEIGHT = 0.3
_RELATED_CREDIT = 0.7
_INJECTABLE_WEIGHT = 0.6
_CONTRADICTION_FACTOR = 0.85
# A contradicting form, route or release weighs more than a strength written another way: "PARACETAMOL
# FA 1000 MG" is the infusion (10 mg/mL) before it is the 1 g tablet.
_FORM_CONTRADICTION_FACTOR = 0.7
# A medication entry against a row that states neither strength nor form ("ACIDO FOLICO"): inventory
# rows of medicines nearly always say one, rows of lab tests name the drug alone.
_BARE_NAME_FACTOR = 0.8
# An entry that only the bracketed details of a row name ("HEMOGRAMA [... RECUENTO DE PLAQUETAS]" for
# "Recuento de plaquetas") is a part of the row's product, not the product.
_DETAILS_ONLY_FACTOR = 0.75
# Credit of a strength written another way: enough to be the same, less than as written, so that
# "60 mg/2 mL" prefers "60 mg/2 mL" to "30 mg/mL".
SAME_STRENGTH = 0.9
# Credit of the same amount with and without "/mL" ("40 mg" ampoule against "40 mg/mL"): a 1 mL
# ampoule is both, a tablet's 100 mg is not a syrup's 100 mg/mL.
PER_ML_UNSTATED = 0.5
# Concentrations computed from a total and a volume are rounded: 2% apart is the same strength.
_ROUNDING = 0.02
_SYNONYM_WORD = 0.97
_MAIN_NAMED = 0.8
# A synonym counts when each of its words is matched this well; it then names the entry's core words.
_SYNONYM_MATCH = 0.8


@dataclass(frozen=True)
class Indexed:
    """A catalogue entry as the index holds it: its parsed name, strengths and form words."""

    entry: CatalogueEntry
    words: tuple[str, ...]  # words that must be matched for full recall
    all_words: frozenset[str]  # those plus aside words and the active ingredient's
    quantities: tuple[Quantity, ...]
    keys: frozenset[tuple[str, float]]
    numbers: frozenset[float]  # unit-less numbers: "nivel 3", "(2 proyecciones)"
    forms: dict[str, float]
    core: tuple[str, ...] = ()  # the words a row must name: ingredient or study, not form or salt
    synonyms: tuple[tuple[str, ...], ...] = ()  # brand, regional and older names, parsed
    facets: Facets | None = None
    name_words: frozenset[str] = frozenset()  # the words of its name and ingredient, not synonyms
    identity_words: frozenset[str] = frozenset()  # words that name this product and no other


@dataclass
class Query:
    """An inventory row ready to score: its words with their catalogue look-alikes, strengths and forms."""

    words: list[str]
    matches: list[dict[str, float]]  # per query word: catalogue word -> similarity
    weights: list[float]
    quantities: tuple[Quantity, ...]
    numbers: frozenset[float]
    forms: dict[str, float]
    facets: Facets | None = None
    # words of a bracketed list of three or more ("[CLORO. SODIO. POTASIO]"): what a panel holds
    listed: frozenset[str] = frozenset()
    # words given only in brackets or parentheses
    details: frozenset[str] = frozenset()


def form_weights(words: Iterable[str]) -> dict[str, float]:
    """Weigh the form words among ``words``: main forms fully, qualifiers less."""
    weights: dict[str, float] = {}
    for word in words:
        if word == "inyectable":
            # a route more than a form, but the one that matters most ("amp" means injectable)
            weights[word] = _INJECTABLE_WEIGHT
        elif word in FORM_MAIN:
            weights[word] = 1.0
        elif word in FORM_QUALIFIERS:
            weights[word] = _QUALIFIER_WEIGHT
    return weights


def number_weight(word: str) -> float:
    """Weigh a unit-less number of a name."""
    # "nivel 3", "45 minutos" tell siblings apart; a long number is more likely an inventory code
    return _NUMBER_WEIGHT if len(word) <= 3 else UNKNOWN_WEIGHT


def score(query: Query, indexed: Indexed, idf: Mapping[str, float]) -> float:
    """Score an entry against a row from 0 to 100."""
    text = _text_agreement(query, indexed, idf)
    parts = [(_WEIGHT_TEXT, text)]
    strength = _strength_agreement(query, indexed)
    if strength is not None:
        parts.append((_WEIGHT_STRENGTH, strength))
    if query.forms:
        parts.append((_WEIGHT_FORM, _form_agreement(query.forms, indexed.forms)))
    total = sum(w for w, _ in parts)
    value = 100.0 * sum(w * v for w, v in parts) / total
    return value * _penalty(query, indexed)


def _penalty(query: Query, indexed: Indexed) -> float:
    """Lower an entry whose form or qualifiers the row contradicts (the right product is likely absent)."""
    if query.facets is None or indexed.facets is None:
        return 1.0
    found = contradictions(query.facets, indexed.facets)
    if query.details and not named_by_main_words(query, indexed):
        return _DETAILS_ONLY_FACTOR
    if any(not c.startswith("qualifier") for c in found):
        return _FORM_CONTRADICTION_FACTOR
    if found:
        return _CONTRADICTION_FACTOR
    if medicine_row(query, indexed):
        return _BARE_NAME_FACTOR  # "TAMSULON 0.4MG CAPSULAS" is no lab test
    bare = not query.quantities and not query.numbers and not query.facets.states_form
    if bare and indexed.entry.product_type == "MEDICATION" and indexed.quantities:
        return _BARE_NAME_FACTOR
    return 1.0


def medicine_row(query: Query, indexed: Indexed) -> bool:
    """Whether a lab test or imaging study is offered for a row that states a medicine's form or strength
    ("VITAMINA B12 1MG/ML AMPOLLAS"; the "Glucosa poscarga de 75 g" test states its own 75 g)."""
    if indexed.entry.product_type not in ("LAB", "IMAGING") or query.facets is None:
        return False
    amounts = [q for q in query.quantities if q.dimension.split("/")[0] in ("mass", "ui", "percent")]
    # "IV" is also a roman four ("HEMOGRAMA IV"): an injectable without a strength is no evidence
    if query.facets.families & MEDICINE_FAMILIES - {"inyectable"}:
        return True
    return any(credit(q, indexed) == 0.0 for q in amounts)


# --- words ----------------------------------------------------------------------------------------


def _text_agreement(query: Query, indexed: Indexed, idf: Mapping[str, float]) -> float:
    """Blend how much of the entry's name the row explains and how much of the row the entry does."""
    explained, covered = _explained(query, indexed)
    if query.facets is not None and indexed.facets is not None:
        # "comparativas" names "ambas" (both bilateral); "cuantitativo" names "cuantitativa"
        for word in indexed.words:
            said = qualifier_of(word)
            if said is not None and query.facets.qualifiers.get(said[0]) == said[1]:
                covered[word] = 1.0
    query_total = sum(query.weights)
    precision = explained / query_total if query_total else 0.0
    needed = 0.0
    got = 0.0
    for word in indexed.words:
        weight = _entry_weight(word, idf)
        needed += weight
        got += weight * covered.get(word, 0.0)
    recall = got / needed if needed else precision
    return _blend(recall, precision)


def _explained(query: Query, indexed: Indexed) -> tuple[float, dict[str, float]]:
    """Sum the row's word weights by how well the entry matches each; note the entry words covered."""
    covered: dict[str, float] = {}
    explained = 0.0
    for word, matches, weight in zip(query.words, query.matches, query.weights, strict=True):
        best = 0.0
        for other in indexed.all_words:
            sim = matches.get(other, 0.0)
            if other not in indexed.name_words:
                sim *= _SYNONYM_WORD  # "paracetamol" names "Paracetamol 500 mg" before "Acetaminofén"
            if sim > 0.0:
                # every entry word the row word stands for is covered: "aspirina" covers both
                # "acido" and "acetilsalicilico"
                best = max(best, sim)
                if sim > covered.get(other, 0.0):
                    covered[other] = sim
        if best == 0.0 and _is_strength_number(word, indexed):
            best = 1.0  # "Acetaminofen 500 tab": a bare number that is the entry's strength
        explained += weight * best
    for synonym in indexed.synonyms:
        sim = synonym_match(query, synonym)
        if sim:
            for word in indexed.core:
                covered[word] = max(covered.get(word, 0.0), sim)
    return explained, covered


def named_by_main_words(query: Query, indexed: Indexed) -> bool:
    """Whether a word of the row's name itself (not of its brackets) names one of the entry's words."""
    for word, matches in zip(query.words, query.matches, strict=True):
        if word not in query.details and any(matches.get(w, 0.0) >= _MAIN_NAMED for w in indexed.all_words):
            return True
    return False


def synonym_match(query: Query, synonym: tuple[str, ...]) -> float:
    """How well the row names all the words of a synonym (0 when one is missing)."""
    words = [w for w in synonym if not is_number(w)]
    if not words:
        return 0.0
    sims = [max((m.get(w, 0.0) for m in query.matches), default=0.0) for w in words]
    low = min(sims)
    return low if low >= _SYNONYM_MATCH else 0.0


def _is_strength_number(word: str, indexed: Indexed) -> bool:
    return is_number(word) and any(float(word) in (q.number, q.value) for q in indexed.quantities)


def covered_words(query: Query, indexed: Indexed) -> dict[str, float]:
    """Return the entry's words the row names, with how well."""
    return _explained(query, indexed)[1]


def _entry_weight(word: str, idf: Mapping[str, float]) -> float:
    if is_number(word):
        return number_weight(word)
    weight = idf.get(word, UNKNOWN_WEIGHT)
    if word in MINOR_WORDS or word in GENERIC_STUDY_WORDS:
        return weight * MINOR_WEIGHT
    # inventories often leave the form out; when they give it, the form agreement counts it
    return weight * _FORM_RECALL_WEIGHT if word in FORM_MAIN or word in FORM_QUALIFIERS else weight


def _blend(recall: float, precision: float) -> float:
    return 0.55 * recall + 0.45 * precision


# --- strengths ------------------------------------------------------------------------------------


def _strength_agreement(query: Query, indexed: Indexed) -> float | None:
    """Share of strengths in common; ``None`` when the row says nothing comparable."""
    if query.quantities:
        return _strengths_in_common(query, indexed)
    if query.numbers and indexed.quantities:
        # unit-less numbers ("Amoxicilina 875/125 tab") against the entry's strengths
        found = sum(1 for q in indexed.quantities if q.number in query.numbers or q.value in query.numbers)
        return found / len(indexed.quantities)
    if query.numbers and indexed.numbers:
        # "Consulta de urgencias, nivel 3" is not "nivel 1"
        common = len(query.numbers & indexed.numbers)
        return 0.7 * common / len(query.numbers) + 0.3 * common / len(indexed.numbers)
    return None


def _strengths_in_common(query: Query, indexed: Indexed) -> float:
    if not indexed.keys:
        return 0.0
    credits = [credit(q, indexed) for q in query.quantities]
    found = sum(credits) / len(credits)
    explained = min(1.0, sum(credits) / len(indexed.quantities))
    # half the strengths of a combination ("500/125" against "875/125") is a different product
    coverage = sum(1 for c in credits if c > 0.0) / len(credits)
    return coverage * (0.7 * found + 0.3 * explained)


def credit(quantity: Quantity, indexed: Indexed) -> float:
    """1 for the same strength as written, 0.9 written another way ("500 mg/10 mL" for "50 mg/mL"), 0.5
    for the same amount with or without "/mL" ("100 mg" for "100 mg/mL"), 0 for another strength.

    When both names give the volume ("50 mg/1 mL" against "50 mg/5 mL") the concentrations decide."""
    return max((pair_credit(quantity, q) for q in indexed.quantities), default=0.0)


def _close(a: tuple[str, float] | None, b: tuple[str, float] | None) -> bool:
    """Two concentrations equal but for rounding ("66.7 g/100 mL" and "3.3 g/5 mL")."""
    if a is None or b is None or a[0] != b[0] or max(a[1], b[1]) <= 0:
        return False
    return abs(a[1] - b[1]) / max(a[1], b[1]) <= _ROUNDING


def pair_credit(row: Quantity, entry: Quantity) -> float:
    """Credit of one row strength against one entry strength (see ``credit``)."""
    row_concentration, entry_concentration = row.concentration, entry.concentration
    close = _close(row_concentration, entry_concentration)
    if row.volume and entry.volume and not close:
        return 0.0
    if row.key == entry.key:
        return 1.0
    if row.keys & entry.keys or close:
        return SAME_STRENGTH
    if row_concentration is not None and entry_concentration is not None:
        return 0.0
    for dimension, value in row.keys:
        base = dimension.removesuffix("/ml")
        if (
            entry.dimension != dimension
            and entry.dimension.removesuffix("/ml") == base
            and round(entry.value, 6) == value
        ):
            return PER_ML_UNSTATED
    return 0.0


# --- forms ----------------------------------------------------------------------------------------


def _form_agreement(query: Mapping[str, float], entry: Mapping[str, float]) -> float:
    """Weighted Jaccard similarity of two sets of form words, with partial credit for related forms."""
    union = sum(query.values()) + sum(w for k, w in entry.items() if k not in query)
    common = 0.0
    for word, weight in query.items():
        if word in entry:
            common += weight
        elif any(other in entry for other in RELATED_FORMS.get(word, ())):
            common += _RELATED_CREDIT * weight
    return common / union if union else 0.0
