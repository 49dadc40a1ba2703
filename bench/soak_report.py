"""The soak's report: its results as Markdown."""

from __future__ import annotations

import math
from typing import Any

from harness.results import md_table
from soak_driver import MIX


def _f(v: float, digits: int = 1) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:,.{digits}f}"


MINUTE_NOTES = """
Requests are counted in the minute they were sent (driver queue: time from a request's planned
moment to its sending, waiting for one of the bounded slots); the warm-up row (the same load
before minute 1) is used by the checks only for 5xx and transport errors. Latency is the driver's
(send to whole answer read, loopback, the driver on the same 2 cores). Worker RSS: median and
maximum of the readings taken every 2 s in the minute. Pool gauges: one figure per scrape (fresh
connection each); each worker updates its own gauge only when it answers a scrape, so a sum can
hold another worker's older value. PG conns: sessions on the database seen by `pg_stat_activity`
at the minute's end (the sampler's own excluded) / connections PostgreSQL accepted on the database
during the minute (`pg_stat_database.sessions`; pool churn shows here). CPU: server = all server
processes, driver = this script, 100% = one core; machine = share of both cores busy (everything,
other people's work included). Load: 1-minute load average; CPU pressure: PSI `some avg60`, the
share of time some runnable task waited for a core.
"""


def _minutes(data: dict[str, Any]) -> list[str]:
    """The per-minute table, warm-up row first."""
    cfg = data["config"]
    lines: list[str] = []
    minutes = data.get("minutes", [])
    if minutes:
        rows = []
        warmup = [data["warmup_row"]] if "warmup_row" in data else []
        for row in [*warmup, *minutes]:
            st = row["statuses"]
            lat = row["latency"]
            other = {k: v for k, v in st.items() if k not in ("429",)}
            rows.append(
                [
                    row["minute"] or f"warm-up ({cfg['warmup']:g} s)",
                    f"{row['requests']:,}",
                    ", ".join(f"{k}: {v:,}" for k, v in other.items()),
                    f"{st.get('429', 0):,}",
                    f"{_f(lat['p50_ms'])} / {_f(lat['p95_ms'])} / **{_f(lat['p99_ms'])}**",
                    _f(row["wait_p99_ms"], 0),
                    ", ".join(
                        f"{a:.0f} ({b:.0f})"
                        for a, b in zip(row["worker_rss_median_mib"], row["worker_rss_max_mib"], strict=False)
                    ),
                    " ".join(
                        f"{a:.0f}/{b:.0f}" for a, b in zip(row["pool_in_use"], row["pool_size"], strict=False)
                    ),
                    f"{sum(row['pg_sessions'].values())} / {row['pg_connections_opened']}",
                    f"{row['server_cpu']:.0%} / {row['driver_cpu']:.0%} / {row['machine_busy']:.0%}",
                    f"{row['loadavg'][0]:.1f} / {row['cpu_pressure_60s']:.0%}",
                ]
            )
        lines += [
            "\n## Per minute\n",
            md_table(
                [
                    "min",
                    "requests",
                    "statuses (not 429)",
                    "429",
                    "admitted p50 / p95 / **p99** ms",
                    "driver queue p99 ms",
                    "worker RSS median (max) MiB",
                    "pool in use/size (/metrics scrapes)",
                    "PG conns / opened",
                    "CPU server / driver / machine",
                    "load / CPU pressure",
                ],
                rows,
            ),
            MINUTE_NOTES,
        ]
    return lines


def _kinds(data: dict[str, Any]) -> list[str]:
    """The whole run by request kind, and the totals."""
    lines: list[str] = []
    totals = data.get("totals")
    if totals:
        rows = []
        for kind, t in totals["per_kind"].items():
            if not t["statuses"]:
                continue
            rows.append(
                [
                    kind,
                    f"{sum(t['statuses'].values()):,}",
                    ", ".join(f"{k}: {v:,}" for k, v in t["statuses"].items()),
                    f"{_f(t['p50_ms'])} / {_f(t['p95_ms'])} / {_f(t['p99_ms'])} / {_f(t['max_ms'], 0)}",
                ]
            )
        lat = totals["latency"]
        rows.append(
            [
                "**all**",
                f"{totals['requests']:,}",
                ", ".join(f"{k}: {v:,}" for k, v in totals["statuses"].items()),
                f"{_f(lat['p50_ms'])} / {_f(lat['p95_ms'])} / {_f(lat['p99_ms'])} / {_f(lat['max_ms'], 0)}",
            ]
        )
        lines += [
            "\n## By request kind (whole run)\n",
            md_table(["kind", "requests", "statuses", "admitted p50 / p95 / p99 / max ms"], rows),
            f"\nPlanned API requests {totals['planned']:,} (nominal "
            f"{data.get('expected_planned', 0):,.0f}); dropped by the backlog bound {totals['dropped']}; "
            f"idempotent replays answered 201 + `Idempotent-Replayed: true`: {totals['replayed_ok']}. "
            f"Server's own count during the drive (/metrics): {data.get('server_metrics_delta')}.\n",
        ]
    return lines


def _verify(data: dict[str, Any]) -> list[str]:
    """What reading the lists back found."""
    lines: list[str] = []
    verify = data.get("verify")
    if verify:
        lines.append(
            f"\nVerification: {verify['providers_listed']} providers' lists read back in full "
            f"({verify['registrations_listed']:,} registrations listed, {verify['registrations_believed']:,} "
            f"believed); registration periods in the table {verify['periods_total']:,} "
            f"({verify['periods_closed']:,} closed by deletes).\n"
        )
    return lines


def _checks(data: dict[str, Any]) -> list[str]:
    """The checks and their results."""
    lines: list[str] = []
    checks = data.get("checks", [])
    if checks:
        lines += [
            "\n## Checks\n",
            md_table(
                ["check", "bound", "measured", "result"],
                [
                    [c["check"], c["bound"], c["measured"], "pass" if c["passed"] else "**FAIL**"]
                    for c in checks
                ],
            ),
        ]
    return lines


def render(data: dict[str, Any]) -> str:
    """The results as Markdown."""
    cfg, m, build = data["config"], data["machine"], data["build"]
    lines = [f"# Soak, PostgreSQL + Redis, `serve --workers {cfg['workers']}` ({m['date_utc']})\n"]
    if data.get("error"):
        lines.append(f"**Incomplete run: {data['error']}.**\n")
    import_s = _f(build.get("import_s", math.nan), 0)
    lines.append(
        f"{cfg['providers']} providers, each with a driver client limited to {cfg['rate_limit']} sending "
        f"{cfg['overload']:g}x that (Poisson arrivals) for {cfg['minutes']} x {cfg['period']:g} s, at most "
        f"{cfg['concurrency']} requests in flight; {cfg['initial']} registrations seeded per provider; "
        f"catalogue {cfg['catalogue_size']:,} generated entries (import {import_s} s); "
        f"a new token every ~{cfg['token_every']:g} s per client. Mix per 100 API requests: "
        + ", ".join(f"{k} {v}" for k, v in MIX.items())
        + f". Database `{cfg['database']}`, Redis `{cfg['redis_url']}`.\n"
    )
    for section in (_minutes, _kinds, _verify, _checks):
        lines += section(data)
    lines.append(
        f"\nMachine: {m['cpus']} CPUs ({m['cpu']}), load average at start {m['loadavg_at_start'][0]:.2f}; "
        "driver, server, PostgreSQL and Redis share it. "
        + (f"Served src/ copy sha256 {data['src_sha256'][:16]}. " if data.get("src_sha256") else "")
        + "Whole run "
        f"{data.get('elapsed_s', 0) / 60:.1f} min.\n"
    )
    return "\n".join(lines)
