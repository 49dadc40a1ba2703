"""The layout's size rules, server and client: no module over 500 lines, no function over complexity 15."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).parents[1]
SRC = ROOT
# The server's package and the client distribution's.
PACKAGES = [
    ROOT / "src" / "provider_products",
    ROOT / "clients" / "python" / "src" / "provider_products_client",
]
MODULES = [p for package in PACKAGES for p in package.rglob("*.py") if "migrations" not in p.parts]


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(SRC)): n for p in MODULES if (n := len(p.read_text("utf-8").splitlines())) > 500
    }
    assert long == {}


def test_no_function_is_over_complexity_15() -> None:
    complex_ = {
        f"{p.relative_to(SRC)}:{block.fullname}": block.complexity
        for p in MODULES
        for block in cc_visit(p.read_text("utf-8"))
        if block.complexity > 15
    }
    assert complex_ == {}
