"""The portal's catalogues: every string the templates and code mark has its Spanish translation."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from provider_products.portal import i18n

PORTAL = Path(i18n.__file__).parent
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _marked() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = extract_from_dir(str(PORTAL), method_map, options_map=options, keywords=keywords)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def _catalogue(language: str) -> dict[str, str]:
    with (PORTAL / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return {str(m.id): str(m.string) for m in read_po(po) if m.id}


def test_every_marked_string_has_a_spanish_translation() -> None:
    spanish = _catalogue("es")
    marked = _marked()
    assert len(marked) > 50
    missing = sorted(m for m in marked if not spanish.get(m))
    assert missing == [], "run tools/portal_catalogues.py and translate these in locale/es"


def test_spanish_translations_keep_the_placeholders() -> None:
    for source, spanish in _catalogue("es").items():
        assert sorted(PLACEHOLDER.findall(source)) == sorted(PLACEHOLDER.findall(spanish)), source


def test_english_catalogue_lists_every_marked_string() -> None:
    assert _marked() <= set(_catalogue("en"))


def test_translations_compile_from_the_po_files() -> None:
    assert i18n.translations("es").gettext("My products") == "Mis productos"
    assert i18n.translations("en").gettext("My products") == "My products"


def test_choose_language_cookie_then_accept_language_then_spanish() -> None:
    assert i18n.choose_language("en", "es") == "en"
    assert i18n.choose_language("fr", "fr-FR,en;q=0.8,es;q=0.5") == "en"
    assert i18n.choose_language(None, "es;q=0.2, en;q=0.9") == "en"
    assert i18n.choose_language(None, "en;q=0") == "es"
    assert i18n.choose_language(None, "de, fr;q=bogus") == "es"
    assert i18n.choose_language(None, None) == "es"
