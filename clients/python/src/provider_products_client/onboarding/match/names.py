"""Name normalisation: fold a product name and split it into words, strengths and unit-less numbers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from provider_products_client.onboarding.match.vocabulary import (
    ABBREVIATIONS,
    FORM_MAIN,
    FORM_QUALIFIERS,
    PACK_WORDS,
    PER_WORDS,
    PHRASE_SYNONYMS,
    STOP_WORDS,
    UNITS,
)

FORM_WORDS = FORM_MAIN | FORM_QUALIFIERS | frozenset({"dispersable", "orodispersable", "bucodispersable"})

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+|%|/|[()\[\]]")
# "1.200.000" and "1,000" group thousands, and so does "50 000" before international units (elsewhere
# "x 100 500 mg" is two numbers); a leading 0 ("0.125") is a decimal.
_THOUSANDS = re.compile(
    r"(?<![\d.,])([1-9]\d{0,2})((?:[.,]\d{3})+|(?: \d{3})+(?= ?(?:ui|u|iu)\b))(?!\d|[.,]\d)"
)
_DECIMAL_COMMA = re.compile(r"(\d),(\d)")
# "O,4 MG": a letter O typed for a zero before a decimal comma or point.
_LETTER_ZERO = re.compile(r"(?<![\w])o(?=[.,]\d)")
# Abbreviations that are units right after a number ("2.5 cm" is a length, "CM 10 MG" a tablet).
_UNIT_AFTER_NUMBER = frozenset({"cm"})
_PACK_LINKS = frozenset({"x", "con", "de", "por"})
# Units that make "x 25 mg" a strength rather than a pack size ("x 30", "x 120 ml", "x 30 g" are packs).
_STRENGTH_UNITS = frozenset({"mg", "mgs", "mcg", "ug", "μg", "microgramos", "ui", "iu", "mui", "%", "meq"})
# "cada ml contiene", "cada 5 ml contienen", "cada 100 gramos contiene": what the amounts are per.
_PER_AMOUNT_UNITS = frozenset({"ml", "cc", "g", "gr", "gramo", "gramos"})


@dataclass(frozen=True)
class Quantity:
    """A strength: its dimension ("mass", "mass/ml", "ui"...), value in base units and number as written."""

    dimension: str
    value: float
    number: float
    # the same strength written another way: "500 mg/10 mL" is also 50 mg/mL, "1 %" is 10 mg/mL
    alternatives: tuple[tuple[str, float], ...] = ()
    # the volume (mL) the amount is dissolved in, when the name says: 10 for "500 mg/10 mL"
    volume: float | None = None

    @property
    def concentration(self) -> tuple[str, float] | None:
        """Return the amount per mL when the name gives a volume ("500 mg/10 mL": mass/ml 50)."""
        if self.dimension.endswith("/ml"):
            return self.dimension, round(self.value, 6)
        if self.volume:
            return self.dimension + "/ml", round(self.value / self.volume, 6)
        return None

    @property
    def key(self) -> tuple[str, float]:
        """Return what two equal strengths share: ``1 g`` and ``1000 mg`` give the same key."""
        return self.dimension, round(self.value, 6)

    @property
    def keys(self) -> frozenset[tuple[str, float]]:
        """Return the key and the keys of the other ways of writing this strength."""
        return frozenset((self.key, *((d, round(v, 6)) for d, v in self.alternatives)))

    def text(self) -> str:
        """Show the strength in base units ("500 mg", "50 mg/mL")."""
        unit = {"mass": "mg", "volume": "mL", "ui": "UI", "percent": "%"}.get(
            self.dimension.split("/")[0], ""
        )
        per = "/mL" if self.dimension.endswith("/ml") else ""
        return f"{self.value:g} {unit}{per}".strip()


@dataclass(frozen=True)
class ParsedName:
    """A normalised name: its words outside and inside parentheses, its strengths and unit-less numbers."""

    words: tuple[str, ...]
    aside: tuple[str, ...]
    quantities: tuple[Quantity, ...]
    numbers: tuple[float, ...]
    # the words of each bracketed list: "[CLORO. SODIO. POTASIO Y CALCIO]" lists what a panel holds
    groups: tuple[tuple[str, ...], ...] = ()


def fold(text: str) -> str:
    """Decompose, drop combining marks and case-fold: ``"Acetaminofén"`` becomes ``"acetaminofen"``."""
    # The same folding as the server's catalogue search (catalogue/text.py), kept here so that the
    # integrator tools import nothing from the server.
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


_ORDINAL = re.compile(r"\d+\s*[°º]")


def _clean(text: str) -> str:
    """Fold and rewrite numbers: thousands groups joined, decimal commas made points, ordinals dropped."""
    folded = _THOUSANDS.sub(
        lambda m: m.group(1) + re.sub(r"[., ]", "", m.group(2)), fold(_ORDINAL.sub(" ", text))
    )
    return _DECIMAL_COMMA.sub(r"\1.\2", _LETTER_ZERO.sub("0", folded))


def _tokens(text: str) -> list[str]:
    """Split normalised text into tokens, expanding abbreviations."""
    out: list[str] = []
    for token in _TOKEN.findall(_clean(text)):
        expansion = ABBREVIATIONS.get(token, _singular(token))
        if token in _UNIT_AFTER_NUMBER and out and is_number(out[-1]):
            expansion = None
        elif token.endswith("x") and token[:-1] in PACK_WORDS:  # "(CJX30": a box of 30
            expansion = token[:-1] + " x"
        if expansion is None:
            out.append(token)
        else:
            out.extend(expansion.split())
    return out


def _singular(token: str) -> str | None:
    """Expand a plural of a known form word ("masticables", "oticas") as its singular."""
    if len(token) < 5 or not token.endswith("s"):
        return None
    for singular in (token[:-1], token[:-2]):
        if singular in ABBREVIATIONS:
            return ABBREVIATIONS[singular]
        if singular in FORM_WORDS:
            return singular
    return None


def is_number(token: str) -> bool:
    """Say whether a token is a number."""
    return token[0].isdigit()


def parse_name(text: str) -> ParsedName:
    """Split a product name into words, strengths and unit-less numbers."""
    return _NameParser(_tokens(text)).parse()


@dataclass
class _NameParser:
    """One left-to-right pass over a name's tokens; each step consumes one token or a few together."""

    tokens: list[str]
    depth: int = 0  # inside how many parentheses
    words: list[str] = field(default_factory=list)
    aside: list[str] = field(default_factory=list)
    groups: list[list[str]] = field(default_factory=list)
    joined: list[bool] = field(default_factory=list)  # per group: its words are joined by "y", "o"
    quantities: list[Quantity] = field(default_factory=list)
    numbers: list[float] = field(default_factory=list)
    # strengths joined by "/" so far: "250 mg/62.5 mg/5 mL"
    chain: list[Quantity] = field(default_factory=list)
    # volumes that are not a concentration's: "FCO 120 ML" says how much is in the bottle
    volumes: list[Quantity] = field(default_factory=list)
    # what the amounts that follow are per: ("volume", 5.0) after "cada 5 ml", ("mass", 100000.0)
    # after "cada 100 g"
    per: tuple[str, float] | None = None
    # after "equivalente a", the next strength is the previous one written another way
    equivalent: bool = False
    # after "ENVASE CON ...", the words describe the pack ("FRASCO ÁMPULA CON 20 ML"), not the product
    packing: bool = False

    def parse(self) -> ParsedName:
        i = 0
        while i < len(self.tokens):
            i = self._step(i)
        quantities = self.quantities or self.volumes
        if any(q.dimension == "percent" for q in quantities):
            # "3 % ungüento 4.5 g", "1 % crema 15 g": with a percentage, grams are the tube's content
            quantities = [q for q in quantities if not (q.dimension == "mass" and q.value >= 1000)]
        # a list: four words or more, or three joined by "y"/"o" ("(ESOFAGO ESTOMAGO Y DUODENO)");
        # "(SERIE DE ABDOMEN AGUDO)" is another name, not a list
        groups = tuple(
            tuple(g)
            for g, j in zip(self.groups, self.joined, strict=True)
            if len(g) >= 4 or (j and len(g) >= 3)
        )
        return ParsedName(
            tuple(self.words), tuple(self.aside), tuple(quantities), tuple(self.numbers), groups
        )

    def _at(self, i: int) -> str | None:
        return self.tokens[i] if i < len(self.tokens) else None

    def _target(self) -> list[str]:
        return self.aside if self.depth or self.packing else self.words

    def _add_word(self, word: str) -> None:
        self._target().append(word)
        if self.depth and self.groups:
            self.groups[-1].append(word)

    def _step(self, i: int) -> int:
        """Consume the token at ``i`` (and those that go with it); return where the next step starts."""
        word = self.tokens[i]
        if word in ("(", "[", ")", "]"):
            self._bracket(word)
        elif word == "x" and i + 1 < len(self.tokens) and is_number(self.tokens[i + 1]):
            return self._times(i)
        elif word == "cada":
            return self._per_amount(i)
        elif word in PACK_WORDS:
            self.packing = self.packing or (word == "envase" and bool(self.words))
            return self._pack(i)
        elif is_number(word):
            return self._number(i)
        elif not self._marker(word) and word != "/" and word not in STOP_WORDS:
            self._add_word(word)
        return i + 1

    def _marker(self, word: str) -> bool:
        """Note the words that say how the rest reads ("equivalente a", a list's "y"); say if it was one."""
        if word == "equivalente":
            self.equivalent = bool(self.quantities)
            return True
        if word in ("y", "o", "e") and self.depth and self.joined:
            self.joined[-1] = True
            return True
        return False

    def _bracket(self, word: str) -> None:
        if word in ("(", "["):
            self.depth += 1
            self.groups.append([])
            self.joined.append(False)
        else:
            self.depth = max(0, self.depth - 1)

    def _times(self, i: int) -> int:
        """Read "x N": a pack ("x 30", "x 120 ml"), a strength ("x 25 mg") or a volume ("50 mg x 1 ml")."""
        unit = self._at(i + 2)
        if unit in _STRENGTH_UNITS:
            return i + 1
        if unit in UNITS and UNITS[unit][0] == "volume" and self._after_strength(i):
            last = self.quantities[-1]
            if last.dimension in ("mass", "ui") and last.volume is None:
                self._set_volume(last, float(self.tokens[i + 1]) * UNITS[unit][1])
            return i + 3
        # "x 30", "x30 tabs", "x 120 ml": packaging size, not part of the product's identity
        return i + 3 if unit in UNITS else i + 2

    def _after_strength(self, i: int) -> bool:
        return bool(self.quantities) and i > 0 and self.tokens[i - 1] in UNITS

    def _per_amount(self, i: int) -> int:
        """Read "cada ml", "cada 5 ml", "cada 100 gramos": the amounts that follow are per that much."""
        j = i + 1
        amount = 1.0
        token = self._at(j)
        if token is not None and is_number(token):
            amount = float(token)
            j += 1
        unit = self._at(j)
        if unit not in _PER_AMOUNT_UNITS or amount <= 0:
            return i + 1
        dimension, factor = UNITS[unit]
        self.per = (dimension, amount * factor)
        return j + 1

    def _set_volume(self, quantity: Quantity, volume: float) -> None:
        """Say that ``quantity`` is dissolved in ``volume`` mL (so it is also an amount per mL)."""
        if volume <= 0:
            return
        derived = (quantity.dimension + "/ml", quantity.value / volume)
        at = self.quantities.index(quantity)
        self.quantities[at] = Quantity(
            quantity.dimension,
            quantity.value,
            quantity.number,
            (*quantity.alternatives, derived),
            volume,
        )

    def _pack(self, i: int) -> int:
        """Skip a pack size after a packaging word ("caja x 100", "envase con 20 tabletas")."""
        j = i + 1
        while self._at(j) in _PACK_LINKS:
            j += 1
        token = self._at(j)
        if token is None or not is_number(token):
            return i + 1
        j += 1
        unit = self._at(j)
        if unit in _STRENGTH_UNITS or (unit in UNITS and self._at(j + 1) == "/"):
            return i + 1  # "TU 3%", "FCO 250 mg/5 ml": a strength after the packaging word
        if unit in UNITS:
            j += 1
        return j

    def _number(self, i: int) -> int:
        """Consume a number, or a run like "875 / 125 mg" whose every number takes the unit that ends it."""
        run = [self.tokens[i]]
        j = i + 1
        while j + 1 < len(self.tokens) and self.tokens[j] == "/" and is_number(self.tokens[j + 1]):
            run.append(self.tokens[j + 1])
            j += 2
        unit = self._at(j)
        if unit is not None and unit in UNITS:
            return self._strength(i, run, unit, j + 1)
        target = self._target()
        for value in run:
            self.numbers.append(float(value))
            target.append(_canonical_number(value))
        return j

    def _strength(self, start: int, run: list[str], unit: str, j: int) -> int:
        """Record the strengths of a run that ends in ``unit``; ``j`` is the token after the unit."""
        dimension, factor = UNITS[unit]
        if not (start > 0 and self.tokens[start - 1] == "/"):
            self.chain = []
        found = [Quantity(dimension, float(v) * factor, float(v)) for v in run]
        if unit == "u" and self._at(j) == "i":  # "u.i."
            j += 1
        found, j = self._per(found, j)
        if not found:
            return j
        if dimension == "percent":
            # w/v: 1 % is 10 mg/mL
            found = [Quantity(q.dimension, q.value, q.number, (("mass/ml", q.value * 10),)) for q in found]
        if dimension == "volume":
            if self.chain:
                self._derive_concentrations(found[-1].value)
            else:
                self.volumes.extend(found)
            return j
        if self.per is not None and not self.chain:
            found = [self._per_applied(q) for q in found]
        if self.equivalent:
            return self._equivalent(found, j)
        self.chain.extend(found)
        self.quantities.extend(found)
        return j

    def _equivalent(self, found: list[Quantity], j: int) -> int:
        """Record "INSULINA GLARGINA 3.64 MG EQUIVALENTE A 100 UI" as one strength written two ways."""
        self.equivalent = False
        last = self.quantities[-1]
        extra = tuple(k for q in found for k in q.keys)
        self.quantities[-1] = Quantity(
            last.dimension, last.value, last.number, (*last.alternatives, *extra), last.volume
        )
        return j

    def _per_applied(self, quantity: Quantity) -> Quantity:
        """Write an amount after "cada 5 ml" / "cada 100 g" as a concentration (and keep the amount)."""
        assert self.per is not None
        per_dimension, per_amount = self.per
        if quantity.dimension not in ("mass", "ui"):
            return quantity
        alternatives: tuple[tuple[str, float], ...] = ((quantity.dimension, quantity.value),)
        if per_dimension == "volume":
            value = quantity.value / per_amount
            if quantity.dimension == "mass":
                alternatives += (("percent", value / 10),)
            return Quantity(quantity.dimension + "/ml", value, quantity.number, alternatives)
        if quantity.dimension == "mass":  # per gram: w/w, 20 mg per g is 2 %
            percent = 100 * quantity.value / per_amount
            return Quantity("percent", percent, quantity.number, (*alternatives, ("mass/ml", percent * 10)))
        return quantity

    def _per(self, found: list[Quantity], j: int) -> tuple[list[Quantity], int]:
        """Apply a "/ unit" after the strength: "100 mg/mL" is a concentration, not a tablet's 100 mg."""
        per_word = self._at(j + 1)
        if self._at(j) != "/" or per_word is None:
            return found, j
        if per_word in PACK_WORDS:
            return [], j + 2  # "15 g/tubo": what the tube holds
        if per_word in UNITS:
            per, per_factor = UNITS[per_word]
            if per == "volume":
                found = [Quantity(q.dimension + "/ml", q.value / per_factor, q.number) for q in found]
            return found, j + 2
        if per_word in PER_WORDS:
            return found, j + 2  # "50 mcg/dosis": the dose is the unit anyway
        return found, j

    def _derive_concentrations(self, volume: float) -> None:
        """Give "250 mg/5 mL" its concentration, 50 mg/mL, as another way of writing it."""
        for q in self.chain:
            if q.dimension in ("mass", "ui") and q in self.quantities:
                self._set_volume(q, volume)


def _canonical_number(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else repr(value)


def rewrite_phrases(words: list[str]) -> list[str]:
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


# The views of an x-ray: "AP Y LATERAL" is two projections, "AP O LATERAL" one, "OBLICUAS" two.
_VIEWS = {"ap": 1, "pa": 1, "lateral": 1, "frontal": 1, "oblicua": 1, "oblicuas": 2, "axial": 1,
          "anteroposterior": 1, "posteroanterior": 1, "lordotica": 1, "rotacion": 1,
          "decubito": 1}  # fmt: skip
_DOTTED_VIEW = re.compile(r"\b([ap])\.\s?([ap])\b\.?")


def view_count(text: str) -> int | None:
    """Count the projections an x-ray's name lists ("AP y lateral": 2); ``None`` when it lists none.

    A list of alternatives ("P.A. O A.P. Y LATERAL, DECUBITO LATERAL, OBLICUAS O LATERAL": a tariff's
    generic chest x-ray) says no number, except two views joined by "o", which is one of them."""
    folded = _DOTTED_VIEW.sub(r"\1\2", fold(text))
    words = [t for t in _TOKEN.findall(folded) if t.isalpha()]
    count = sum(_VIEWS.get(w, 0) for w in words)
    either = sum(
        1
        for a, o, b in zip(words, words[1:], words[2:], strict=False)
        if o == "o" and a in _VIEWS and b in _VIEWS
    )
    if either and count > 2:
        return None
    return (count - either) or None


_PACK_VOLUME = re.compile(r"(\d+(?:[.,]\d+)?)\s*ml\b")
_INJECTABLE_PACK = re.compile(r"\b(frasco|vial|ampolla|ampolleta|bolsa|jeringa|bulbo|cartucho|pluma)")


def with_pack_total(quantity: Quantity, presentation: str) -> Quantity:
    """Add what one vial holds to a concentration: "10 mg/mL", "Frasco x 100 mL" is also 1000 mg.

    Only for a pack of vials, ampoules, bags or syringes with one volume: inventories write an
    injectable by its vial's total ("PARACETAMOL FA 1000 MG")."""
    folded = fold(presentation)
    volumes = {float(v.replace(",", ".")) for v in _PACK_VOLUME.findall(folded)}
    concentration = quantity.concentration
    if len(volumes) != 1 or concentration is None or not _INJECTABLE_PACK.search(folded):
        return quantity
    volume = volumes.pop()
    dimension, per_ml = concentration
    total = (dimension.removesuffix("/ml"), round(per_ml * volume, 6))
    return Quantity(
        quantity.dimension, quantity.value, quantity.number, (*quantity.alternatives, total), quantity.volume
    )
