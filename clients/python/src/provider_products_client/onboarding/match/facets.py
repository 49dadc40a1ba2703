"""What a name says about form, route, release and study qualifiers, and when two names contradict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Form families, most specific route first: an "ungüento oftálmico" is ophthalmic before it is topical.
_FAMILY_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("inyectable", frozenset({"inyectable", "parenteral", "intravenosa", "intramuscular", "subcutanea"})),
    ("oftalmica", frozenset({"oftalmica", "colirio"})),
    ("otica", frozenset({"otica"})),
    ("nasal", frozenset({"nasal"})),
    ("inhalada", frozenset({"inhalacion", "nebulizacion", "inhalador"})),
    ("vaginal", frozenset({"vaginal", "ovulo"})),
    ("rectal", frozenset({"supositorio", "rectal", "enema"})),
    ("parche", frozenset({"parche", "transdermico"})),
    ("crema", frozenset({"crema"})),
    ("unguento", frozenset({"unguento"})),
    ("gel", frozenset({"gel", "jalea"})),
    ("locion", frozenset({"locion", "champu"})),
    ("pasta", frozenset({"pasta"})),
    ("capsula", frozenset({"capsula"})),
    ("tableta", frozenset({"tableta"})),
    ("liquido oral", frozenset({"jarabe", "suspension", "elixir"})),
    # drops are oral, ophthalmic, otic or nasal: "gotas" alone says only "a liquid in drops"
    ("gotas", frozenset({"gotas"})),
    ("polvo oral", frozenset({"sobre", "granulado"})),
)
# Families only a medicine has (a study may be "nasal" or "vaginal", never a tablet).
MEDICINE_FAMILIES = frozenset(
    {"inyectable", "capsula", "tableta", "liquido oral", "polvo oral", "gotas", "crema", "unguento", "gel",
     "locion", "pasta", "parche"}
)  # fmt: skip
# Families a bare "oral" (VO) is compatible with.
_ORAL = frozenset({"capsula", "tableta", "liquido oral", "polvo oral", "gotas"})
_DROPS = frozenset({"liquido oral", "oftalmica", "otica", "nasal"})
# Routes whose products come as a liquid or as an ointment or gel: the base tells them apart.
_BASED_ROUTES = frozenset({"oftalmica", "otica", "nasal"})
_SEMISOLID = frozenset({"unguento", "gel", "crema", "pomada"})
_LIQUID = frozenset({"solucion", "suspension", "gotas", "colirio"})
_TOPICAL = frozenset({"crema", "unguento", "gel", "locion", "pasta"})
# Tablet and capsule kinds that make a different product ("dispersable" is not a plain tablet).
_KINDS = {
    "dispersable": "dispersable",
    "bucodispersable": "dispersable",
    "orodispersable": "dispersable",
    "sublingual": "sublingual",
    "masticable": "masticable",
    "efervescente": "efervescente",
}
_NOT_EXTENDED = frozenset({"zok", "inmediata", "retardada", "entérica", "enterica"})
_EXTENDED = frozenset(
    {"zok", "prolongada", "modificada", "sostenida", "extendida", "retard", "oros", "depot"}
)
# Study qualifiers: each group's values exclude each other when both names state one.
_QUALIFIERS: dict[str, dict[str, str]] = {
    "lado": {
        "unilateral": "unilateral",
        "bilateral": "bilateral",
        "comparativa": "bilateral",
        "ambas": "bilateral",
        "ambos": "bilateral",
    },
    "anticuerpo": {"igg": "IgG", "igm": "IgM", "iga": "IgA"},
    "medida": {"cuantitativa": "cuantitativa", "cualitativa": "cualitativa"},
    "muestra": {
        "orina": "orina",
        "urinaria": "orina",
        "serica": "sangre",
        "suero": "sangre",
        "sangre": "sangre",
    },
    "coombs": {"directa": "directa", "indirecta": "indirecta"},
    "via": {"transvaginal": "transvaginal", "transrectal": "transrectal", "transabdominal": "transabdominal"},
    "acceso": {
        "laparoscopica": "laparoscopica",
        "laparoscopia": "laparoscopica",
        "videolaparoscopia": "laparoscopica",
        "videolaparoscopica": "laparoscopica",
        "translaparoscopica": "laparoscopica",
        "abierta": "abierta",
        "convencional": "abierta",
    },
    # how a test measures: an immunoassay of the mass ("CK-MB masa", "inmunoquímica") or a chemical or
    # enzymatic activity ("por espectrofotometría", "guayaco")
    "metodo": {
        "masa": "inmunoensayo",
        "inmunologico": "inmunoensayo",
        "inmunologica": "inmunoensayo",
        "inmunoquimica": "inmunoensayo",
        "inmunoquimico": "inmunoensayo",
        "eia": "inmunoensayo",
        "elisa": "inmunoensayo",
        "quimioluminiscencia": "inmunoensayo",
        "espectrofotometria": "actividad",
        "espectofotometria": "actividad",
        "cinetico": "actividad",
        "enzimatico": "actividad",
        "colorimetrico": "actividad",
        "guayaco": "actividad",
    },
    # "proyección complementaria": an added view, billed apart from the study
    "adicional": {"complementaria": "adicional", "adicional": "adicional", "adicionales": "adicional"},
}
# What an entry that names no value of a group is: a test is quantitative and on blood, surgery is
# open. A row that states another value is another product ("Troponina T cualitativa").
_DEFAULTS = {
    "medida": "cuantitativa",
    "muestra": "sangre",
    "acceso": "abierta",
    "lado": "unilateral",
    "adicional": "ninguna",
}
# What a row that names no value of a group means: only an operation's approach goes without saying
# (a "Doppler de miembros inferiores" may be one leg or both).
_ROW_DEFAULTS = {"acceso": "abierta"}
_FEMININE = {"cuantitativo": "cuantitativa", "cualitativo": "cualitativa", "directo": "directa",
             "indirecto": "indirecta", "comparativas": "comparativa", "comparativo": "comparativa",
             "serico": "serica", "laparoscopico": "laparoscopica", "abierto": "abierta"}  # fmt: skip


@dataclass(frozen=True)
class Facets:
    """The form, release, kind and qualifiers a name states (``None``: it says nothing)."""

    families: frozenset[str]
    oral: bool
    kind: str | None
    extended: bool
    release_stated: bool
    contrast: str | None  # "sin", "con", "sin y con"
    base: str | None  # "liquid" or "semisolid", for eye, ear and nose products
    doppler: bool
    qualifiers: dict[str, str]
    # groups of which the name states two values: "directa e indirecta", "IgG e IgM" (a panel of both)
    both: frozenset[str] = frozenset()

    @property
    def states_form(self) -> bool:
        """Say whether the name states any form or route."""
        return bool(self.families) or self.oral


def facets(words: Iterable[str]) -> Facets:
    """Read the facets of a parsed name's words."""
    seq = _normalised(words)
    present = set(seq)
    families = _families(present)
    kind = next((_KINDS[w] for w in seq if w in _KINDS), None)
    # "liberación prolongada" is extended; "liberación retardada" (enteric) and "inmediata" are not
    extended = bool(present & _EXTENDED) or ("liberacion" in present and not present & _NOT_EXTENDED)
    return Facets(
        families=families,
        oral="oral" in present,
        kind=kind,
        extended=extended,
        release_stated=extended or "inmediata" in present,
        contrast=_contrast(seq),
        base=_base(present),
        doppler="doppler" in present,
        qualifiers=_qualifiers(seq),
        both=_both(seq),
    )


def _normalised(words: Iterable[str]) -> list[str]:
    seq = [_FEMININE.get(w, w) for w in words if w]
    # "creatininemia", "uricemia": in blood; "proteinuria", "calciuria": in urine
    return seq + ["sangre" for w in seq if w.endswith("emia")] + ["orina" for w in seq if w.endswith("uria")]


def _both(seq: list[str]) -> frozenset[str]:
    """The qualifier groups of which the name states two values or more."""
    return frozenset(
        g for g, values in _QUALIFIERS.items() if len({values[w] for w in seq if w in values}) > 1
    )


def _qualifiers(seq: list[str]) -> dict[str, str]:
    """The study qualifiers a name states, one value per group (none when it states two)."""
    qualifiers: dict[str, str] = {}
    for group, values in _QUALIFIERS.items():
        stated = {values[w] for w in seq if w in values}
        if len(stated) == 1:
            qualifiers[group] = stated.pop()
    return qualifiers


def _families(present: set[str]) -> frozenset[str]:
    families = frozenset(f for f, members in _FAMILY_WORDS if present & members)
    if "inyectable" in families:
        # "polvo para solución inyectable", "suspensión inyectable": the route decides
        return frozenset({"inyectable"})
    if "aerosol" in present and not families:
        families = frozenset({"inhalada"})  # a bare "aerosol" is one for inhalation
    if "nasal" in families:
        families -= {"inhalada"}  # "aerosol nasal", "spray nasal": the nose, not the lungs
    if families & {"oftalmica", "otica", "nasal", "inhalada", "vaginal", "rectal"}:
        return families - _TOPICAL - {"liquido oral", "capsula", "tableta", "gotas"}
    if "oral" in present and (families & {"gotas"} or (not families and "solucion" in present)):
        return families | {"liquido oral"}
    return families


def _base(present: set[str]) -> str | None:
    semisolid, liquid = bool(present & _SEMISOLID), bool(present & _LIQUID)
    if semisolid == liquid:
        return None
    return "semisolid" if semisolid else "liquid"


def _contrast(words: list[str]) -> str | None:
    if "contrastada" in words or "contrastado" in words:  # "simple y contrastada"
        return "sin y con" if "simple" in words or "sin" in words else "con"
    if "contraste" not in words:
        return "sin" if "simple" in words else None
    at = words.index("contraste")
    before = words[max(0, at - 4) : at]
    if ("sin" in before or "simple" in before) and "con" in before:
        return "sin y con"
    return "sin" if "sin" in before[-1:] else "con"


def qualifier_of(word: str) -> tuple[str, str] | None:
    """The qualifier group and value a word states ("comparativas": lado bilateral), if any."""
    word = _FEMININE.get(word, word)
    for group, values in _QUALIFIERS.items():
        if word in values:
            return group, values[word]
    return None


QUALIFIER_WORDS = frozenset(w for values in _QUALIFIERS.values() for w in values) | frozenset(_FEMININE)


def contradictions(row: Facets, entry: Facets) -> list[str]:
    """Say how a row's stated facets contradict an entry's (empty: they do not).

    A group the entry leaves unsaid has its default value (a test is quantitative, on blood); so has a
    group the row leaves unsaid: "Apendicectomía" is the open one, not the laparoscopic one."""
    found = _form_contradictions(row, entry)
    for group in row.qualifiers.keys() | entry.qualifiers.keys():
        value = row.qualifiers.get(group, _ROW_DEFAULTS.get(group))
        other = entry.qualifiers.get(group, _DEFAULTS.get(group))
        if value is not None and other is not None and other != value:
            found.append(f"qualifier contradicts: {value} vs {other}")
    found.extend(f"qualifier: the row names both {g} kinds" for g in sorted(row.both - entry.both))
    return found


def _form_contradictions(row: Facets, entry: Facets) -> list[str]:
    found = [c for c in (_family_contradiction(row, entry), _kind_contradiction(row, entry)) if c]
    if (row.contrast or "sin") != (entry.contrast or "sin"):
        found.append(f"qualifier contradicts: {row.contrast or 'simple'} vs {entry.contrast or 'simple'}")
    if row.doppler != entry.doppler:
        found.append(f"qualifier contradicts: {_doppler(row)} vs {_doppler(entry)}")
    return found


def _kind_contradiction(row: Facets, entry: Facets) -> str | None:
    if row.states_form and (row.kind or entry.kind) and row.kind != entry.kind:
        return f"form contradicts: {row.kind or 'plain'} vs {entry.kind or 'plain'}"
    if (row.states_form or row.release_stated) and row.extended != entry.extended:
        return f"release contradicts: {_release(row)} vs {_release(entry)}"
    return None


def _family_contradiction(row: Facets, entry: Facets) -> str | None:
    if row.families and entry.families and not _compatible(row.families, entry.families):
        return f"form contradicts: {_names(row.families)} vs {_names(entry.families)}"
    if row.families & entry.families & _BASED_ROUTES:
        return _base_contradiction(row, entry)
    if row.oral and not row.families and entry.families and not entry.families & _ORAL:
        return f"route contradicts: oral vs {_names(entry.families)}"
    if entry.oral and not entry.families and row.families and not row.families & _ORAL:
        return f"route contradicts: {_names(row.families)} vs oral"
    return None


def _base_contradiction(row: Facets, entry: Facets) -> str | None:
    """Eye, ear and nose: an ointment is not the solution ("UNG OFT" against "Solución oftálmica")."""
    if row.base and entry.base and row.base != entry.base:
        return f"form contradicts: {row.base} vs {entry.base}"
    return None


def _compatible(row: frozenset[str], entry: frozenset[str]) -> bool:
    if row & entry:
        return True
    return ("gotas" in row and bool(entry & _DROPS)) or ("gotas" in entry and bool(row & _DROPS))


def _names(families: frozenset[str]) -> str:
    return "/".join(sorted(families))


def _release(f: Facets) -> str:
    return "extended release" if f.extended else "immediate release"


def _doppler(f: Facets) -> str:
    return "doppler" if f.doppler else "no doppler"
