"""How pharmacy and clinic inventories write catalogue names: the variations ``match_accuracy.py`` applies.

Every variation takes the catalogue name and a seeded ``random.Random``; the same seed gives the same
names (the order of the calls on the generator is part of the sample's definition).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable

# Catalogue wording -> ways inventories abbreviate it (longest phrases first when applied).
FORM_ABBREVIATIONS: dict[str, list[str]] = {
    "Solución inyectable": ["sol iny", "iny", "amp", "inj", "sol. iny."],
    "Polvo para solución inyectable": ["pvo iny", "polvo p/sol iny", "vial"],
    "Polvo para suspensión oral": ["pvo susp", "polvo p/susp"],
    "Suspensión oral": ["susp", "susp oral", "susp."],
    "Suspensión inyectable": ["susp iny"],
    "Solución oftálmica": ["sol oft", "gts oft"],
    "Suspensión oftálmica": ["susp oft"],
    "Solución oral": ["sol oral", "sol"],
    "Gotas orales": ["gts", "gotas"],
    "Tableta de liberación prolongada": ["tab LP", "tab lib prol", "comp LP"],
    "Tableta recubierta": ["tab rec", "tabs rec", "comp rec"],
    "Tableta masticable": ["tab mast"],
    "Cápsula blanda": ["cap blanda", "caps bl"],
    "Tableta": ["tab", "tabs", "tb", "comp", "TAB"],
    "Cápsula": ["cap", "caps", "CAPS"],
    "Jarabe": ["jbe", "jar"],
    "Crema": ["crem", "cr"],
    "Ungüento": ["ung", "ungto"],
    "Supositorio": ["sup", "supos"],
    "Aerosol para inhalación": ["aer inh", "inhalador"],
    "Radiografía": ["Rx", "RX"],
    "Ecografía": ["Eco", "ECO"],
    "Tomografía computarizada": ["TAC", "TC"],
    "Resonancia magnética": ["RMN", "RM"],
    "Consulta": ["Cons."],
    "Ácido": ["Ac.", "ac"],
    "Clorhidrato de": ["", "Clorh."],
    "bilateral": ["bilat"],
    "unilateral": ["unilat"],
    "contraste": ["cte", "contr."],
}
BRANDS = [
    "GENFAR",
    "MK",
    "La Santé",
    "Tecnoquímicas",
    "Bayer",
    "Pfizer",
    "(Lab. Chile)",
    "Laproff",
    "Sanofi",
    "Bioquifar",
    "Memphis",
    "Humax",
    "genérico",
]
PACKAGING = ["x 30", "X 100", "caja x 10", "x10", "blister x 10", "fco x 120 ml", "x 1", "und"]
SERVICE_NOISE = ["particular", "ambulatorio", "(paquete)", "SOAT", "cod. 1234", "adulto"]
KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"

KINDS = (
    "exact",
    "no_accents",
    "uppercase",
    "abbreviation",
    "word_order",
    "typo",
    "units",
    "noise",
    "combined",
    "truncated",
    "missing_words",
)
MED_ONLY = {"units"}


def strip_accents(text: str) -> str:
    """Drop combining marks but keep the case."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def abbreviate(name: str, rng: random.Random) -> str:
    """Abbreviate form and study words the way inventories do; else shorten one long word with a dot."""
    out = name
    changed = False
    for phrase in sorted(FORM_ABBREVIATIONS, key=len, reverse=True):
        pattern = re.compile(rf"\b{re.escape(phrase)}\b", re.IGNORECASE)
        if pattern.search(out):
            out = pattern.sub(rng.choice(FORM_ABBREVIATIONS[phrase]), out, count=1)
            changed = True
    if not changed:
        words = out.split()
        long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha() and i > 0]
        if not long and len(words[0]) >= 8:
            long = [0]
        if long:
            i = rng.choice(long)
            words[i] = words[i][: rng.randint(4, 5)] + "."
            out = " ".join(words)
    return re.sub(r"\s+", " ", out).strip()


# A strength as catalogue names write it: "500 mg", "250 mg/5 mL", "1 200 000 UI", "0.5 %".
STRENGTH = re.compile(
    r"\d[\d.]*(?: \d{3})*(?: ?(?:mg|g|mcg|mL|UI|%|mEq|mOsm))?(?:/(?:\d[\d.]* ?)?(?:mg|g|mcg|mL|UI|dosis|L))*"
    r"(?= |$)"
)


def reorder(name: str, rng: random.Random) -> str:
    """Move words around (a strength stays one piece): the form first, the ingredient last, a shuffle."""
    pieces: list[str] = []
    position = 0
    for match in STRENGTH.finditer(name):
        pieces.extend(name[position : match.start()].split())
        pieces.append(match.group(0))
        position = match.end()
    pieces.extend(name[position:].split())
    if len(pieces) < 2:
        return name
    for _ in range(10):
        shuffled = pieces[:]
        if rng.random() < 0.5:
            cut = rng.randint(1, len(pieces) - 1)
            shuffled = pieces[cut:] + pieces[:cut]
        else:
            rng.shuffle(shuffled)
        text = " ".join(shuffled)
        if text != name:
            return text
    return name


def truncate(name: str, rng: random.Random) -> str:
    """Cut the name at 20 to 30 characters, as point-of-sale systems with short fields do."""
    limit = rng.randint(20, 30)
    return name if len(name) <= limit else name[:limit].rstrip()


SALTS = re.compile(
    r"\b(?:Clorhidrato de|Sulfato de|sódic[oa]|potásico|maleato|tartrato|succinato|fumarato|citrato|besilato)"
    r"\b ?",
    re.IGNORECASE,
)


def drop_words(name: str, rng: random.Random, medication: bool) -> str:
    """Leave out what inventories often omit: the salt, the form's qualifier or the whole form."""
    if medication:
        without_salt = SALTS.sub("", name).strip()
        if without_salt != name and rng.random() < 0.5:
            return without_salt
        match = STRENGTH.search(name)
        if match and match.end() < len(name):
            form = name[match.end() :].split()
            keep = form[:1] if len(form) > 1 and rng.random() < 0.5 else []
            return " ".join([name[: match.end()].strip(), *keep])
        return without_salt
    words = name.split()
    droppable = [i for i, w in enumerate(words) if i > 0 and w.lower() not in {"de", "del", "la", "y"}]
    if len(droppable) < 2:
        return name
    del words[rng.choice(droppable)]
    return " ".join(words)


def typo(name: str, rng: random.Random, edits: int | None = None) -> str:
    """Make one or two character edits (swap, drop, double, wrong key) in words of 4+ letters."""
    count = edits if edits is not None else (1 if rng.random() < 0.6 else 2)
    chars = list(name)
    for _ in range(count):
        spots = [m.start() + 1 for m in re.finditer(r"[^\W\d_]{4,}", "".join(chars))]
        words = list(re.finditer(r"[^\W\d_]{4,}", "".join(chars)))
        if not spots:
            break
        word = rng.choice(words)
        pos = rng.randrange(word.start() + 1, word.end())  # first letters are rarely mistyped
        op = rng.choice(("substitute", "delete", "insert", "transpose"))
        if op == "substitute":
            chars[pos] = rng.choice(KEYBOARD)
        elif op == "delete":
            del chars[pos]
        elif op == "insert":
            chars.insert(pos, rng.choice(KEYBOARD))
        elif pos + 1 < word.end():
            chars[pos], chars[pos + 1] = chars[pos + 1], chars[pos]
        else:
            chars[pos - 1], chars[pos] = chars[pos], chars[pos - 1]
    return "".join(chars)


def units(name: str, rng: random.Random) -> str:
    """Rewrite strengths: no space before units, decimal comma, other unit names, g <-> mg."""
    out = name

    def grams(match: re.Match[str]) -> str:
        value = float(match.group(1))
        return f"{value * 1000:g}{rng.choice(['mg', ' mg', 'MG'])}"

    if re.search(r"\b\d+(?:\.\d+)? g\b", out) and rng.random() < 0.5:
        out = re.sub(r"\b(\d+(?:\.\d+)?) g\b", grams, out, count=1)
    out = re.sub(r"(\d)\.(\d)", r"\1,\2", out)  # decimal comma
    while re.search(r"\d \d{3}\b", out):  # "2 400 000" -> "2.400.000"
        out = re.sub(r"(\d) (\d{3})\b", r"\1.\2", out)
    out = re.sub(
        r"(\d) (mg|g|mcg|mL|UI|%)", lambda m: m.group(1) + rng.choice(["", "", " "]) + m.group(2), out
    )
    out = out.replace("mcg", rng.choice(["mcg", "µg", "ug"]))
    out = out.replace("mL", rng.choice(["ml", "ML", "cc"]))
    return out.replace("UI", rng.choice(["UI", "U.I.", "U"]))


def noise(name: str, rng: random.Random, medication: bool) -> str:
    """Add a brand or laboratory, a packaging count or a billing word."""
    if medication:
        extra = [rng.choice(BRANDS)] if rng.random() < 0.7 else []
        if not extra or rng.random() < 0.6:
            extra.append(rng.choice(PACKAGING))
        rng.shuffle(extra)
        return f"{name} {' '.join(extra)}"
    word = rng.choice(SERVICE_NOISE)
    return f"{word} {name}" if rng.random() < 0.3 else f"{name} {word}"


def _combined(name: str, rng: random.Random, medication: bool) -> str:
    """Stack two to four kinds of variation, then upper-case or strip accents most of the time."""
    steps: list[Callable[[str], str]] = [
        lambda s: abbreviate(s, rng),
        lambda s: noise(s, rng, medication),
        lambda s: typo(s, rng, edits=1),
        lambda s: reorder(s, rng),
    ]
    if medication:
        steps.append(lambda s: units(s, rng))
    chosen = rng.sample(steps, rng.randint(2, min(4, len(steps))))
    out = name
    for step in chosen:
        out = step(out)
    case = rng.random()
    return out.upper() if case < 0.5 else strip_accents(out) if case < 0.8 else out


VARIATIONS: dict[str, Callable[[str, random.Random, bool], str]] = {
    "exact": lambda name, _rng, _med: name,
    "no_accents": lambda name, _rng, _med: strip_accents(name),
    "uppercase": lambda name, _rng, _med: name.upper(),
    "abbreviation": lambda name, rng, _med: abbreviate(name, rng),
    "word_order": lambda name, rng, _med: reorder(name, rng),
    "typo": lambda name, rng, _med: typo(name, rng),
    "units": lambda name, rng, _med: units(name, rng),
    "noise": noise,
    "truncated": lambda name, rng, _med: truncate(name, rng),
    "missing_words": drop_words,
    "combined": _combined,
}


def vary(kind: str, name: str, rng: random.Random, medication: bool) -> str:
    """Apply one kind of variation."""
    if kind not in VARIATIONS:
        raise ValueError(kind)
    return VARIATIONS[kind](name, rng, medication)
