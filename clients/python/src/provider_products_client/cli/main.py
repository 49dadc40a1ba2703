"""The ``provider-products-client`` command: the integrator tools ``onboard`` and ``match``.

They need the ``tools`` extra (``pip install 'provider-products-client[tools]'``); without it the
command says so in one line and exits 2, instead of a traceback.
"""

from __future__ import annotations

import sys

TOOLS_HINT = "pip install 'provider-products-client[tools]'"


def main() -> None:
    """Run the command, or say which extra it needs."""
    try:
        from provider_products_client.cli.app import app
    except ModuleNotFoundError as exc:
        missing = exc.name or "a module"
        message = f"error: the tools extra is not installed ({missing} is missing): run {TOOLS_HINT}"
        print(message, file=sys.stderr)
        raise SystemExit(2) from None
    app()
