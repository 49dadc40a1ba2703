"""Propose catalogue codes for inventory rows that only have product names.

Pharmacy and clinic inventories name products their own way: "ACETAMINOFEN 500MG TAB X 100 GENFAR"
for the catalogue's "Acetaminofén 500 mg Tableta". Both sides go through the same normalisation
(accent and case folding, abbreviation expansion, unit and decimal normalisation), which splits a
name into words, strengths (quantities with units) and pharmaceutical-form words. A candidate's
score (0 to 100) combines

* word agreement: IDF-weighted coverage of the catalogue name by the inventory words and of the
  inventory words by the catalogue name, where a word also matches its 1-2 edit typos (optimal
  string alignment) and an abbreviation matches the words it is a prefix of;
* strength agreement: "500mg", "0,5 g" and "500 mg" are the same strength; a different strength
  loses to the right one;
* form agreement: "tab" prefers "Tableta" to "Tableta recubierta" and to "Cápsula".

A word index narrows the catalogue to the entries sharing a (fuzzy) word with the row before any
scoring, so the cost per row grows with the number of similar entries, not the catalogue size.
"""

from __future__ import annotations

import bisect
import csv
import heapq
import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from provider_products.catalogue.text import fold

# A best candidate at or above this score is written as the row's product_code; below it the row
# is left for a person to decide. Chosen from bench/match_accuracy.py: right answers score almost
# always above it, products absent from the catalogue almost always below.
ACCEPT_SCORE = 80.0
# Two best candidates closer than this are a coin toss ("Rx torax" fits 1, 2 and 3 projections alike):
# the row is left for a person even when the score is high.
AMBIGUOUS_MARGIN = 1.0
# Candidates below this are not worth a reviewer's time.
MIN_CANDIDATE_SCORE = 35.0

OUTPUT_COLUMNS = ("product_code", "score", "candidate_code", "candidate_name")
KNOWN_COLUMNS = ("name", "active_ingredient", "strength", "form")

# Entries scored in full per row, after the index has ranked them by shared words.
_SHORTLIST = 60
# Evidence a shared strength adds when picking the entries to score (a rare word is worth ~4 to 7).
_STRENGTH_EVIDENCE = 2.0
# Words found in more entries than this share are too common to pull candidates out of the index
# on their own (at 100k entries "tableta" alone would select 30k); they still count in the score.
_COMMON_SHARE = 0.05
_COMMON_MIN = 200
_MAX_PREFIX_MATCHES = 25
# Similarity credited to an abbreviation that is a prefix of a word ("amoxi" for "amoxicilina").
_PREFIX_SIM = 0.85
# A typo'd word keeps 1 - 1.2 x edits / length of its similarity: one edit in "ibuprofeno" leaves 0.88,
# two leave 0.76; short words pay more because their look-alikes are more often other words.
_EDIT_SCALE = 1.2
# Weight of an inventory word the catalogue has never seen (brand, laboratory, packaging): it
# lowers every candidate's score alike, so it only needs to be small enough not to sink good
# matches below ACCEPT_SCORE.
_UNKNOWN_WEIGHT = 1.2
# What is left of a look-alike's similarity when the row's word is itself a catalogue word.
_KNOWN_WORD_FUZZY = 0.6
# Unit-less numbers ("nivel 3", "45 minutos", "(2 proyecciones)") tell siblings apart: weigh them
# like a fairly rare word.
_NUMBER_WEIGHT = 3.0
# Salts and hydrates that inventories often leave out ("Tramadol" for "Clorhidrato de tramadol").
_MINOR_WEIGHT = 0.3

# Form words count less towards covering a catalogue name: rows often leave the form out, and when
# they give it, the form agreement already scores it.
_FORM_RECALL_WEIGHT = 0.4
# Similarity of an inventory word to its catalogue synonym ("paracetamol" for "acetaminofen").
_SYNONYM_SIM = 0.95

# How a score is made of the three agreements (a missing one gives its weight to the others).
_WEIGHT_TEXT = 0.60
_WEIGHT_STRENGTH = 0.30
_WEIGHT_FORM = 0.10

STOP_WORDS = frozenset({"de", "del", "la", "las", "el", "los", "en", "para", "por", "y", "e", "o", "a", "al"})

# Folded inventory spellings -> catalogue words. Values with spaces expand to several words.
ABBREVIATIONS: dict[str, str] = {
    # pharmaceutical forms
    "tab": "tableta",
    "tabs": "tableta",
    "tb": "tableta",
    "tbs": "tableta",
    "tabl": "tableta",
    "tableta": "tableta",
    "tabletas": "tableta",
    "comp": "tableta",
    "comps": "tableta",
    "compr": "tableta",
    "comprimido": "tableta",
    "comprimidos": "tableta",
    "grag": "tableta",
    "gragea": "tableta",
    "grageas": "tableta",
    "cap": "capsula",
    "caps": "capsula",
    "cps": "capsula",
    "capsulas": "capsula",
    "susp": "suspension",
    "sus": "suspension",
    "sol": "solucion",
    "soln": "solucion",
    "sln": "solucion",
    "iny": "inyectable",
    "inj": "inyectable",
    "inyec": "inyectable",
    "inyect": "inyectable",
    # an ampoule or vial in an inventory is what the catalogue calls an injectable
    "amp": "inyectable",
    "amps": "inyectable",
    "ampolla": "inyectable",
    "ampollas": "inyectable",
    "ampolleta": "inyectable",
    "ampolletas": "inyectable",
    "vial": "inyectable",
    "viales": "inyectable",
    "jbe": "jarabe",
    "jb": "jarabe",
    "jar": "jarabe",
    "crem": "crema",
    "cr": "crema",
    "cremas": "crema",
    "ung": "unguento",
    "ungto": "unguento",
    "pomada": "unguento",
    "gts": "gotas",
    "gt": "gotas",
    "got": "gotas",
    "oft": "oftalmica",
    "oftal": "oftalmica",
    "oftalm": "oftalmica",
    "oftalmico": "oftalmica",
    "oftalmicas": "oftalmica",
    "ot": "otica",
    "otico": "otica",
    "lib": "liberacion",
    "prol": "prolongada",
    "lp": "liberacion prolongada",
    "xr": "liberacion prolongada",
    "sr": "liberacion prolongada",
    "rec": "recubierta",
    "recub": "recubierta",
    "mast": "masticable",
    "eferv": "efervescente",
    "efv": "efervescente",
    "sup": "supositorio",
    "supos": "supositorio",
    "supositorios": "supositorio",
    "ovulos": "ovulo",
    "aer": "aerosol",
    "spray": "aerosol",
    "inh": "inhalacion",
    "inhal": "inhalacion",
    "neb": "nebulizacion",
    "nebul": "nebulizacion",
    "vag": "vaginal",
    "top": "topica",
    "topico": "topica",
    "pvo": "polvo",
    "polv": "polvo",
    "sublin": "sublingual",
    "gran": "granulado",
    "emul": "emulsion",
    "vo": "oral",
    "inhalador": "aerosol inhalacion",
    "jeringa": "inyectable",
    "jeringas": "inyectable",
    "prellenada": "inyectable",
    # salts
    "clorh": "clorhidrato",
    "hcl": "clorhidrato",
    "ac": "acido",
    "vit": "vitamina",
    # imaging, labs and procedures
    "rx": "radiografia",
    "eco": "ecografia",
    "ecog": "ecografia",
    "usg": "ecografia",
    "tac": "tomografia computarizada",
    "tc": "tomografia computarizada",
    "rm": "resonancia magnetica",
    "rmn": "resonancia magnetica",
    "ekg": "electrocardiograma",
    "ecg": "electrocardiograma",
    "bilat": "bilateral",
    "unilat": "unilateral",
    "cte": "contraste",
    "contr": "contraste",
    "vac": "vacuna",
    "cons": "consulta",
}

# Other names inventories use for a catalogue word: each is tried as well, slightly below an exact match,
# because the catalogue may hold both ("Paracetamol 750 mg" and "Acetaminofén 500 mg").
WORD_SYNONYMS: dict[str, tuple[str, ...]] = {
    "paracetamol": ("acetaminofen",),
    "acetaminofen": ("paracetamol",),
    "dipirona": ("metamizol",),
    "albuterol": ("salbutamol",),
    "glicemia": ("glucosa",),
    "glucemia": ("glucosa",),
    "dextrosa": ("glucosa",),
    "aspirina": ("acido", "acetilsalicilico"),
    "asa": ("acido", "acetilsalicilico"),
    "ssn": ("cloruro", "sodio"),
}
# Several-word names (after stop words are dropped) rewritten in inventory rows only.
PHRASE_SYNONYMS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("solucion", "salina"): ("cloruro", "sodio", "solucion"),
    ("suero", "fisiologico"): ("cloruro", "sodio", "solucion"),
    ("vitamina", "c"): ("acido", "ascorbico"),
    ("vitamina", "k"): ("fitomenadiona",),
    ("cuadro", "hematico"): ("hemograma",),
    ("biometria", "hematica"): ("hemograma",),
    ("parcial", "orina"): ("examen", "general", "orina"),
}

# Units -> (dimension, factor to the dimension's base unit).
_UNITS: dict[str, tuple[str, float]] = {
    "mg": ("mass", 1.0),
    "g": ("mass", 1000.0),
    "gr": ("mass", 1000.0),
    "grs": ("mass", 1000.0),
    "gramo": ("mass", 1000.0),
    "gramos": ("mass", 1000.0),
    "mcg": ("mass", 0.001),
    "ug": ("mass", 0.001),
    "μg": ("mass", 0.001),
    "microgramos": ("mass", 0.001),
    "ml": ("volume", 1.0),
    "cc": ("volume", 1.0),
    "l": ("volume", 1000.0),
    "lt": ("volume", 1000.0),
    "ui": ("ui", 1.0),
    "iu": ("ui", 1.0),
    "u": ("ui", 1.0),
    "%": ("percent", 1.0),
    "meq": ("meq", 1.0),
    "mosm": ("mosm", 1.0),
}
# Words after a unit that only say "per dose": "50 mcg/dosis".
_PER_WORDS = frozenset({"dosis", "puff", "inhalacion", "gota", "gotas"})

# Form words: the main form counts fully, qualifiers ("oral", "recubierta") less.
_FORM_MAIN = frozenset(
    {
        "tableta",
        "capsula",
        "suspension",
        "solucion",
        "inyectable",
        "jarabe",
        "crema",
        "unguento",
        "gotas",
        "gel",
        "supositorio",
        "ovulo",
        "polvo",
        "aerosol",
        "granulado",
        "emulsion",
        "locion",
        "champu",
        "pasta",
        "parche",
    }
)
_FORM_QUALIFIERS = frozenset(
    {
        "oral",
        "orales",
        "oftalmica",
        "otica",
        "nasal",
        "topica",
        "vaginal",
        "sublingual",
        "efervescente",
        "masticable",
        "recubierta",
        "blanda",
        "liberacion",
        "prolongada",
        "modificada",
        "retardada",
        "inhalacion",
        "nebulizacion",
        "bucodispersable",
        "pluma",
    }
)
_QUALIFIER_WEIGHT = 0.3
# "gotas oftálmicas" is what the catalogue calls "Solución oftálmica" (or a suspension).
_RELATED_FORMS: dict[str, tuple[str, ...]] = {"gotas": ("solucion", "suspension")}
_RELATED_CREDIT = 0.7
_INJECTABLE_WEIGHT = 0.6

_MINOR_WORDS = frozenset(
    {
        "clorhidrato",
        "sodico",
        "sodica",
        "potasico",
        "potasica",
        "calcico",
        "magnesico",
        "sulfato",
        "maleato",
        "tartrato",
        "succinato",
        "fumarato",
        "citrato",
        "besilato",
        "bromhidrato",
        "acetato",
        "fosfato",
        "mesilato",
        "hiclato",
        "monohidrato",
        "trihidrato",
        "dihidrato",
        "trometamol",
        "cristalina",
    }
)

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+|%|/|\(|\)")
# "1.200.000" and "1,000" group thousands, and so does "50 000" before international units (elsewhere
# "x 100 500 mg" is two numbers); a leading 0 ("0.125") is a decimal.
_THOUSANDS = re.compile(
    r"(?<![\d.,])([1-9]\d{0,2})((?:[.,]\d{3})+|(?: \d{3})+(?= ?(?:ui|u|iu)\b))(?!\d|[.,]\d)"
)
_DECIMAL_COMMA = re.compile(r"(\d),(\d)")


@dataclass(frozen=True)
class CatalogueEntry:
    """A catalogue product as the matcher sees it."""

    product_code: str
    product_type: str
    name: str
    active_ingredient: str | None = None
    concentration: str | None = None
    pharmaceutical_form: str | None = None


@dataclass(frozen=True)
class InventoryItem:
    """One inventory row: its line in the file, the columns the matcher reads and all the others."""

    line: int
    name: str
    active_ingredient: str | None = None
    strength: str | None = None
    form: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # The file's column order (read_inventory fills it) so proposals keep the inventory's layout.
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A proposed catalogue entry for an inventory row, with its score from 0 to 100."""

    product_code: str
    name: str
    score: float


@dataclass(frozen=True)
class Quantity:
    """A strength: its dimension ("mass", "mass/ml", "ui"...), value in base units and number as written."""

    dimension: str
    value: float
    number: float

    @property
    def key(self) -> tuple[str, float]:
        """Return what two equal strengths share: ``1 g`` and ``1000 mg`` give the same key."""
        return self.dimension, round(self.value, 6)


@dataclass(frozen=True)
class ParsedName:
    """A normalised name: its words outside and inside parentheses, its strengths and unit-less numbers."""

    words: tuple[str, ...]
    aside: tuple[str, ...]
    quantities: tuple[Quantity, ...]
    numbers: tuple[float, ...]


def _clean(text: str) -> str:
    """Fold and rewrite numbers: thousands groups joined, decimal commas made points."""
    folded = _THOUSANDS.sub(lambda m: m.group(1) + re.sub(r"[., ]", "", m.group(2)), fold(text))
    return _DECIMAL_COMMA.sub(r"\1.\2", folded)


def _tokens(text: str) -> list[str]:
    """Split normalised text into tokens, expanding abbreviations."""
    out: list[str] = []
    for token in _TOKEN.findall(_clean(text)):
        expansion = ABBREVIATIONS.get(token)
        if expansion is None:
            out.append(token)
        else:
            out.extend(expansion.split())
    return out


def _is_number(token: str) -> bool:
    return token[0].isdigit()


def parse_name(text: str) -> ParsedName:
    """Split a product name into words, strengths and unit-less numbers."""
    tokens = _tokens(text)
    words: list[str] = []
    aside: list[str] = []
    quantities: list[Quantity] = []
    numbers: list[float] = []
    chain: list[Quantity] = []  # strengths joined by "/" so far: "250 mg/62.5 mg/5 mL"
    depth = 0
    i = 0
    n = len(tokens)
    while i < n:
        word = tokens[i]
        if word == "(":
            depth += 1
            i += 1
            continue
        if word == ")":
            depth = max(0, depth - 1)
            i += 1
            continue
        # "x 30", "x30 tabs", "x 120 ml": packaging size, not part of the product's identity
        if word == "x" and i + 1 < n and _is_number(tokens[i + 1]):
            i += 2
            if i < n and tokens[i] in _UNITS:
                i += 1
            continue
        if _is_number(word):
            # a run like "875 / 125 mg" gives every number of the run the unit that ends it
            run = [word]
            j = i + 1
            while j + 1 < n and tokens[j] == "/" and _is_number(tokens[j + 1]):
                run.append(tokens[j + 1])
                j += 2
            unit = tokens[j] if j < n else None
            if unit in _UNITS and unit is not None:
                dimension, factor = _UNITS[unit]
                if not (i > 0 and tokens[i - 1] == "/"):
                    chain = []
                found = [Quantity(dimension, float(v) * factor, float(v)) for v in run]
                j += 1
                if unit == "u" and j < n and tokens[j] == "i":  # "u.i."
                    j += 1
                if j + 1 < n and tokens[j] == "/" and tokens[j + 1] in _UNITS:
                    # "100 mg/mL" is a concentration, not the 100 mg of a tablet
                    per, per_factor = _UNITS[tokens[j + 1]]
                    if per == "volume":
                        found = [Quantity(q.dimension + "/ml", q.value / per_factor, q.number) for q in found]
                    j += 2
                elif j + 1 < n and tokens[j] == "/" and tokens[j + 1] in _PER_WORDS:
                    j += 2  # "50 mcg/dosis": the dose is the unit anyway
                if dimension == "volume" and chain:
                    # "250 mg/5 mL" is also 50 mg/mL, the way some inventories write it
                    volume = found[-1].value
                    if volume > 0:
                        for q in chain:
                            if q.dimension in ("mass", "ui"):
                                derived = Quantity(q.dimension + "/ml", q.value / volume, q.value / volume)
                                quantities.append(derived)
                chain.extend(found)
                quantities.extend(found)
                i = j
                continue
            target = aside if depth else words
            for value in run:
                numbers.append(float(value))
                target.append(_canonical_number(value))
            i = j
            continue
        if word == "/" or word in STOP_WORDS:
            i += 1
            continue
        (aside if depth else words).append(word)
        i += 1
    return ParsedName(tuple(words), tuple(aside), tuple(quantities), tuple(numbers))


def _canonical_number(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else repr(value)


def _form_weights(words: Iterable[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for word in words:
        if word == "inyectable":
            # a route more than a form, but the one that matters most ("amp" means injectable)
            weights[word] = _INJECTABLE_WEIGHT
        elif word in _FORM_MAIN:
            weights[word] = 1.0
        elif word in _FORM_QUALIFIERS:
            weights[word] = _QUALIFIER_WEIGHT
    return weights


def _form_agreement(query: Mapping[str, float], entry: Mapping[str, float]) -> float:
    """Weighted Jaccard similarity of two sets of form words, with partial credit for related forms."""
    union = sum(query.values()) + sum(w for k, w in entry.items() if k not in query)
    common = 0.0
    for word, weight in query.items():
        if word in entry:
            common += weight
        elif any(other in entry for other in _RELATED_FORMS.get(word, ())):
            common += _RELATED_CREDIT * weight
    return common / union if union else 0.0


@dataclass(frozen=True)
class _Indexed:
    entry: CatalogueEntry
    words: tuple[str, ...]  # words that must be matched for full recall
    all_words: frozenset[str]  # those plus aside words and the active ingredient's
    quantities: tuple[Quantity, ...]
    keys: frozenset[tuple[str, float]]
    numbers: frozenset[float]  # unit-less numbers: "nivel 3", "(2 proyecciones)"
    forms: dict[str, float]


@dataclass
class _Query:
    words: list[str]
    matches: list[dict[str, float]]  # per query word: catalogue word -> similarity
    weights: list[float]
    quantities: frozenset[tuple[str, float]]
    numbers: frozenset[float]
    forms: dict[str, float]


class Matcher:
    """Rank catalogue entries against inventory rows."""

    def __init__(self, entries: Iterable[CatalogueEntry]) -> None:
        self._entries: list[_Indexed] = []
        postings: dict[str, list[int]] = {}
        for entry in entries:
            parsed = parse_name(entry.name)
            extra = parse_name(entry.concentration) if entry.concentration else None
            if entry.active_ingredient:
                # "Cianocobalamina (vitamina B12)": the words in parentheses are names too
                parsed_ingredient = parse_name(entry.active_ingredient)
                ingredient = (*parsed_ingredient.words, *parsed_ingredient.aside)
            else:
                ingredient = ()
            # the name's strength is what inventories copy; the concentration field only fills gaps
            quantities = parsed.quantities or (extra.quantities if extra else ())
            unique = tuple({q.key: q for q in quantities}.values())
            form_words = parse_name(entry.pharmaceutical_form).words if entry.pharmaceutical_form else ()
            indexed = _Indexed(
                entry=entry,
                words=parsed.words,
                all_words=frozenset((*parsed.words, *parsed.aside, *ingredient)),
                quantities=unique,
                keys=frozenset(q.key for q in unique),
                numbers=frozenset(parsed.numbers),
                forms=_form_weights((*parsed.words, *form_words)),
            )
            number = len(self._entries)
            self._entries.append(indexed)
            for word in indexed.all_words:
                postings.setdefault(word, []).append(number)
        self._postings = {word: frozenset(ids) for word, ids in postings.items()}
        strengths: dict[tuple[str, float], list[int]] = {}
        for number, indexed in enumerate(self._entries):
            for key in indexed.keys:
                strengths.setdefault(key, []).append(number)
        self._strength_postings = {key: frozenset(ids) for key, ids in strengths.items()}
        size = max(1, len(self._entries))
        self._idf = {word: math.log(1.0 + size / len(ids)) for word, ids in postings.items()}
        self._common = max(_COMMON_MIN, int(_COMMON_SHARE * size))
        self._vocabulary = sorted(postings)
        self._by_length: dict[int, list[str]] = {}
        for word in self._vocabulary:
            self._by_length.setdefault(len(word), []).append(word)
        self._nearby: dict[int, list[str]] = {}
        self._word_cache: dict[str, dict[str, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def candidates(self, item: InventoryItem, *, top: int = 3) -> list[Candidate]:
        """Return up to ``top`` catalogue candidates for an inventory row, best first."""
        query = self._query(item)
        if not query.words and not query.quantities:
            return []
        shortlist = self._shortlist(query)
        scored: list[Candidate] = []
        for number in shortlist:
            indexed = self._entries[number]
            score = self._score(query, indexed)
            if score >= MIN_CANDIDATE_SCORE:
                scored.append(Candidate(indexed.entry.product_code, indexed.entry.name, round(score, 1)))
        scored.sort(key=lambda c: (-c.score, c.name, c.product_code))
        return scored[:top]

    # --- query side -------------------------------------------------------------------------------

    def _query(self, item: InventoryItem) -> _Query:
        parsed = parse_name(item.name)
        words = _rewrite_phrases([*parsed.words, *parsed.aside])
        quantities = {q.key for q in parsed.quantities}
        numbers = set(parsed.numbers)
        if item.strength:
            strength = parse_name(item.strength)
            quantities |= {q.key for q in strength.quantities}
            numbers |= set(strength.numbers)
        for extra in (item.active_ingredient, item.form):
            if extra:
                words.extend(w for w in parse_name(extra).words if w not in words)
        unique = list(dict.fromkeys(words))
        matches = [self._similar_words(w) for w in unique]
        weights = [self._query_weight(w, m) for w, m in zip(unique, matches, strict=True)]
        return _Query(
            unique, matches, weights, frozenset(quantities), frozenset(numbers), _form_weights(unique)
        )

    def _query_weight(self, word: str, matches: Mapping[str, float]) -> float:
        if _is_number(word):
            return _number_weight(word)
        if not matches:
            return _UNKNOWN_WEIGHT
        weight = max(self._idf[w] for w in matches)
        return weight * _MINOR_WEIGHT if word in _MINOR_WORDS else weight

    def _similar_words(self, word: str) -> dict[str, float]:
        """Catalogue words that ``word`` may stand for, with a similarity from 0 to 1."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = 1.0
        for other in WORD_SYNONYMS.get(word, ()):
            if other in self._postings:
                found.setdefault(other, _SYNONYM_SIM)
        if not _is_number(word):
            length = len(word)
            if length >= 3 and word not in self._postings:
                start = bisect.bisect_left(self._vocabulary, word)
                for other in self._vocabulary[start : start + _MAX_PREFIX_MATCHES]:
                    if not other.startswith(word):
                        break
                    found[other] = _PREFIX_SIM
            if length >= 4:
                limit = 1 if length <= 5 else 2
                for other, distance, _ in process.extract(
                    word, self._nearby_words(length, limit), scorer=OSA.distance, score_cutoff=limit, limit=10
                ):
                    sim = max(0.5, 1.0 - _EDIT_SCALE * distance / length)
                    if word in self._postings:
                        # a word the catalogue knows is rarely a typo: "clonazepam" is not "lorazepam"
                        sim *= _KNOWN_WORD_FUZZY

                    if sim > found.get(other, 0.0):
                        found[other] = sim
        self._word_cache[word] = found
        return found

    def _nearby_words(self, length: int, spread: int) -> list[str]:
        key = length * 10 + spread
        nearby = self._nearby.get(key)
        if nearby is None:
            nearby = [
                w for n in range(length - spread, length + spread + 1) for w in self._by_length.get(n, ())
            ]
            self._nearby[key] = nearby
        return nearby

    def _shortlist(self, query: _Query) -> list[int]:
        """Rank entries by the IDF of the words and strengths they share with the row; keep the best."""
        groups: list[tuple[int, list[tuple[frozenset[int], float]]]] = []
        for matches in query.matches:
            group = sorted(
                ((self._postings[w], sim * self._idf[w]) for w, sim in matches.items()), key=lambda g: g[1]
            )
            if group:
                groups.append((sum(len(ids) for ids, _ in group), group))
        for key in query.quantities:
            ids = self._strength_postings.get(key)
            if ids:
                groups.append((len(ids), [(ids, _STRENGTH_EVIDENCE)]))
        # Rare words open the pool of entries to score; a common word ("tableta", "500 mg") only adds
        # evidence to entries already in it, through a set intersection, so a row costs in proportion
        # to the entries sharing its rarer words, not to the catalogue size.
        groups.sort(key=lambda g: g[0])
        evidence: dict[int, float] = {}
        for size, group in groups:
            open_pool = not evidence or size <= self._common
            per_entry: dict[int, float] = {}
            for ids, gain in group:  # ascending gains: the best similarity of a row word wins
                per_entry.update(dict.fromkeys(ids if open_pool else ids & evidence.keys(), gain))
            for number, gain in per_entry.items():
                evidence[number] = evidence.get(number, 0.0) + gain
        if len(evidence) > _SHORTLIST:
            return heapq.nlargest(_SHORTLIST, evidence, key=evidence.__getitem__)
        return sorted(evidence, key=evidence.__getitem__, reverse=True)

    # --- scoring ----------------------------------------------------------------------------------

    def _score(self, query: _Query, indexed: _Indexed) -> float:
        text = self._text_agreement(query, indexed)
        parts = [(_WEIGHT_TEXT, text)]
        strength = self._strength_agreement(query, indexed)
        if strength is not None:
            parts.append((_WEIGHT_STRENGTH, strength))
        if query.forms:
            parts.append((_WEIGHT_FORM, _form_agreement(query.forms, indexed.forms)))
        total = sum(w for w, _ in parts)
        return 100.0 * sum(w * v for w, v in parts) / total

    def _text_agreement(self, query: _Query, indexed: _Indexed) -> float:
        """Blend how much of the entry's name the row explains and how much of the row the entry does."""
        covered: dict[str, float] = {}
        explained = 0.0
        for word, matches, weight in zip(query.words, query.matches, query.weights, strict=True):
            best = 0.0
            for other in indexed.all_words:
                sim = matches.get(other, 0.0)
                if sim > 0.0:
                    # every entry word the row word stands for is covered: "aspirina" covers both
                    # "acido" and "acetilsalicilico"
                    best = max(best, sim)
                    if sim > covered.get(other, 0.0):
                        covered[other] = sim
            if (
                best == 0.0
                and _is_number(word)
                and any(float(word) in (q.number, q.value) for q in indexed.quantities)
            ):
                best = 1.0  # "Acetaminofen 500 tab": a bare number that is the entry's strength
            explained += weight * best
        query_total = sum(query.weights)
        precision = explained / query_total if query_total else 0.0
        needed = 0.0
        got = 0.0
        for word in indexed.words:
            weight = self._entry_weight(word)
            needed += weight
            got += weight * covered.get(word, 0.0)
        recall = got / needed if needed else precision
        return _blend(recall, precision)

    def _entry_weight(self, word: str) -> float:
        if _is_number(word):
            return _number_weight(word)
        weight = self._idf.get(word, _UNKNOWN_WEIGHT)
        if word in _MINOR_WORDS:
            return weight * _MINOR_WEIGHT
        # inventories often leave the form out; when they give it, the form agreement counts it
        return weight * _FORM_RECALL_WEIGHT if word in _FORM_MAIN or word in _FORM_QUALIFIERS else weight

    @staticmethod
    def _strength_agreement(query: _Query, indexed: _Indexed) -> float | None:
        """Share of strengths in common; ``None`` when the row says nothing comparable."""
        if query.quantities:
            if not indexed.keys:
                return 0.0
            credits = [_credit(q, indexed) for q in query.quantities]
            found = sum(credits) / len(credits)
            explained = min(1.0, sum(credits) / len(indexed.keys))
            # half the strengths of a combination ("500/125" against "875/125") is a different product
            coverage = sum(1 for c in credits if c > 0.0) / len(credits)
            return coverage * (0.7 * found + 0.3 * explained)
        if query.numbers and indexed.quantities:
            # unit-less numbers ("Amoxicilina 875/125 tab") against the entry's strengths
            found = sum(
                1 for q in indexed.quantities if q.number in query.numbers or q.value in query.numbers
            )
            return found / len(indexed.quantities)
        if query.numbers and indexed.numbers:
            # "Consulta de urgencias, nivel 3" is not "nivel 1"
            common = len(query.numbers & indexed.numbers)
            return 0.7 * common / len(query.numbers) + 0.3 * common / len(indexed.numbers)
        return None


def _rewrite_phrases(words: list[str]) -> list[str]:
    """Replace inventory phrases that the catalogue words differently ("solucion salina")."""
    out: list[str] = []
    i = 0
    while i < len(words):
        for phrase, replacement in PHRASE_SYNONYMS.items():
            if tuple(words[i : i + len(phrase)]) == phrase:
                out.extend(replacement)
                i += len(phrase)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _number_weight(word: str) -> float:
    # "nivel 3", "45 minutos" tell siblings apart; a long number is more likely an inventory code
    return _NUMBER_WEIGHT if len(word) <= 3 else _UNKNOWN_WEIGHT


def _blend(recall: float, precision: float) -> float:
    return 0.55 * recall + 0.45 * precision


def _credit(key: tuple[str, float], indexed: _Indexed) -> float:
    """1 for the same strength; 0.5 for the same amount with or without "/mL" ("100 mg" for "100 mg/mL")."""
    if key in indexed.keys:
        return 1.0
    dimension, value = key
    base = dimension.removesuffix("/ml")
    for q in indexed.quantities:
        if (
            q.dimension != dimension
            and q.dimension.removesuffix("/ml") == base
            and round(q.value, 6) == value
        ):
            return 0.5
    return 0.0


# --- files ----------------------------------------------------------------------------------------


def catalogue_entries(
    records: Iterable[Mapping[str, Any]], *, include_inactive: bool = False
) -> list[CatalogueEntry]:
    """Build matcher entries from catalogue records (import rows or API answers); skip inactive ones."""
    entries: list[CatalogueEntry] = []
    for record in records:
        if not include_inactive and str(record.get("status") or "ACTIVE").upper() != "ACTIVE":
            continue
        entries.append(
            CatalogueEntry(
                product_code=str(record["product_code"]),
                product_type=str(record["product_type"]),
                name=str(record["name"]),
                active_ingredient=_optional(record.get("active_ingredient")),
                concentration=_optional(record.get("concentration")),
                pharmaceutical_form=_optional(record.get("pharmaceutical_form")),
            )
        )
    return entries


def _optional(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _item(line: int, record: Mapping[str, str], columns: Sequence[str]) -> InventoryItem:
    """Build an item from a row whose column names are already trimmed."""
    lowered = {c.strip().lower(): c for c in columns}
    known = {k: lowered[k] for k in KNOWN_COLUMNS if k in lowered}
    name = (record.get(known["name"]) or "").strip() if "name" in known else ""
    if not name:
        raise ValueError(f"line {line}: the row has no name")
    return InventoryItem(
        line=line,
        name=name,
        active_ingredient=_optional(record.get(known["active_ingredient"]))
        if "active_ingredient" in known
        else None,
        strength=_optional(record.get(known["strength"])) if "strength" in known else None,
        form=_optional(record.get(known["form"])) if "form" in known else None,
        extra={c: record.get(c) or "" for c in columns if c not in known.values()},
        columns=tuple(columns),
    )


def read_inventory(path: Path) -> list[InventoryItem]:
    """Read an inventory (CSV with a header row, or JSON Lines); every row needs a ``name``."""
    content = path.read_text("utf-8-sig")  # spreadsheets write a BOM
    items: list[InventoryItem] = []
    errors: list[str] = []
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        columns: list[str] = []
        for number, line in enumerate(content.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"line {number}: invalid JSON ({exc.msg})")
                continue
            if not isinstance(value, dict):
                errors.append(f"line {number}: each line must be a JSON object")
                continue
            record = {str(k).strip(): _cell(v) for k, v in value.items()}
            columns.extend(k for k in record if k not in columns)
            try:
                items.append(_item(number, record, list(record)))
            except ValueError as exc:
                errors.append(str(exc))
    else:
        lines = content.splitlines(keepends=True)
        header = lines[0] if lines else ""
        # spreadsheets set to Spanish locales save with ';' because ',' is the decimal separator
        delimiter = ";" if header.count(";") > header.count(",") else ","
        reader = csv.reader(io.StringIO(content), delimiter=delimiter)
        fieldnames = [c.strip() for c in next(reader, [])]
        if "name" not in {c.lower() for c in fieldnames}:
            raise ValueError(f"line 1: {path.name} has no 'name' column (columns: {', '.join(fieldnames)})")
        start = reader.line_num + 1
        for row in reader:
            row_line = start
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(fieldnames):
                errors.append(f"line {row_line}: more values than header columns")
                continue
            record = dict(zip(fieldnames, [*row, *[""] * (len(fieldnames) - len(row))], strict=True))
            try:
                items.append(_item(row_line, record, fieldnames))
            except ValueError as exc:
                errors.append(str(exc))
    if errors:
        shown = "; ".join(errors[:10]) + (f"; and {len(errors) - 10} more" if len(errors) > 10 else "")
        raise ValueError(f"{path.name}: {shown}")
    return items


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def proposal_columns(items: Sequence[InventoryItem], *, top: int) -> list[str]:
    """Return the header of the proposals file: the inventory's columns, then the proposal columns."""
    columns = [_renamed(c) for c in _original_columns(items)]
    columns.extend(OUTPUT_COLUMNS)
    for rank in range(2, top + 1):
        columns.extend((f"alternative_{rank}_code", f"alternative_{rank}_name", f"alternative_{rank}_score"))
    return columns


def _original_columns(items: Sequence[InventoryItem]) -> list[str]:
    """The inventory's columns in file order (items built by hand: the known fields they set first)."""
    original: list[str] = []
    for item in items:
        columns = item.columns or (*KNOWN_COLUMNS, *item.extra)
        original.extend(c for c in columns if c not in original and _value(item, c) is not None)
    return original


_GENERATED = frozenset(OUTPUT_COLUMNS)


def _renamed(column: str) -> str:
    """An inventory column that clashes with a generated one keeps its data under another name."""
    clash = column in _GENERATED or re.fullmatch(r"alternative_\d+_(code|name|score)", column) is not None
    return f"inventory_{column}" if clash else column


def _value(item: InventoryItem, column: str) -> str | None:
    lowered = column.strip().lower()
    if lowered in KNOWN_COLUMNS and column not in item.extra:
        value: str | None = getattr(item, lowered)
        if item.columns or value is not None:
            return value or ""
        return None
    return item.extra.get(column)


def accepted(
    candidates: Sequence[Candidate], *, accept_score: float = ACCEPT_SCORE, margin: float = AMBIGUOUS_MARGIN
) -> Candidate | None:
    """Return the candidate to write as the row's product_code, or ``None`` when a person must choose."""
    if not candidates or candidates[0].score < accept_score:
        return None
    if len(candidates) > 1 and candidates[0].score - candidates[1].score < margin:
        return None
    return candidates[0]


def write_proposals(
    path: Path,
    items: Sequence[InventoryItem],
    proposals: Sequence[list[Candidate]],
    *,
    top: int,
    accept_score: float = ACCEPT_SCORE,
) -> None:
    """Write the proposals CSV a person reviews before ``provider-products onboard``."""
    if len(items) != len(proposals):
        raise ValueError(f"{len(items)} items but {len(proposals)} proposal lists")
    if top < 1:
        raise ValueError("top must be at least 1")
    originals = _original_columns(items)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(proposal_columns(items, top=top))
    for item, candidates in zip(items, proposals, strict=True):
        row = [_value(item, c) or "" for c in originals]
        best = candidates[0] if candidates else None
        if best is None:
            row.extend(("", "", "", ""))
        else:
            # The best candidate stays visible even when it is not confident enough to fill product_code.
            chosen = accepted(candidates, accept_score=accept_score)
            code = chosen.product_code if chosen is not None else ""
            row.extend((code, f"{best.score:.1f}", best.product_code, best.name))
        for rank in range(2, top + 1):
            if rank <= len(candidates):
                other = candidates[rank - 1]
                row.extend((other.product_code, other.name, f"{other.score:.1f}"))
            else:
                row.extend(("", "", ""))
        writer.writerow(row)
    path.write_text(buffer.getvalue(), "utf-8")
