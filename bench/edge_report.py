"""The edge benchmark's report: its targets and the Markdown tables of bench/edge.py's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import list_growth
from harness import stats
from harness.results import md_table

HOT = ("trivial", "bare", "get", "floor", "register", "list", "search")
LABELS = {
    "trivial": "GET /healthz (the service, whole edge)",
    "bare": "GET /healthz (bare FastAPI app)",
    "get": "GET one registration",
    "floor": "GET one registration, floor app (same work, bare drivers, no middleware)",
    "register": "register (POST)",
    "list": "list page 0, size 15, 2,000 registrations",
    "search": "two-word catalogue search",
}
TARGETS = {
    "sqlite": {"trivial": 0.70, "get": 0.50, "register": 0.35, "list": 0.30},
    "postgresql": {"trivial": 0.70, "get": 0.30, "register": 0.20, "list": 0.20},
}
WORKERS = {"sqlite": 1, "postgresql": 2}


def _pct(value: float) -> str:
    return f"{value:.0%}" if value == value else "-"


def _render_hot(backend: str, hot: dict[str, Any]) -> list[str]:
    """The hot requests' table; "CPU share" is the trivial (for /healthz: the bare) request's server CPU
    per request over this one's, what the req/s share would be on an otherwise idle machine."""
    s, targets = hot["summary"], TARGETS[backend]
    rows = []
    for name in s:
        before, _, kind = name.rpartition(":")
        c, goal = s[name], targets.get(kind)
        share = c["of_bare"] if kind == "trivial" else c["of_trivial"]
        verdict = "-" if goal is None else ("met" if share >= goal else "**missed**")
        trivial = f"{before}:trivial" if before else "trivial"
        base = s["bare" if kind == "trivial" else trivial]["median_cpu_ms"]
        rows.append(
            [
                LABELS[kind] + (" **(baseline)**" if before else ""),
                f"{c['median_rps']:,.0f}",
                _pct(c["of_trivial"]),
                _pct(c["of_bare"]),
                f"{c['median_p50_ms']:.1f} / {c['median_p95_ms']:.1f}",
                f"{c['median_cpu_ms']:.2f}",
                _pct(stats.ratio(base, c["median_cpu_ms"])),
                "-"
                if goal is None
                else f">= {goal:.0%} of {'bare' if kind == 'trivial' else 'trivial'}: {verdict}",
                json.dumps(c["statuses"]),
            ]
        )
    header = [
        "request",
        "req/s",
        "% of trivial",
        "% of bare",
        "p50 / p95 ms",
        "server CPU ms/req",
        "CPU share",
        "target",
        "statuses",
    ]
    lines = [f"\n### {backend}: hot requests ({WORKERS[backend]} worker(s))\n", md_table(header, rows)]
    if "floor" in s:
        lines.append(
            f"\nThe floor app's GET one is {_pct(s['floor']['of_bare'])} of the bare app's trivial "
            "endpoint: what a GET one can reach with these components, without the service's layers. "
            + "; ".join(
                f"GET one{' (baseline)' if name.startswith('before:') else ''} is "
                f"{_pct(s[name].get('of_floor', float('nan')))} of the floor's req/s"
                for name in s
                if name.rpartition(":")[2] == "get"
            )
            + ".\n"
        )
    return lines


def _render_trips(trips: dict[str, Any]) -> list[str]:
    rows = [
        [
            LABELS[name],
            f"{t['postgres_per_request']:.2f}",
            ", ".join(f"{k} {v:.2f}" for k, v in sorted(t["postgres_by_kind"].items())) or "-",
            f"{t['redis_per_request']:.2f}",
            ", ".join(f"{k} {v:.2f}" for k, v in sorted(t["redis_by_command"].items())) or "-",
            json.dumps(t["statuses"]),
        ]
        for name, t in trips.items()
    ]
    header = ["request", "PostgreSQL round trips", "by kind", "Redis commands", "by command", "statuses"]
    return [
        "\n### postgresql: round trips per request (200 sequential requests each)\n",
        md_table(header, rows),
    ]


def _render_index(backend: str, index: dict[str, Any]) -> list[str]:
    rss = ", ".join(f"{v:.0f}" for v in index["worker_rss_mib_after_index"])
    after = ", ".join(f"{v:.0f}" for v in index["worker_rss_mib_after_reindex"])
    peak = ", ".join(f"{v:.0f}" for v in index["worker_peak_rss_mib"])
    rows = [
        ["/healthz first answered (s from start)", f"{index['ready_s']:.1f}"],
        ["first search answered (s from start)", f"{index['first_search_s']:.1f}"],
        ["every worker searching (s from start)", f"{index['all_workers_warm_s']:.1f}"],
        ["/readyz then", f"{index['readyz']['status']} {json.dumps(index['readyz']['body'])}"],
        ["RSS per worker, index built / after the re-index / peak (MiB)", f"{rss} / {after} / {peak}"],
        [
            "catalogue import (s), change searchable after (s)",
            f"{index['import_s']:.1f}, {index['change_searchable_after_s']:.1f}",
        ],
        ["probe answers, failures", f"{index['probe_answers']:,}, {index['probe_failures']}"],
        ["**longest gap between probe answers** (ms)", f"{index['longest_gap_ms']:.0f}"],
        ["p99 gap (ms), gaps over 50 ms", f"{index['p99_gap_ms']:.1f}, {index['gaps_over_50ms']}"],
    ]
    return [
        f"\n### {backend}: search index start-up, memory and loop stalls during an import\n",
        md_table(["measure", "value"], rows),
    ]


def _render_growth(backend: str, growth: dict[str, Any], sizes: list[int]) -> list[str]:
    s = growth["summary"]
    rows = []
    for f in list_growth.FILTERS:
        for p in list_growth.PAGES:
            cells = [s.get(f"{n}/{f}/{p}") for n in sizes]
            measured = [c for c in cells if c is not None]
            growth_x = stats.ratio(measured[-1]["median_p95_ms"], measured[0]["median_p95_ms"])
            upto = sizes[len(measured) - 1]
            rows.append(
                [
                    f"{f} {p} page",
                    *("-" if c is None else f"{c['median_p95_ms']:.1f} ms, {c['share']:.0%}" for c in cells),
                    f"{growth_x:.2f}x" + ("" if upto == sizes[-1] else f" (to {upto:,})"),
                ]
            )
    header = [
        "list page",
        *(f"{n:,}: p95, % of trivial" for n in sizes),
        f"p95 growth {sizes[0]:,} -> {sizes[-1]:,}",
    ]
    return [f"\n### {backend}: list growth (filters {growth['filters']})\n", md_table(header, rows)]


def render(data: dict[str, Any]) -> str:
    """Render the whole report: per backend, every section that was measured."""
    cfg, machine = data["config"], data["machine"]
    lines = [
        f"# Edge benchmark ({machine['date_utc']}{', quick' if cfg['quick'] else ''})\n",
        f"`{cfg['command']}`: wrk 1 thread, {cfg['connections']} connections, {cfg['duration']} s per run, "
        f"{cfg['rounds']} interleaved rounds (order rotated), medians; catalogue {cfg['catalogue_size']:,}; "
        f"SQLite 1 worker, PostgreSQL + Redis 2 workers. Machine: {machine['cpus']} CPUs, load average "
        f"at start {machine['loadavg_at_start'][0]:.2f}. Code measured: {cfg.get('src', 'src/')}"
        + (f"; baseline (interleaved): {cfg['baseline_src']}" if cfg.get("baseline_src") else "")
        + ".\n",
    ]
    for backend, result in data["backends"].items():
        if "hot" in result:
            lines += _render_hot(backend, result["hot"])
        if "trips" in result:
            lines += _render_trips(result["trips"])
        if "index" in result:
            lines += _render_index(backend, result["index"])
        if "growth" in result:
            lines += _render_growth(backend, result["growth"], cfg["growth_sizes"])
        if "error" in result:
            lines.append(f"\n**{backend} failed:** {result['error']}\n")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Render a results file of bench/edge.py again: ``python bench/edge_report.py bench/out/edge-*.json``."""
    import argparse

    parser = argparse.ArgumentParser(description=(main.__doc__ or "").splitlines()[0])
    parser.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    print(render(json.loads(args.results.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
