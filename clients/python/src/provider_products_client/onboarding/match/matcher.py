"""The word index over the catalogue and the ranking of its entries against inventory rows."""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from rapidfuzz import process
from rapidfuzz.distance import OSA

from provider_products_client.onboarding.match.catalogue import CatalogueEntry
from provider_products_client.onboarding.match.evidence import STRENGTH_MISSING, assess
from provider_products_client.onboarding.match.facets import QUALIFIER_WORDS, Facets, facets
from provider_products_client.onboarding.match.inventory import InventoryItem
from provider_products_client.onboarding.match.names import (
    ParsedName,
    Quantity,
    fold,
    is_number,
    parse_name,
    rewrite_phrases,
    view_count,
    with_pack_total,
)
from provider_products_client.onboarding.match.ranking import Candidate, passing_first, settle_ties
from provider_products_client.onboarding.match.scoring import (
    MINOR_WEIGHT,
    UNKNOWN_WEIGHT,
    Indexed,
    Query,
    form_weights,
    number_weight,
    score,
)
from provider_products_client.onboarding.match.vocabulary import (
    DESCRIPTIVE_WORDS,
    FORM_MAIN,
    FORM_QUALIFIERS,
    MINOR_WORDS,
    WORD_SYNONYMS,
)

# Candidates below this are not worth a reviewer's time.
MIN_CANDIDATE_SCORE = 35.0
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
# What is left of a look-alike's similarity when the row's word is itself a catalogue word.
_KNOWN_WORD_FUZZY = 0.6
# Weight of a row word given only in brackets or parentheses, against one of the name itself.
_DETAIL_WEIGHT = 0.5
_LISTED_WEIGHT = 0.25
_DESCRIPTIVE_WEIGHT = 0.2
_LETTER_WEIGHT = 0.5
# "creatinin-emia" is "creatinina", "calc-emia" is "calcio", "uric-emia" is "urico"
_STEM_ENDINGS = ("a", "o", "io", "ina", "")
# suffix, sample, and the catalogue words that say that sample ("Calcio sérico", "Calcio en orina")
_SAMPLES = (("emia", "sangre", ("serico", "serica")), ("uria", "orina", ("orina", "urinario", "urinaria")))
# Similarity of an inventory word to its catalogue synonym ("paracetamol" for "acetaminofen").
_SYNONYM_SIM = 0.95

# Candidates checked for a confident fill, and how close (in score) a second one that also passes
# must be for the row to be a tie.
_ASSESSED = 5
# How far below a forbidden best candidate one that nothing forbids may be and still come first.
# A synonym written in capitals and this short is an acronym ("GOT", "CPS", "BHC").
_ACRONYM_LENGTH = 5
_FORM_WORDS = FORM_MAIN | FORM_QUALIFIERS
# Words that do not identify a product (form, salt, study qualifiers are checked on their own).
_NOT_CORE_DRUG = (
    FORM_MAIN | FORM_QUALIFIERS | MINOR_WORDS | {"con", "sin", "contraste", "inmediata", "accion"}
)
# In a study's or procedure's name "nasal", "oral", "vaginal" say where, so they must be named.
# Qualifiers are checked on their own, and "sérica", "niveles de" only say it is measured in blood.
_NOT_CORE_STUDY = (
    MINOR_WORDS
    | QUALIFIER_WORDS
    | {"con", "sin", "contraste", "serica", "serico", "sericos", "sericas", "plasmatico", "niveles"}
)
_NOT_CORE = {
    "MEDICATION": _NOT_CORE_DRUG,
    "IMAGING": _NOT_CORE_STUDY | {"contrastada", "contrastado", "simple"},  # "simple": without contrast
}

# Per candidate entry: the posting lists a row word (or strength) selects it through, with the
# evidence each adds; and the total size of those lists.
_Group = tuple[int, list[tuple[frozenset[int], float]]]


def _index(entry: CatalogueEntry) -> Indexed:
    """Parse an entry's name, strengths and form the way rows are parsed."""
    parsed = parse_name(entry.name)
    ingredient = _ingredient_words(entry)
    form_words = parse_name(entry.pharmaceutical_form).words if entry.pharmaceutical_form else ()
    entry_facets = facets((*parsed.words, *form_words))
    unique = _entry_quantities(entry, parsed, "inyectable" in entry_facets.families)
    synonyms = _synonym_words(entry)
    not_core = _NOT_CORE.get(entry.product_type, _NOT_CORE_STUDY)
    core = tuple(w for w in parsed.words if w not in not_core and w[0].isalpha())
    return Indexed(
        entry=entry,
        words=parsed.words,
        all_words=frozenset((*parsed.words, *parsed.aside, *ingredient, *(w for s in synonyms for w in s))),
        quantities=unique,
        keys=frozenset(k for q in unique for k in q.keys),
        numbers=frozenset(parsed.numbers),
        forms=form_weights((*parsed.words, *form_words)),
        core=core,
        synonyms=synonyms,
        facets=entry_facets,
        name_words=frozenset((*parsed.words, *parsed.aside, *ingredient)),
        # a study's synonyms are its regional names ("Sangre oculta en heces inmunológica"); a medicine's
        # are mostly brands, and makers' names in rows must not look like other products
        identity_words=frozenset(
            (*parsed.words, *parsed.aside, *ingredient)
            if entry.product_type == "MEDICATION"
            else (*parsed.words, *parsed.aside, *(w for s in synonyms for w in s))
        ),
    )


def _entry_quantities(entry: CatalogueEntry, parsed: ParsedName, injectable: bool) -> tuple[Quantity, ...]:
    """The entry's strengths: its name's (what inventories copy), else its concentration field's."""
    quantities = parsed.quantities
    if not quantities and entry.concentration:
        quantities = parse_name(entry.concentration).quantities
    unique = tuple({q.key: q for q in quantities}.values())
    if injectable and entry.presentation:
        # "PARACETAMOL FA 1000 MG" for 10 mg/mL in "Frasco x 100 mL"; an oral liquid's bottle total is
        # never how a row writes it
        unique = tuple(with_pack_total(q, entry.presentation) for q in unique)
    return unique


def _synonym_words(entry: CatalogueEntry) -> tuple[tuple[str, ...], ...]:
    """The entry's synonyms as words. An acronym stays itself ("GOT" is AST, not "gotas"; "CPS" is
    coproparasitoscópico, not "capsula"); a synonym of form words only names nothing."""
    out: list[tuple[str, ...]] = []
    for synonym in entry.synonyms:
        folded = fold(synonym).strip()
        if folded.isalpha() and len(folded) <= _ACRONYM_LENGTH and synonym.strip().isupper():
            out.append((folded,))
            continue
        words = parse_name(synonym).words
        if any(w not in _FORM_WORDS for w in words):
            out.append(words)
    return tuple(out)


def _ingredient_words(entry: CatalogueEntry) -> tuple[str, ...]:
    if not entry.active_ingredient:
        return ()
    # "Cianocobalamina (vitamina B12)": the words in parentheses are names too
    parsed = parse_name(entry.active_ingredient)
    return (*parsed.words, *parsed.aside)


def _row_facets(words: list[str], details: set[str], samples: list[str]) -> Facets:
    """What the row's name says of form and qualifiers; its details only when the name says no form."""
    main = [w for w in words if w not in details]
    named = facets((*main, *samples))
    if named.states_form or any(w in FORM_MAIN for w in main):  # "SOLUCIÓN ... ENVASE CON FRASCO ÁMPULA"
        return named
    return facets((*words, *samples))


def _detail_weight(word: str, details: set[str], listed: frozenset[str]) -> float:
    """Words in brackets detail the product ("(AP Y LATERAL)"); a list of parts details it least."""
    if word in listed:
        return _LISTED_WEIGHT
    return _DETAIL_WEIGHT if word in details else 1.0


def _study_forms(word: str) -> tuple[str, ...]:
    """Other spellings of a study: "videocolonofibroscopia" is "colonoscopia", "vaginal" "transvaginal"."""
    # an endoscopy by video is the endoscopy; a video-EEG is not the EEG
    plain = word.removeprefix("video").replace("fibroscop", "scop") if "scop" in word else word
    return (plain, "trans" + word) if plain != word else ("trans" + word,)


def _acid(word: str) -> tuple[str, ...]:
    """The acid a salt's anion names: "valproato" is "acido valproico", "ascorbato" "acido ascorbico"."""
    if len(word) > 6 and word.endswith("ato"):
        return "acido", word[:-3] + "ico"
    return ()


def _sibling_key(indexed: Indexed) -> tuple[str, frozenset[str], frozenset[str]]:
    """What entries that differ only in strength share: type, core words and form family."""
    families = indexed.facets.families if indexed.facets else frozenset()
    return indexed.entry.product_type, frozenset(indexed.core), families


def _singulars(word: str) -> tuple[str, ...]:
    """The singulars a plural may stand for: "oidos" is "oido", "rodillas" "rodilla", "vasos" "vaso"."""
    if len(word) < 5 or not word.endswith("s"):
        return ()
    return (word[:-1], word[:-2]) if word.endswith("es") else (word[:-1],)


def _strength_postings(entries: Sequence[Indexed]) -> dict[tuple[str, float], frozenset[int]]:
    strengths: dict[tuple[str, float], list[int]] = {}
    for number, indexed in enumerate(entries):
        for key in indexed.keys:  # every way of writing each strength
            strengths.setdefault(key, []).append(number)
    return {key: frozenset(ids) for key, ids in strengths.items()}


class Matcher:
    """Rank catalogue entries against inventory rows."""

    def __init__(self, entries: Iterable[CatalogueEntry]) -> None:
        self._entries: list[Indexed] = []
        postings: dict[str, list[int]] = {}
        for entry in entries:
            indexed = _index(entry)
            number = len(self._entries)
            self._entries.append(indexed)
            for word in indexed.all_words:
                postings.setdefault(word, []).append(number)
        self._postings = {word: frozenset(ids) for word, ids in postings.items()}
        self._names = frozenset(w for e in self._entries for w in e.identity_words)
        self._siblings = Counter(_sibling_key(e) for e in self._entries)
        self._strength_postings = _strength_postings(self._entries)
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
        scored: list[tuple[float, Indexed]] = []
        for number in shortlist:
            indexed = self._entries[number]
            value = score(query, indexed, self._idf)
            if value >= MIN_CANDIDATE_SCORE:
                scored.append((round(value, 1), indexed))
        scored.sort(key=lambda c: (-c[0], c[1].entry.name, c[1].entry.product_code))
        return self._assessed(query, scored, top)

    def _assessed(self, query: Query, scored: list[tuple[float, Indexed]], top: int) -> list[Candidate]:
        """Say for the best candidates why they fit and what forbids filling them; mark ties."""
        out: list[Candidate] = []
        for rank, (value, indexed) in enumerate(scored[: max(top, _ASSESSED)]):
            reason, blocked = (
                assess(query, indexed, self._idf, self._names) if rank < _ASSESSED else ("", "not checked")
            )
            if blocked == STRENGTH_MISSING and self._only_strength(query, indexed):
                # "LASIX AMPOLLAS": the catalogue has one furosemide injectable, so the row is that one
                reason, blocked = f"{reason}, the only strength of this product in the catalogue", None
            out.append(Candidate(indexed.entry.product_code, indexed.entry.name, value, reason, blocked))
        return settle_ties(passing_first(out))[:top]

    def _only_strength(self, query: Query, indexed: Indexed) -> bool:
        """Whether the row states a form and the entry is the only one of its product and form family."""
        if query.facets is None or not query.facets.states_form or query.numbers:
            return False  # "COTRIMOXAZOL CM(80/400)" states another strength without units
        return self._siblings[_sibling_key(indexed)] == 1

    # --- query side -------------------------------------------------------------------------------

    def _query(self, item: InventoryItem) -> Query:
        parsed = parse_name(item.name)
        words = rewrite_phrases([*parsed.words, *parsed.aside])
        quantities = {q.key: q for q in parsed.quantities}
        numbers = set(parsed.numbers)
        views = view_count(item.name)
        if views is not None and not numbers:
            numbers.add(float(views))  # "RX TORAX AP Y LATERAL" is the "(2 proyecciones)" entry
        if item.strength:
            strength = parse_name(item.strength)
            quantities.update({q.key: q for q in strength.quantities})
            numbers |= set(strength.numbers)
        for extra in (item.active_ingredient, item.form):
            if extra:
                words.extend(w for w in parse_name(extra).words if w not in words)
        unique, samples = self._sample_words(list(dict.fromkeys(self._joined(words))))
        matches = [self._similar_words(w) for w in unique]
        # words in brackets detail the product ("IONOGRAMA [CLORO. SODIO. POTASIO]"): they count less
        main = set(rewrite_phrases(list(parsed.words)))  # "biometria hematica" is "hemograma"
        details = set(parsed.aside) - main
        listed = frozenset(w for g in parsed.groups for w in g) - main
        weights = [
            self._query_weight(w, m) * _detail_weight(w, details, listed)
            for w, m in zip(unique, matches, strict=True)
        ]
        return Query(
            unique,
            matches,
            weights,
            tuple(quantities.values()),
            frozenset(numbers),
            form_weights(unique),
            _row_facets(unique, details, samples),
            listed,
            frozenset(details),
        )

    def _joined(self, words: list[str]) -> list[str]:
        """Join two words the catalogue writes as one ("AMINO TRANSFERASA": "aminotransferasa")."""
        out: list[str] = []
        i = 0
        while i < len(words):
            pair = words[i] + words[i + 1] if i + 1 < len(words) else ""
            if words[i] == "l" and "levo" + pair[1:] in self._postings:
                pair = "levo" + pair[1:]  # "L-TIROXINA" is levotiroxina
            # "AMINO TRANSFERASA": the catalogue writes it joined at least as often as the second half
            # alone ("CREATIN QUINASA" stays two: more entries say "quinasa" than "creatinquinasa")
            if words[i] not in self._postings and self._joins(pair, words[i + 1] if pair else ""):
                out.append(pair)
                i += 2
            else:
                out.append(words[i])
                i += 1
        return out

    def _joins(self, pair: str, second: str) -> bool:
        joined = self._postings.get(pair)
        return joined is not None and len(joined) >= len(self._postings.get(second, ()))

    def _sample_words(self, words: list[str]) -> tuple[list[str], list[str]]:
        """Read "creatininemia" as "creatinina" in blood and "proteinuria" as "proteina" in urine.

        Return the words and the samples named ("sangre", "orina") for the facets."""
        out: list[str] = []
        samples: list[str] = []
        for word in words:
            for suffix, sample, said in _SAMPLES:
                stem = word.removesuffix(suffix)
                if stem == word or word in self._postings or len(stem) < 3:
                    continue
                named = next((stem + end for end in _STEM_ENDINGS if stem + end in self._postings), None)
                if named is not None:
                    out.extend((named, *(w for w in said if w in self._postings)))
                    samples.append(sample)
                    break
            else:
                out.append(word)
        return list(dict.fromkeys(out)), samples

    def _query_weight(self, word: str, matches: Mapping[str, float]) -> float:
        if is_number(word):
            return number_weight(word)
        if word in DESCRIPTIVE_WORDS:
            return _DESCRIPTIVE_WEIGHT  # "CADA ML CONTIENE", "LABORATORIOS", "METODO AUTOMATICO"
        if len(word) == 1:
            # "Hepatitis B" needs its letter, but a letter alone ("MODO M Y B") must not outweigh the study
            return max(self._idf[w] for w in matches) * _LETTER_WEIGHT if matches else UNKNOWN_WEIGHT
        if not matches:
            return UNKNOWN_WEIGHT
        weight = max(self._idf[w] for w in matches)
        return weight * MINOR_WEIGHT if word in MINOR_WORDS else weight

    def _similar_words(self, word: str) -> dict[str, float]:
        """Catalogue words that ``word`` may stand for, with a similarity from 0 to 1."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        found: dict[str, float] = {}
        if word in self._postings:
            found[word] = 1.0
        for other in (*WORD_SYNONYMS.get(word, ()), *_singulars(word), *_acid(word), *_study_forms(word)):
            if other in self._postings:
                found.setdefault(other, _SYNONYM_SIM)
        if not is_number(word):
            if len(word) >= 3 and word not in self._postings:
                self._add_prefix_matches(word, found)
            if len(word) >= 4:
                self._add_typo_matches(word, found)
        self._word_cache[word] = found
        return found

    def _add_prefix_matches(self, word: str, found: dict[str, float]) -> None:
        """Credit the catalogue words ``word`` abbreviates ("amoxi" for "amoxicilina")."""
        start = bisect.bisect_left(self._vocabulary, word)
        for other in self._vocabulary[start : start + _MAX_PREFIX_MATCHES]:
            if not other.startswith(word):
                break
            found[other] = _PREFIX_SIM

    def _add_typo_matches(self, word: str, found: dict[str, float]) -> None:
        """Credit the catalogue words one or two edits away from ``word``."""
        length = len(word)
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

    def _nearby_words(self, length: int, spread: int) -> list[str]:
        key = length * 10 + spread
        nearby = self._nearby.get(key)
        if nearby is None:
            nearby = [
                w for n in range(length - spread, length + spread + 1) for w in self._by_length.get(n, ())
            ]
            self._nearby[key] = nearby
        return nearby

    # --- shortlist --------------------------------------------------------------------------------

    def _shortlist(self, query: Query) -> list[int]:
        """Rank entries by the IDF of the words and strengths they share with the row; keep the best."""
        evidence = self._evidence(self._groups(query))
        if len(evidence) > _SHORTLIST:
            return heapq.nlargest(_SHORTLIST, evidence, key=evidence.__getitem__)
        return sorted(evidence, key=evidence.__getitem__, reverse=True)

    def _groups(self, query: Query) -> list[_Group]:
        """Per row word and strength, the posting lists it selects entries through, smallest first."""
        groups: list[_Group] = []
        for matches in query.matches:
            group = sorted(
                ((self._postings[w], sim * self._idf[w]) for w, sim in matches.items()), key=lambda g: g[1]
            )
            if group:
                groups.append((sum(len(ids) for ids, _ in group), group))
        for quantity in query.quantities:
            ids = frozenset().union(*(self._strength_postings.get(k, frozenset()) for k in quantity.keys))
            if ids:
                groups.append((len(ids), [(ids, _STRENGTH_EVIDENCE)]))
        groups.sort(key=lambda g: g[0])
        return groups

    def _evidence(self, groups: list[_Group]) -> dict[int, float]:
        # Rare words open the pool of entries to score; a common word ("tableta", "500 mg") only adds
        # evidence to entries already in it, through a set intersection, so a row costs in proportion
        # to the entries sharing its rarer words, not to the catalogue size.
        evidence: dict[int, float] = {}
        for size, group in groups:
            open_pool = not evidence or size <= self._common
            per_entry: dict[int, float] = {}
            for ids, gain in group:  # ascending gains: the best similarity of a row word wins
                per_entry.update(dict.fromkeys(ids if open_pool else ids & evidence.keys(), gain))
            for number, gain in per_entry.items():
                evidence[number] = evidence.get(number, 0.0) + gain
        return evidence
