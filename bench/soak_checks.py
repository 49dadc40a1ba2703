"""The soak's summary (per-minute rows, per-kind totals, a timeline) and its pass/fail checks."""

from __future__ import annotations

import argparse
import math
from collections import Counter
from typing import Any

from harness.stats import median, percentile, slope
from soak_driver import KINDS, Driver, Sample, latency_summary, status_counts

MEMORY_GROWTH_BOUND = 0.20  # end RSS at most 20% above the RSS after the first minute, per worker
P99_RATIO_BOUND = 2.0  # last-minute p99 at most 2x the first-minute p99
DELIVERED_BOUND = 0.95  # at least 95% of the planned requests were sent

RssSeries = list[tuple[float, dict[int, float]]]  # (seconds from minute 1, pid -> MiB)


def minute_of(sample: Sample, minutes: int, period: float) -> int:
    """The 1-based minute a request was sent in, 0 for the warm-up; the few sent after the end count
    in the last one."""
    if sample.start < 0:
        return 0
    return min(int(sample.start // period), minutes - 1) + 1


def _minute_row(
    minute: int, done: list[Sample], snap: dict[str, Any], prev: dict[str, Any]
) -> dict[str, Any]:
    """One row of the per-minute table: the requests sent in it and the samples at its two ends."""
    wall = snap["mono"] - prev["mono"]
    skip = ("minute", "t", "server_cpu_s", "driver_cpu_s", "machine_cpu_s", "mono")
    return {
        "minute": minute,
        "requests": len(done),
        "statuses": status_counts(done),
        "latency": latency_summary(done),
        "wait_p99_ms": percentile([s.wait * 1000 for s in done], 99),
        "per_kind": {k: status_counts(s for s in done if s.kind == k) for k in KINDS},
        "server_cpu": (snap["server_cpu_s"] - prev["server_cpu_s"]) / wall,
        # Connections PostgreSQL accepted on the soak database in this minute, less the sampler's one.
        "pg_connections_opened": snap.get("pg_sessions_opened_total", 0)
        - prev.get("pg_sessions_opened_total", 0)
        - 1,
        "driver_cpu": (snap["driver_cpu_s"] - prev["driver_cpu_s"]) / wall,
        "machine_busy": (snap["machine_cpu_s"][0] - prev["machine_cpu_s"][0])
        / max(1e-9, snap["machine_cpu_s"][1] - prev["machine_cpu_s"][1]),
        **{k: v for k, v in snap.items() if k not in skip},
    }


def _add_rss(row: dict[str, Any], rss_series: RssSeries, period: float) -> None:
    """Worker RSS of the minute: median and maximum of the readings taken in it, per worker."""
    lo = -math.inf if row["minute"] == 0 else (row["minute"] - 1) * period
    hi = 0.0 if row["minute"] == 0 else row["minute"] * period
    readings = [r for t, r in rss_series if lo <= t < hi]
    row["rss_readings"] = len(readings)
    row["worker_rss_median_mib"] = [
        median([r[pid] for r in readings if pid in r]) for pid in row["worker_pids"]
    ]
    row["worker_rss_max_mib"] = [
        max((r[pid] for r in readings if pid in r), default=math.nan) for pid in row["worker_pids"]
    ]


def _timeline(samples: list[Sample], period: float) -> dict[str, Any]:
    """Requests, 429s and latency in steps of a sixth of a minute."""
    step = max(1.0, period / 6)
    buckets: dict[int, list[Sample]] = {}
    for sample in samples:
        buckets.setdefault(int(sample.start // step), []).append(sample)
    return {
        "step_s": step,
        "rows": [
            {
                "t": n * step,
                "requests": len(b),
                "429": sum(1 for x in b if x.status == 429),
                **latency_summary(b),
                "wait_max_ms": max(x.wait for x in b) * 1000,
            }
            for n, b in sorted(buckets.items())
        ],
    }


def _totals(driver: Driver) -> dict[str, Any]:
    """The whole run: statuses and latency, overall and per kind, and what the driver recorded."""
    samples = driver.samples
    return {
        "requests": len(samples),
        "statuses": status_counts(samples),
        "latency": latency_summary(samples),
        "per_kind": {
            k: {
                "statuses": status_counts(s for s in samples if s.kind == k),
                **latency_summary(s for s in samples if s.kind == k),
            }
            for k in KINDS
        },
        "planned": driver.planned,
        "dropped": driver.dropped,
        "replayed_ok": driver.replayed_ok,
        "transport_errors": dict(driver.errors),
        "transport_error_examples": driver.error_examples,
        "disagreements": dict(driver.disagreements),
        "disagreement_examples": driver.disagreement_examples,
    }


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    keys = sorted(set(before) | set(after))
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys if after.get(k, 0) != before.get(k, 0)}


def _metrics_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What the server itself counted during the drive (its /metrics, summed over workers)."""
    requests = {
        k: after["metrics_requests"].get(k, 0) - before["metrics_requests"].get(k, 0)
        for k in sorted(set(before["metrics_requests"]) | set(after["metrics_requests"]))
    }
    refusals = {
        k: after["metrics_refusals"].get(k, 0) - before["metrics_refusals"].get(k, 0)
        for k in sorted(set(before["metrics_refusals"]) | set(after["metrics_refusals"]))
    }
    return {
        "requests_by_status": {k: v for k, v in requests.items() if v},
        "rate_limit_refusals": refusals,
        "requests_by_route": _delta(before.get("metrics_by_route", {}), after.get("metrics_by_route", {})),
    }


def summarise(data: dict[str, Any], driver: Driver, args: argparse.Namespace, rss_series: RssSeries) -> None:
    """Add the per-minute and warm-up rows, the timeline, the totals and /metrics' count to ``data``."""
    samples = driver.samples
    by_minute: dict[int, list[Sample]] = {}
    for sample in samples:
        by_minute.setdefault(minute_of(sample, args.minutes, args.period), []).append(sample)
    rows = [data["start_sample"], *data["minutes_raw"]]
    minutes = [_minute_row(m, by_minute.get(m, []), rows[m + 1], rows[m]) for m in range(args.minutes + 1)]
    for row in minutes:
        _add_rss(row, rss_series, args.period)
    data["warmup_row"] = minutes.pop(0)
    data["minutes"] = minutes
    data["timeline"] = _timeline(samples, args.period)
    data["sent_after_end"] = sum(1 for s in samples if s.start >= args.minutes * args.period)
    data["totals"] = _totals(driver)
    data["server_metrics_delta"] = _metrics_delta(data["start_sample"], data["final_sample"])


# ------------------------------------------------------------------------------------------ checks


def _check(name: str, bound: str, measured: str, passed: bool) -> dict[str, Any]:
    return {"check": name, "bound": bound, "measured": measured, "passed": bool(passed)}


def _errors(data: dict[str, Any]) -> list[dict[str, Any]]:
    statuses = data["totals"]["statuses"]
    five = {k: v for k, v in statuses.items() if k.startswith("5")}
    errors = statuses.get("error", 0)
    return [
        _check("no 5xx answer", "0", f"{sum(five.values())} {five or ''}".strip(), not five),
        _check(
            "no transport error (timeout, reset, refused)",
            "0",
            f"{errors}",
            errors == 0 and data.get("left_in_flight", 0) == 0,
        ),
    ]


def _memory(data: dict[str, Any], workers: int) -> dict[str, Any]:
    minutes = data["minutes"]
    first, last = minutes[0], minutes[-1]
    growths = []
    ok = True
    pairs = zip(first["worker_rss_median_mib"], last["worker_rss_median_mib"], strict=False)
    for n, (a, b) in enumerate(pairs):
        growth = (b - a) / a if a else math.inf
        per_minute = slope(
            [m["worker_rss_median_mib"][n] for m in minutes if len(m["worker_rss_median_mib"]) > n]
        )
        growths.append(
            f"worker {n + 1}: {a:.1f} → {b:.1f} MiB ({growth:+.1%}; slope {per_minute:+.2f} MiB/min)"
        )
        ok = ok and growth <= MEMORY_GROWTH_BOUND
    same_workers = first["worker_pids"] == last["worker_pids"] and all(
        m["worker_pids"] == first["worker_pids"] for m in minutes
    )
    return _check(
        "worker RSS growth, median of the last minute vs median of minute 1",
        f"≤ {MEMORY_GROWTH_BOUND:.0%} per worker, no worker restarted",
        "; ".join(growths) + ("" if same_workers else "; WORKER PIDS CHANGED"),
        ok and same_workers and len(growths) == workers,
    )


def _p99(data: dict[str, Any]) -> dict[str, Any]:
    p_first, p_last = data["minutes"][0]["latency"]["p99_ms"], data["minutes"][-1]["latency"]["p99_ms"]
    return _check(
        "p99 stability (admitted requests), last minute vs minute 1",
        f"≤ {P99_RATIO_BOUND:g}x",
        f"{p_first:.1f} → {p_last:.1f} ms ({p_last / p_first:.2f}x)",
        p_last <= P99_RATIO_BOUND * p_first,
    )


def _state(data: dict[str, Any], providers: int) -> list[dict[str, Any]]:
    verify, totals = data["verify"], data["totals"]
    missing = sum(len(v) for v in verify["missing"].values())
    unexpected = sum(len(v) for v in verify["unexpected"].values())
    believed, listed = verify["registrations_believed"], verify["registrations_listed"]
    mismatched = len(verify["count_mismatch_sql_all_providers"])
    n_dis = sum(totals["disagreements"].values())
    return [
        _check(
            "registrations held = registrations listed",
            "0 missing, 0 unexpected",
            f"{verify['providers_listed']} providers listed: {believed:,} believed, {listed:,} listed, "
            f"{missing} missing, {unexpected} unexpected; SQL counts differ for {mismatched} of "
            f"{providers} providers",
            missing == 0 and unexpected == 0 and not verify["count_mismatch_sql_all_providers"],
        ),
        _check(
            "every answer agrees with the driver's state (404/409 on held/fresh codes, batch outcomes, "
            "validate, history, replays)",
            "0",
            f"{n_dis} {totals['disagreements'] or ''}".strip(),
            n_dis == 0,
        ),
    ]


def _log_and_load(data: dict[str, Any], expected_planned: float) -> list[dict[str, Any]]:
    log, totals = data["server_log"], data["totals"]
    delivered = (totals["planned"] - totals["dropped"]) / max(1, expected_planned)
    return [
        _check(
            "server log",
            "no Traceback, no error line",
            f"{log['tracebacks']} tracebacks, {log['errors']} errors, {log['warnings']} warnings",
            log["tracebacks"] == 0 and log["errors"] == 0,
        ),
        _check(
            "offered load delivered (requests sent / planned at the nominal rate)",
            f"≥ {DELIVERED_BOUND:.0%}, none dropped",
            f"{delivered:.1%}; {totals['dropped']} dropped by the backlog bound",
            delivered >= DELIVERED_BOUND and totals["dropped"] == 0,
        ),
    ]


def _stores(data: dict[str, Any]) -> dict[str, Any]:
    raw = data["minutes_raw"]
    pg_starts = sorted({str(m.get("pg_started")) for m in raw})
    redis_runs = sorted({str(m.get("redis_run_id")) for m in raw})
    store_errors = [
        m.get("pg_error") or m.get("redis_error") for m in raw if "pg_error" in m or "redis_error" in m
    ]
    return _check(
        "PostgreSQL and Redis ran throughout (nobody restarted them under the soak)",
        "one start time, one run id, no sampling error",
        f"PostgreSQL started {', '.join(pg_starts)}; Redis run ids {len(redis_runs)}; "
        f"sampling errors {store_errors or 0}",
        len(pg_starts) == 1 and len(redis_runs) == 1 and not store_errors,
    )


def _counts(data: dict[str, Any]) -> list[dict[str, Any]]:
    totals = data["totals"]
    statuses = totals["statuses"]
    server_counts = Counter[str]()
    for route, n in data["server_metrics_delta"]["requests_by_route"].items():
        if not route.startswith("GET /metrics "):  # the sampler's scrapes
            server_counts[route.rsplit(" ", 1)[1]] += n
    driver_counts = {k: v for k, v in statuses.items() if k != "error"}
    refused = statuses.get("429", 0)
    return [
        _check(
            "the server counted (/metrics) what the driver got, status by status",
            "equal",
            f"server {dict(sorted(server_counts.items()))}; driver {driver_counts}",
            dict(server_counts) == driver_counts,
        ),
        _check(
            "clients were near their limits (some 429s)",
            "> 0",
            f"{refused:,} ({refused / max(1, totals['requests']):.1%} of requests)",
            refused > 0,
        ),
    ]


def checks(
    data: dict[str, Any], workers: int, providers: int, expected_planned: float
) -> list[dict[str, Any]]:
    """The pass/fail checks, each with its bound and what was measured."""
    return [
        *_errors(data),
        _memory(data, workers),
        _p99(data),
        *_state(data, providers),
        *_log_and_load(data, expected_planned),
        _stores(data),
        *_counts(data),
    ]
