"""The request kinds ``scale_pg.py`` measures, and its Markdown report."""

from __future__ import annotations

import json
import math
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.results import md_table, write_results
from harness.stats import ratio as _div
from harness.wrk import socket_errors

MEDS = "/medical-catalogs/v1/medications"
PRODUCTS = "/arc/v1/products"
LIST = "/arc/v1/providers/products"
MEDS_QUERIES = ("acetaminofen 500", "losartan 50", "amoxicilina suspension", "omeprazol 20", "ibuprofeno 400")
PRODUCTS_QUERIES = (
    "ecografia abdominal",
    "hemograma completo",
    "resonancia magnetica",
    "glucosa ayunas",
    "radiografia torax",
)
NO_MATCH_QUERY = "xilofono cuantico"
# Picked from the generated data: among the pairs of its 60 most frequent words and their prefixes,
# none that reads like a query matches 23-27%; the type-ahead prefix "med s" (medication codes
# MED-..., a word starting with s) matches about 22%, the run_search.py broad query "tableta mg"
# about 34%. The report gives the exact counts.
QUARTER_QUERY = "med s"
BROAD_QUERY = "tableta mg"
PAGE_SIZE = 15
GET_TARGET_GROWTH = 1.5
SEARCH_TARGET_MS = 20.0


@dataclass(frozen=True)
class Kind:
    """One measured request kind: how wrk sends it and with which token and file."""

    name: str
    label: str
    mode: str  # endpoint.lua mode: healthz, get, register, paths
    group: str  # baseline, registry, search, write


@dataclass(frozen=True)
class Config:
    """One server measured: a step of the registration table and a worker count."""

    registrations: int
    workers: int

    @property
    def label(self) -> str:
        """A short name for tables."""
        return f"{_short(self.registrations)} regs, {self.workers} worker{'s' if self.workers > 1 else ''}"


def _short(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


KINDS = [
    Kind("healthz", "GET /healthz (baseline, start)", "healthz", "baseline"),
    Kind("get", "GET one registration", "get", "registry"),
    Kind("list-mid", "list page, mid", "paths", "registry"),
    Kind("list-last", "list page, last", "paths", "registry"),
    Kind("search-meds", f"two-word medication search ({len(MEDS_QUERIES)} queries)", "paths", "search"),
    Kind("search-products", f"two-word product search ({len(PRODUCTS_QUERIES)} queries)", "paths", "search"),
    Kind("search-none", f"search, no match ({NO_MATCH_QUERY!r})", "paths", "search"),
    Kind("search-quarter", f"search, ~quarter match ({QUARTER_QUERY!r})", "paths", "search"),
    Kind("search-broad", f"search, broad ({BROAD_QUERY!r})", "paths", "search"),
    Kind("register", "POST register (fresh codes)", "register", "write"),
    Kind("healthz-end", "GET /healthz (baseline, end)", "healthz", "baseline"),
]


def summarise_run(run: dict[str, Any]) -> dict[str, Any]:
    """The numbers the tables show."""
    lat = run["latency_us"]
    requests = max(run["requests"], 1)
    return {
        "rps": run["rps"],
        "p50_ms": lat["p50"] / 1000,
        "p95_ms": lat["p95"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "server_cpu": run["server_cpu_s"] / run["wall_s"],
        "server_cpu_ms_per_req": 1000 * run["server_cpu_s"] / requests,
        "postgres_cpu_ms_per_req": 1000 * run["postgres_cpu_s"] / requests,
        "redis_cpu_ms_per_req": 1000 * run["redis_cpu_s"] / requests,
        "statuses": run["statuses"],
        "socket_errors": socket_errors(run),
        "new_pg_sessions": run.get("new_pg_sessions", 0),
    }


def _ms(v: float) -> str:
    return f"{v:.1f}" if v < 100 else f"{v:,.0f}"


def _mib3(total: int, heap: int, indexes: int) -> str:
    return f"{total / 2**20:,.0f} ({heap / 2**20:,.0f} + {indexes / 2**20:,.0f})"


def _healthz_rps(config: dict[str, Any]) -> float:
    """The /healthz baseline of one server: the mean of its first and last throughput runs."""
    runs = config["runs"]
    return float(runs["healthz"]["throughput"]["rps"] + runs["healthz-end"]["throughput"]["rps"]) / 2


def _intro(data: dict[str, Any]) -> list[str]:
    """The title and what was measured."""
    cfg, build = data["config"], data["build"]
    m = data["machine"]
    return [
        f"# Production scale, PostgreSQL + Redis ({m['date_utc']})\n",
        f"**Incomplete run: {data['error']}.**\n" if data.get("error") else "",
        f"Catalogue {cfg['catalogue_size']:,} entries (generated in {build['generate_s']:.0f} s, "
        f"{build['catalogue_file_mib']:.0f} MiB of JSON Lines; `catalogue import` {build['import_s']:.0f} s, "
        f"peak RSS of the import {build['import_peak_rss_mib']:,.0f} MiB); {cfg['providers']:,} providers; "
        f"registrations {', '.join(_short(s) for s in cfg['steps'])} ({cfg['per_provider']:,} per filled "
        f"provider). wrk: latency over 1 connection for {cfg['latency_seconds']} s, then throughput over "
        f"{cfg['connections']} connections for {cfg['throughput_seconds']} s, per request kind "
        f"({cfg['warmup']} s warm-up each). PostgreSQL "
        + ", ".join(f"{k} {v}" for k, v in data.get("postgres", {}).items())
        + ".\n",
    ]


def _latency(data: dict[str, Any]) -> list[str]:
    """Latency table: kinds x servers (1 connection p50 / p95 / p99)."""
    configs = data["configs"]
    header = ["request", *(c["label"] for c in configs)]
    rows = []
    for kind in KINDS:
        cells = []
        for c in configs:
            s = summarise_run(c["runs"][kind.name]["latency"])
            cells.append(f"{_ms(s['p50_ms'])} / **{_ms(s['p95_ms'])}** / {_ms(s['p99_ms'])}")
        rows.append([kind.label, *cells])
    return [
        "\n## Latency, one request in flight (p50 / **p95** / p99 ms)\n",
        md_table(header, rows),
    ]


def _throughput(data: dict[str, Any]) -> list[str]:
    """Throughput table: kinds x servers, share of the same server's /healthz."""
    cfg, configs = data["config"], data["configs"]
    header = ["request", *(c["label"] for c in configs)]
    rows = []
    for kind in KINDS:
        cells = []
        for c in configs:
            s = summarise_run(c["runs"][kind.name]["throughput"])
            base = _healthz_rps(c)
            cells.append(
                f"**{s['rps']:,.0f}** ({s['rps'] / base:.0%}); p95 {_ms(s['p95_ms'])}; "
                f"CPU {s['server_cpu']:.0%}"
            )
        rows.append([kind.label, *cells])
    return [
        f"\n## Throughput, {cfg['connections']} connections (req/s (share of /healthz, same server); "
        "p95 ms; server CPU, 100% = one core)\n",
        md_table(header, rows),
    ]


def _cpu(data: dict[str, Any]) -> list[str]:
    """CPU cost per request of the server, PostgreSQL and Redis."""
    configs = data["configs"]
    header = ["request", *(c["label"] for c in configs)]
    rows = []
    for kind in KINDS:
        cells = []
        for c in configs:
            s = summarise_run(c["runs"][kind.name]["throughput"])
            per_core = 1000 / s["server_cpu_ms_per_req"] if s["server_cpu_ms_per_req"] else math.nan
            cells.append(
                f"{s['server_cpu_ms_per_req']:.2f} / {s['postgres_cpu_ms_per_req']:.2f} / "
                f"{s['redis_cpu_ms_per_req']:.2f} ({per_core:,.0f}/core; {s['new_pg_sessions']} new conns)"
            )
        rows.append([kind.label, *cells])
    return [
        "\n## CPU per request under load: server / PostgreSQL / Redis ms (server requests/s per core; "
        "PostgreSQL connections opened during the run)\n",
        md_table(header, rows),
    ]


def _answers_row(c: dict[str, Any]) -> list[str]:
    """One server's register 201 share, non-200 reads and socket errors."""
    reg = c["runs"]["register"]
    counts: dict[str, int] = {}
    for r in (reg["latency"], reg["throughput"]):
        for k, v in r["statuses"].items():
            counts[k] = counts.get(k, 0) + v
    total = sum(counts.values()) or 1
    others = {
        k: {s: n for s, n in r["statuses"].items() if s != "200"}
        for k, v in c["runs"].items()
        if k != "register"
        for r in (v["latency"], v["throughput"])
        if any(s != "200" for s in r["statuses"])
    }
    errors = sum(summarise_run(r)["socket_errors"] for v in c["runs"].values() for r in v.values())
    return [
        c["label"],
        f"{counts.get('201', 0):,} / {total:,} ({counts.get('201', 0) / total:.1%})",
        str(others or "none"),
        str(errors),
    ]


def _answers(data: dict[str, Any]) -> list[str]:
    """The register 201 share, non-200 reads and socket errors of every server."""
    rows = [_answers_row(c) for c in data["configs"]]
    return [
        "\n## Answers\n",
        md_table(["server", "register 201 / all", "non-200 reads", "socket errors"], rows),
    ]


def _single(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """The 1-worker servers, the first and the last of them."""
    single = [c for c in data["configs"] if c["workers"] == 1]
    return single, single[0], single[-1]


def _growth_rows(first: dict[str, Any], last: dict[str, Any]) -> tuple[list[list[str]], list[str]]:
    """Per kind: p95 and throughput from the first to the last server; verdicts of the get/list kinds."""
    rows = []
    verdicts: list[str] = []
    for kind in KINDS:
        a = summarise_run(first["runs"][kind.name]["latency"])["p95_ms"]
        b = summarise_run(last["runs"][kind.name]["latency"])["p95_ms"]
        ta = summarise_run(first["runs"][kind.name]["throughput"])["p95_ms"]
        tb = summarise_run(last["runs"][kind.name]["throughput"])["p95_ms"]
        ra = summarise_run(first["runs"][kind.name]["throughput"])["rps"] / _healthz_rps(first)
        rb = summarise_run(last["runs"][kind.name]["throughput"])["rps"] / _healthz_rps(last)
        rows.append(
            [
                kind.label,
                f"{_ms(a)} → {_ms(b)} (**{_div(b, a):.2f}x**)",
                f"{_ms(ta)} → {_ms(tb)} ({_div(tb, ta):.2f}x)",
                f"{ra:.0%} → {rb:.0%}",
            ]
        )
        if kind.name in ("get", "list-mid", "list-last"):
            ok = _div(b, a) <= GET_TARGET_GROWTH
            verdicts.append(f"{kind.label} {_div(b, a):.2f}x ({'met' if ok else 'MISSED'})")
    return rows, verdicts


def _growth(data: dict[str, Any]) -> list[str]:
    """Growth ratios from the first to the last 1-worker server."""
    _, first, last = _single(data)
    rows, _ = _growth_rows(first, last)
    header = ["request", "1 connection p95", f"{data['config']['connections']} connections p95"]
    return [
        f"\n## Growth from {first['label']} to {last['label']} (p95 ms)\n",
        md_table([*header, "req/s share of /healthz"], rows),
    ]


def _failed_searches(configs: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Non-200 answers of the search kinds, by server, kind and mode."""
    return {
        f"{c['label']}, {k.name}, {mode}": {
            st: n for st, n in c["runs"][k.name][mode]["statuses"].items() if st != "200"
        }
        for c in configs
        for k in KINDS
        if k.group == "search"
        for mode in ("latency", "throughput")
        if any(st != "200" for st in c["runs"][k.name][mode]["statuses"])
    }


def _targets(data: dict[str, Any]) -> list[str]:
    """The verdicts on the two targets."""
    cfg = data["config"]
    single, first, last = _single(data)
    _, verdicts = _growth_rows(first, last)
    get_ok = all("MISSED" not in v for v in verdicts)
    searches = [k for k in KINDS if k.group == "search"]
    worst = max(summarise_run(c["runs"][k.name]["latency"])["p95_ms"] for c in single for k in searches)
    failed = _failed_searches(data["configs"])
    search_ok = worst < SEARCH_TARGET_MS and not failed
    return [
        "\n## Targets\n",
        f"* get-one and list-page p95 within {GET_TARGET_GROWTH}x from {_short(first['registrations'])} to "
        f"{_short(last['registrations'])} registrations (1 connection): **{'MET' if get_ok else 'MISSED'}**"
        f" — {'; '.join(verdicts)}.",
        f"* search p95 < {SEARCH_TARGET_MS:.0f} ms at {cfg['catalogue_size']:,} entries (1 connection, every "
        f"search kind, every 1-worker server, every answer 200): **{'MET' if search_ok else 'MISSED'}** — "
        f"worst p95 {worst:.1f} ms; non-200 search answers: {failed or 'none'}.",
    ]


def _searches(data: dict[str, Any]) -> list[str]:
    """What the searches match, and the list pages."""
    cfg = data["config"]
    checks = data["configs"][0]["checks"]
    found = []
    for name in ("search-meds", "search-products", "search-none", "search-quarter", "search-broad"):
        for item in checks[name]:
            share = item["total"] / cfg["catalogue_size"]
            found.append([f"`{item['path']}`", f"{item['total']:,}", f"{share:.1%}"])
    return [
        "\n## What the searches match\n",
        md_table(["request", "total_elements", "share"], found),
        f"\nList pages: reader has {data['reader_registrations']:,} registrations; mid page "
        f"{data['pages']['mid']}, last page {data['pages']['last']} (size {PAGE_SIZE}).\n",
    ]


def _memory(data: dict[str, Any]) -> list[str]:
    """Start-up, memory and database size of every server."""
    configs = data["configs"]
    rows = []
    for c in configs:
        st, sz = c["startup"], c["db_sizes"]
        rows.append(
            [
                c["label"],
                f"{st['ready_s']:.1f} / {st['first_search_s']:.1f} / {st['all_workers_warm_s']:.1f}",
                ", ".join(f"{v:,.0f}" for v in st["worker_rss_mib_at_ready"]),
                ", ".join(f"{v:,.0f}" for v in st["worker_rss_mib_after_index"]),
                ", ".join(f"{v:,.0f}" for v in c["worker_rss_mib_at_end"]),
                ", ".join(f"{v:,.0f}" for v in c["worker_peak_rss_mib"]),
                _mib3(sz["pp_total"], sz["pp_heap"], sz["pp_indexes"]),
                _mib3(sz["cat_total"], sz["cat_heap"], sz["cat_indexes"]),
                f"{c['grow']['insert_s']:.0f} / {c['grow']['vacuum_analyze_s']:.0f}",
            ]
        )
    return [
        "\n## Start-up, memory and database size\n",
        md_table(
            [
                "server",
                "ready / first search / all warm s",
                "RSS at ready MiB",
                "RSS index built",
                "RSS at end",
                "peak RSS",
                "provider_product MiB (heap + indexes)",
                "catalogue_product MiB",
                "insert / VACUUM ANALYZE s",
            ],
            rows,
        ),
        "\nRSS per worker process (one value per worker). 'first search' is when the first search was "
        "answered, i.e. when the index of the process that answered was built.\n",
    ]


def _direct(data: dict[str, Any]) -> list[str]:
    """The index built directly (bench/index_build.py), when it was."""
    direct = data.get("index_direct", {})
    if "fetch_seconds" not in direct:
        return []
    rss = direct["rss_mib"]
    return [
        f"\nIndex built directly (bench/index_build.py, {direct['entries']:,} entries): reading the rows "
        f"{direct['fetch_seconds']:.1f} s, building the snapshot {direct['build_seconds_median']:.1f} s "
        f"(median of {', '.join(f'{s:.1f}' for s in direct['build_seconds'])}); "
        f"RSS {rss['before_fetch']:,.0f} MiB before, {rss['after_fetch']:,.0f} after reading, "
        f"{rss['after_build']:,.0f} after building, "
        f"{rss['index_only']:,.0f} with the rows dropped, peak {rss['peak']:,.0f}.\n",
        md_table(
            ["in-process search", "matches", "cold ms", "repeated p50 / p95 ms", "last page ms"],
            [
                [
                    s["search"],
                    f"{s['matches']:,}",
                    f"{s['cold_ms']:.1f}",
                    f"{s['warm_p50_ms']:.3f} / {s['warm_p95_ms']:.3f}",
                    f"{s['last_page_ms']:.1f}",
                ]
                for s in direct["searches"]
            ],
        ),
    ]


def render(data: dict[str, Any]) -> str:
    """Render the results as Markdown."""
    m = data["machine"]
    lines = _intro(data)
    for section in (_latency, _throughput, _cpu, _answers, _growth, _targets, _searches, _memory, _direct):
        lines += section(data)
    lines.append(
        f"\nMachine: {m['cpus']} CPUs ({m['cpu']}), load average at start {m['loadavg_at_start'][0]:.2f}; "
        "wrk, the server, PostgreSQL and Redis share the machine. "
        f"Whole run {data.get('elapsed_s', 0) / 60:.1f} min.\n"
    )
    return "\n".join(lines)


def write_report(data: dict[str, Any], status: int, out_dir: Path) -> int:
    """Write what was measured (raw JSON only when no server was); return the exit status."""
    stamp_stem = "scale-pg" if status == 0 else "scale-pg-partial"
    if not data["configs"]:
        json_path = out_dir / f"{stamp_stem}-failed.json"
        out_dir.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(data, indent=2, default=str) + "\n")
        print(f"no server was measured; raw data in {json_path}", file=sys.stderr)
        return status or 1
    try:
        markdown = render(data)
    except Exception:  # keep the raw numbers whatever happens to the tables
        traceback.print_exc()
        markdown = "# Production scale: rendering failed, see the JSON file\n"
        status = status or 1
    json_path, md_path = write_results(stamp_stem, data, markdown, out_dir)
    print(markdown)
    print(f"results: {json_path} and {md_path}", file=sys.stderr)
    return status
