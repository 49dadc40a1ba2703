"""Where results go: the machine they were measured on, Markdown tables, JSON and Markdown files."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sqlite3
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import OUT_DIR


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def machine_info() -> dict[str, Any]:
    """Describe the machine and software the numbers were measured on."""
    cpu = "-"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "loadavg_at_start": list(os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": {
            p: _version(p)
            for p in ("provider-products", "fastapi", "starlette", "uvicorn", "sqlalchemy", "httpx")
        },
    }


def write_results(
    stem: str, data: dict[str, Any], markdown: str, out_dir: Path = OUT_DIR
) -> tuple[Path, Path]:
    """Write ``<stem>-<timestamp>.json`` and ``.md`` (plus ``<stem>-latest.*`` copies) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path, md_path = out_dir / f"{stem}-{stamp}.json", out_dir / f"{stem}-{stamp}.md"
    json_path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(markdown, encoding="utf-8")
    shutil.copyfile(json_path, out_dir / f"{stem}-latest.json")
    shutil.copyfile(md_path, out_dir / f"{stem}-latest.md")
    return json_path, md_path


def publish(stem: str, data: dict[str, Any], markdown: str, out_dir: Path = OUT_DIR) -> None:
    """Write the results, print the Markdown on stdout and where the files went on stderr."""
    json_path, md_path = write_results(stem, data, markdown, out_dir)
    print(markdown)
    print(f"results: {json_path} and {md_path}", file=sys.stderr)


def md_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Render a Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
