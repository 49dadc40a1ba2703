"""Refresh the portal's .po catalogues from the templates and code (pybabel extract, then update).

Run from the repository root: ``python tools/portal_catalogues.py``. New strings appear in
``src/provider_products/portal/locale/*/LC_MESSAGES/messages.po`` with an empty ``msgstr``; fill in
the Spanish one (English is the source text). The portal compiles the .po files when it starts.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.frontend import CommandLineInterface

PORTAL = Path("src/provider_products/portal")
POT = PORTAL / "locale" / "messages.pot"


def pybabel(*args: str) -> None:
    """Run one pybabel command in this process."""
    CommandLineInterface().run(["pybabel", *args])


def main() -> None:
    """Extract the messages and merge them into every language's catalogue."""
    pybabel(
        "extract",
        "-F",
        str(PORTAL / "babel.cfg"),
        "-k",
        "N_",
        "--no-location",
        "--sort-output",
        "-o",
        str(POT),
        str(PORTAL),
    )
    for language in ("es", "en"):
        po = PORTAL / "locale" / language / "LC_MESSAGES" / "messages.po"
        if po.exists():
            pybabel(
                "update",
                "-i",
                str(POT),
                "-d",
                str(PORTAL / "locale"),
                "-l",
                language,
                "--no-fuzzy-matching",
                "--ignore-pot-creation-date",
                "--ignore-obsolete",
            )
        else:
            pybabel("init", "-i", str(POT), "-d", str(PORTAL / "locale"), "-l", language)


if __name__ == "__main__":
    main()
