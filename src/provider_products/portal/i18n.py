"""The portal's languages: Spanish by default, English; catalogues read from the package's .po files.

The ``.po`` files are the only source: they are compiled in memory with Babel when the portal is
built (a few milliseconds), so a fresh ``pip install .`` needs no build step and no compiled ``.mo``
can drift from its ``.po``.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LANGUAGES = ("es", "en")
DEFAULT_LANGUAGE = "es"
LANGUAGE_COOKIE = "pp_lang"
LOCALE_DIR = Path(__file__).parent / "locale"


@functools.cache
def translations(language: str) -> NullTranslations:
    """Return the gettext translations of a language (English is the source text)."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as po:
        catalogue = read_po(po, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalogue)
    buffer.seek(0)
    return Translations(fp=buffer)


def choose_language(cookie: str | None, accept_language: str | None) -> str:
    """Pick the language: the cookie's when known, else the best of ``Accept-Language``, else Spanish."""
    if cookie in LANGUAGES:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
