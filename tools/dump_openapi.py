"""Write the OpenAPI document that ``create_app`` serves at /openapi.json, without a server or a database.

Usage: ``python tools/dump_openapi.py OUT.json`` (the Python that has provider-products installed). The
TypeScript client, the Postman and Bruno collections and the OpenAPI linters are all made from this file,
so they describe exactly what the server serves.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from provider_products.app import create_app
from provider_products.config import Settings


def main(out: Path) -> None:
    """Build the app on a throw-away SQLite path (never opened) and write its document to ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_url=f"sqlite:///{Path(tmp) / 'openapi.db'}", jwt_secret="dump-" + "x" * 32
        )
        document = create_app(settings).openapi()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/dump_openapi.py OUT.json")
    main(Path(sys.argv[1]))
