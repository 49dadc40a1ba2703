"""Whether a candidate may be filled without a person: what the row and the entry agree on, and what not.

A confident code needs every core word of the entry (ingredient or study, not form or salt) named by
the row (directly, by a typo or abbreviation, or through one of the entry's synonyms), the entry's
strength stated and equal, no stated form, route, release or qualifier that contradicts the entry, and
no significant word of the row that the entry does not explain.
"""

from __future__ import annotations

from collections.abc import Mapping

from provider_products_client.onboarding.match.facets import QUALIFIER_WORDS, contradictions
from provider_products_client.onboarding.match.names import is_number
from provider_products_client.onboarding.match.scoring import (
    PER_ML_UNSTATED,
    SAME_STRENGTH,
    Indexed,
    Query,
    covered_words,
    credit,
    medicine_row,
    named_by_main_words,
    pair_credit,
    synonym_match,
)
from provider_products_client.onboarding.match.vocabulary import (
    DESCRIPTIVE_WORDS,
    FORM_MAIN,
    FORM_QUALIFIERS,
    MINOR_WORDS,
)

STRENGTH_MISSING = "strength missing"
_STUDIES = frozenset({"LAB", "IMAGING"})
# Shorter unknown words of a study's row are initials and codes ("(SOMF)", "CUPS 903895" aside).
_UNKNOWN_LENGTH = 5
# A study named in one or two words ("Glucosa sérica", "Ecografía transvaginal") is the generic one
# that a row's extra word may specialise ("GLUCEMIA, PRUEBA DE SOBRECARGA").
_GENERIC_CORE = 2
# A core word counts as named at this similarity (one typo in a long word, an abbreviation).
_NAMED = 0.8
# A row word the catalogue knows this well (IDF) and the entry does not explain is a different product.
_SIGNIFICANT_IDF = 3.5
_IGNORED = (
    FORM_MAIN
    | FORM_QUALIFIERS
    | MINOR_WORDS
    | DESCRIPTIVE_WORDS
    | QUALIFIER_WORDS
    | {"con", "sin", "simple", "contraste"}
)
# The metal of a salt: "VALPROATO DE MAGNESIO", "FOSFATO DE SODIO"
_CATIONS = frozenset({"sodio", "potasio", "magnesio", "calcio", "zinc", "litio", "aluminio", "hierro"})
# A row word stands for another product's name only through the word itself or a synonym, not a
# look-alike: "medrock" (a maker) is not "medroxiprogesterona".
_SAME_WORD = 0.9


def assess(
    query: Query, indexed: Indexed, idf: Mapping[str, float], names: frozenset[str]
) -> tuple[str, str | None]:
    """Return why the entry fits the row and, when it may not be filled, what is missing or contradicts.

    ``names`` are the words of the catalogue's product names and ingredients (not synonyms): a row
    word that is one of them and that the entry does not explain names something else."""
    problems: list[str] = []
    if query.facets is not None and indexed.facets is not None:
        problems.extend(contradictions(query.facets, indexed.facets))
    covered = covered_words(query, indexed)
    missing = [w for w in indexed.core if covered.get(w, 0.0) < _NAMED]
    if missing:
        problems.append("name words missing: " + ", ".join(missing))
    elif indexed.core and query.details and not named_by_main_words(query, indexed):
        problems.append("named only in brackets: " + ", ".join(indexed.core))
    strength, strength_problem = _strength(query, indexed)
    if strength_problem:
        problems.append(strength_problem)
    extra = _unexplained(query, indexed, idf, names)
    if extra:
        problems.append("row words not in the entry: " + ", ".join(extra))
    problems.extend(_study_problems(query, indexed))
    unstated = _unstated_kind(query, indexed)
    if unstated:
        problems.append(unstated)
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
        if query.numbers and query.numbers <= _numbers(indexed):
            return f"strength {shown}", None
        return "", STRENGTH_MISSING
    total = _total(indexed)
    if total is not None and len(query.quantities) == 1 and total in query.quantities[0].keys:
        return f"strength {shown} (total)", None
    if not _same_strengths(query, indexed):
        return "", f"strength differs: entry {shown}"
    if _amount_for_concentration(query, indexed):
        # "PREDNISOLONA 5 MG" is a tablet's 5 mg more likely than the solution's 5 mg/5 mL
        return "", f"strength is a concentration in the entry ({shown}) and the row states no form"
    return f"strength {shown}", None


def _numbers(indexed: Indexed) -> set[float]:
    """The numbers a row may give for the entry's strengths without units ("FA4,5" for 4 g + 500 mg)."""
    numbers = {n for q in indexed.quantities for n in (q.number, q.value)}
    total = _total(indexed)
    if total is not None:
        numbers |= {total[1], total[1] / 1000}
    return numbers


def _same_strengths(query: Query, indexed: Indexed) -> bool:
    """Every strength of the entry is the row's, and every strength of the row is one of the entry's.

    A row strength that is the entry's number with or without "/mL" does not contradict
    ("KETAMINA 500 MG/10 ML (50 MG/"); for ampoules it also names the entry's strength."""
    lowest = PER_ML_UNSTATED if _both_injectable(query, indexed) else SAME_STRENGTH
    covered = all(any(pair_credit(q, e) >= lowest for q in query.quantities) for e in indexed.quantities)
    return covered and min(credit(q, indexed) for q in query.quantities) > 0.0


def _amount_for_concentration(query: Query, indexed: Indexed) -> bool:
    if query.facets is None or query.facets.states_form:
        return False
    row_amounts = all(q.concentration is None for q in query.quantities)
    return row_amounts and any(q.concentration is not None for q in indexed.quantities)


def _total(indexed: Indexed) -> tuple[str, float] | None:
    """A combination's total amount ("Ampicilina + Sulbactam 1 g/500 mg" is 1.5 g in all)."""
    quantities = indexed.quantities
    if len(quantities) < 2 or len({q.dimension for q in quantities}) != 1:
        return None
    return quantities[0].dimension, round(sum(q.value for q in quantities), 6)


def _both_injectable(query: Query, indexed: Indexed) -> bool:
    """An ampoule's "40 mg" is its "40 mg/mL" when one name gives no volume (ampoules are mostly 1 mL)."""
    row, entry = query.facets, indexed.facets
    return row is not None and entry is not None and "inyectable" in row.families & entry.families


def _unexplained(
    query: Query, indexed: Indexed, idf: Mapping[str, float], names: frozenset[str]
) -> list[str]:
    """Row words the catalogue knows well that this entry does not explain ("apo a1" for "apo b")."""
    out: list[str] = []
    previous = ""
    for word, matches in zip(query.words, query.matches, strict=True):
        salt = word in _CATIONS and previous.endswith(("ato", "uro", "ito"))
        # a medicine's row ends in makers' initials ("S.A.C", "AG", "AC FARMA"); a study's "B" or "C"
        # counts, but not its initials in brackets ("CALCEMIA (Ca)", "(C/U)")
        initials = len(word) <= 2 and (indexed.entry.product_type == "MEDICATION" or word in query.details)
        negated = previous == "sin"  # "EXTRACCION SIN INCISION": what is not done
        salt = salt or initials or negated
        previous = word
        if salt or not _significant(word, matches, query, idf, names):
            continue
        if any(matches.get(other, 0.0) >= _NAMED for other in indexed.all_words):
            continue
        out.append(word)
    out.extend(_unexplained_numbers(query, indexed))
    return out


def _significant(
    word: str, matches: Mapping[str, float], query: Query, idf: Mapping[str, float], names: frozenset[str]
) -> bool:
    """Whether a row word names a product on its own: a rare word of the catalogue's product names."""
    if word in _IGNORED or word in query.listed or is_number(word):
        return False
    known = [w for w, sim in matches.items() if sim >= _SAME_WORD and w in names and w not in _IGNORED]
    return bool(known) and max(idf.get(w, 0.0) for w in known) >= _SIGNIFICANT_IDF


def _unstated_kind(query: Query, indexed: Indexed) -> str | None:
    """An effervescent, chewable or extended-release entry is not assumed for a row that names no form."""
    row, entry = query.facets, indexed.facets
    if row is None or entry is None or row.states_form or row.release_stated:
        return None
    if entry.kind:
        return f"the entry is {entry.kind}; the row names no form"
    return "the entry is extended release; the row names no form" if entry.extended else None


def _study_problems(query: Query, indexed: Indexed) -> list[str]:
    """A lab test or imaging study is not filled for a medicine's row, nor past a word nobody knows."""
    if indexed.entry.product_type not in _STUDIES:
        return []
    problems: list[str] = []
    if medicine_row(query, indexed):
        # "VITAMINA B12 1MG/ML AMPOLLAS" is the medicine, not the "Vitamina B12" test
        problems.append("the row states a medicine's form or strength")
    unknown = [w for w, m in zip(query.words, query.matches, strict=True) if _unknown(w, m, query)]
    if unknown and len(indexed.core) <= _GENERIC_CORE:
        # "GLUCEMIA, PRUEBA DE SOBRECARGA", "ECOGRAFÍA TOCOGINECOLÓGICA": a word that may make another study
        problems.append("row words unknown to the catalogue: " + ", ".join(unknown))
    return problems


def _unknown(word: str, matches: Mapping[str, float], query: Query) -> bool:
    """A word of the row's name (not its brackets) that no catalogue word is or looks like."""
    if any(sim >= _NAMED for sim in matches.values()) or is_number(word) or len(word) < _UNKNOWN_LENGTH:
        return False
    if word in query.details:
        return False
    return word.isalpha() and word not in _IGNORED


def _unexplained_numbers(query: Query, indexed: Indexed) -> list[str]:
    """Short numbers of a study's name that the entry lacks ("APO A1", "nivel 3", "5 proyecciones")."""
    kind = indexed.entry.product_type
    if kind == "MEDICATION" or (kind != "LAB" and not indexed.numbers):
        return []
    return [f"{n:g}" for n in sorted(query.numbers) if n < 100 and n not in indexed.numbers]
