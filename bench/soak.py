"""Soak benchmark: PostgreSQL + Redis, ``serve --workers 2``, 40 clients near their rate limits, 10 minutes.

One command builds everything, drives the load, checks, reports and cleans up (about 12 minutes for
the default 10 minutes of load; it stops by itself after ``--minutes`` + ``--setup-minutes``)::

    .venv/bin/python bench/soak.py                             # the soak: 10 minutes of load
    .venv/bin/python bench/soak.py --minutes 3 --period 10     # a 30-second smoke test of the script

A smoke test exercises the script, not the service: in 30 s no rate window fills (no 429) and a
p99 over ~100 requests is noise, so those two checks are expected to fail there.

Needs PostgreSQL on 127.0.0.1:5432 (trust auth, user postgres) and Redis on 127.0.0.1:6379. It
creates (and at the end drops) its own database ``pp_bench_soak`` and uses Redis database 4
(flushed at the start and the end). Setup: ``provider-products db upgrade``; a generated
25,000-entry catalogue (bench/gen_catalogue.py) loaded with ``provider-products catalogue import``;
40 providers, each with a *driver* OAuth client limited to 150/minute and a *checker* client with
a huge limit (used only to seed 200 registrations per provider before, and to read the lists back
after); ``provider-products serve --workers 2`` with ``PROVIDER_PRODUCTS_LOG_REQUESTS=false`` on a
copy of ``src/`` taken at the start (others edit ``src/`` meanwhile; ``--live-src`` runs the tree).

Load: every driver client sends Poisson arrivals at 1.1x its limit (``--overload``), so about 9% of
its requests are refused with 429: list pages, reads of one registration, two-word catalogue
searches, single registrations (some with ``Idempotency-Key``, a few of those sent twice), deletes,
small batches (2-5 codes, sometimes with a code already registered or a withdrawn one), history and
validate; plus a new token every ~2 minutes. Concurrency is bounded (one asyncio semaphore, one
httpx connection pool). The driver keeps the set of codes it believes each provider holds, and
reserves codes while a request about them is in flight, so every answer has one right status.

Minute 1 begins after 30 s of the same load (``--warmup``: connection pools filled, rate windows
full), which is reported on its own row. Every minute: requests by status, p50/p95/p99 latency of
admitted (not 429) requests, 429s, worker RSS (/proc, read every 2 s), CPU, the pool gauges of
/metrics and PostgreSQL's own connection count. Checks at the end (exit status 1 when one fails):
no 5xx and no transport error; every worker's median RSS in the last minute at most 20% above its
median RSS in minute 1, and no worker restarted; last-minute p99 at most 2x the minute-1 p99;
every registration the driver believes held is listed by the server and nothing else (all
providers by default; SQL counts too) and no answer contradicted the driver's state; no
``Traceback`` in the server log; the offered load was delivered; PostgreSQL and Redis were not
restarted meanwhile; the server's /metrics counted what the driver got; some 429s happened.
Results go to bench/out/soak-*.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, NamedTuple

import asyncpg  # type: ignore[import-untyped]
import httpx
import redis

import benchlib
import gen_catalogue

MEDS = "/medical-catalogs/v1/medications"
PRODUCTS = "/arc/v1/products"
REGS = "/arc/v1/providers/products"
TOKEN = "/v1/oauth/token"
SEARCHES = (
    (MEDS, "acetaminofen 500"),
    (MEDS, "losartan 50"),
    (MEDS, "amoxicilina suspension"),
    (MEDS, "omeprazol 20"),
    (MEDS, "ibuprofeno 400"),
    (PRODUCTS, "ecografia abdominal"),
    (PRODUCTS, "hemograma completo"),
    (PRODUCTS, "resonancia magnetica"),
    (PRODUCTS, "glucosa ayunas"),
    (PRODUCTS, "radiografia torax"),
)
# The API mix per 100 requests of a client (tokens come on their own schedule). Deletes (20) balance
# single registrations (10) and batches (3 x 2-5 codes), so each provider's list keeps its size.
MIX = {
    "list": 22,
    "get": 21,
    "search": 20,
    "register": 10,
    "delete": 20,
    "batch": 3,
    "history": 2,
    "validate": 2,
}
KINDS = [*MIX, "replay", "token"]
PAGE_SIZE = 15
CHECKER_LIMIT = "100000000/minute"
MEMORY_GROWTH_BOUND = 0.20  # end RSS at most 20% above the RSS after the first minute, per worker
P99_RATIO_BOUND = 2.0  # last-minute p99 at most 2x the first-minute p99
DELIVERED_BOUND = 0.95  # at least 95% of the planned requests were sent
TRANSPORT_ERROR = -1


class Deadline(BaseException):
    """The whole run took longer than allowed (a BaseException: no ``except Exception`` eats it)."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Deadline


# --------------------------------------------------------------------------------------------- SQL


async def _sql(url: str, statements: Sequence[str], limit_s: float) -> list[list[Any]]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [await conn.fetch(s, timeout=limit_s) for s in statements]
    finally:
        await conn.close(timeout=10)


def sql(url: str, *statements: str, timeout: float = 300.0) -> list[list[Any]]:
    """Run statements one by one, outside any transaction (from synchronous code); return their rows."""
    return asyncio.run(_sql(url, statements, timeout))


# Creates the providers and their two clients in one process with the service's own admin
# functions (what ``providers create`` / ``clients create`` run; 120 CLI processes would take minutes).
_CREATE_CLIENTS = """
import asyncio, json, sys
from provider_products.auth import service
from provider_products.db.engine import Database

async def main(url, count, limit, checker_limit):
    database = Database(url)
    made = []
    try:
        for n in range(1, count + 1):
            slug = f"soak-p{n:03d}"
            async with database.transaction(write=True) as conn:
                await service.create_provider(conn, slug=slug, name=f"Soak provider {n}")
                clients = [
                    await service.create_client(
                        conn, provider_slug=slug, scopes=["arc:read", "arc:write"], rate_limit=rate
                    )
                    for rate in (limit, checker_limit)
                ]
            made.append({"slug": slug, "clients": [[c.client_id, c.client_secret] for c in clients]})
    finally:
        await database.dispose()
    print(json.dumps(made))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
"""


# ------------------------------------------------------------------------------------ measurement


class Sample(NamedTuple):
    """One request: when it was sent (seconds since the drive began), what, its answer and timings."""

    start: float
    kind: str
    status: int  # TRANSPORT_ERROR when no answer came
    latency: float  # seconds from sending to the whole answer read
    wait: float  # seconds from its planned time to sending (driver backlog)


_METRIC_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text: str) -> dict[str, Any]:
    """The figures of /metrics the soak follows: pool gauges, requests by status, 429s by endpoint."""
    found: dict[str, Any] = {
        "pool_in_use": 0.0,
        "pool_size": 0.0,
        "requests": {},
        "requests_by_route": {},
        "refusals": {},
    }
    for line in text.splitlines():
        match = _METRIC_LINE.match(line)
        if match is None:
            continue
        name, labels_text, value = match.group(1), match.group(2) or "", float(match.group(3))
        labels = dict(_LABEL.findall(labels_text))
        if name == "provider_products_db_connections_in_use":
            found["pool_in_use"] += value
        elif name == "provider_products_db_pool_size":
            found["pool_size"] += value
        elif name == "provider_products_requests_total":
            status = labels.get("status", "?")
            found["requests"][status] = found["requests"].get(status, 0) + int(value)
            route = f"{labels.get('method', '?')} {labels.get('route', '?')} {status}"
            found["requests_by_route"][route] = found["requests_by_route"].get(route, 0) + int(value)
        elif name == "provider_products_rate_limit_refusals_total":
            endpoint = labels.get("endpoint", "?")
            found["refusals"][endpoint] = found["refusals"].get(endpoint, 0) + int(value)
    return found


def _pct(values: Sequence[float], pct: float) -> float:
    return benchlib.percentile(values, pct)


def latency_summary(samples: Iterable[Sample]) -> dict[str, Any]:
    """p50/p95/p99/max in ms of the admitted requests (answered, not 429) and their count."""
    admitted = [s.latency * 1000 for s in samples if s.status > 0 and s.status != 429]
    return {
        "admitted": len(admitted),
        "p50_ms": _pct(admitted, 50),
        "p95_ms": _pct(admitted, 95),
        "p99_ms": _pct(admitted, 99),
        "max_ms": max(admitted) if admitted else math.nan,
    }


def status_counts(samples: Iterable[Sample]) -> dict[str, int]:
    """Requests by status (``error`` for transport errors), in status order."""
    counts = Counter("error" if s.status == TRANSPORT_ERROR else str(s.status) for s in samples)
    return dict(sorted(counts.items()))


# ------------------------------------------------------------------------------------------ driver


@dataclass
class ClientState:
    """One provider as the driver sees it: its two clients, tokens, and the codes it believes held."""

    slug: str
    driver: benchlib.Credentials
    checker: benchlib.Credentials
    rng: random.Random
    token: str = ""
    checker_token: str = ""
    registered: set[str] = field(default_factory=set)
    reserved: set[str] = field(default_factory=set)  # codes a request in flight is about
    ever_registered: set[str] = field(default_factory=set)

    def pick_held(self, count: int = 1) -> list[str]:
        """Reserve up to ``count`` held codes no request in flight is about."""
        free = list(self.registered - self.reserved)
        chosen = self.rng.sample(free, min(count, len(free)))
        self.reserved.update(chosen)
        return chosen

    def pick_fresh(self, active: Sequence[str], count: int = 1) -> list[str]:
        """Reserve up to ``count`` ACTIVE codes not held and not in flight."""
        chosen: list[str] = []
        for _ in range(count * 20):
            if len(chosen) == count:
                break
            code = active[self.rng.randrange(len(active))]
            if code not in self.registered and code not in self.reserved and code not in chosen:
                chosen.append(code)
        self.reserved.update(chosen)
        return chosen

    def release(self, codes: Iterable[str]) -> None:
        """End the reservation of codes."""
        self.reserved.difference_update(codes)


class Driver:
    """Open-loop load: per client Poisson arrivals, one bounded pool of requests in flight."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        clients: list[ClientState],
        active: list[str],
        inactive: list[str],
        args: argparse.Namespace,
        limit_per_minute: int,
    ) -> None:
        self.http = http
        self.clients = clients
        self.active = active
        self.inactive = inactive
        self.args = args
        self.rate = limit_per_minute * args.overload / 60.0  # requests per second per client
        self.semaphore = asyncio.Semaphore(args.concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.samples: list[Sample] = []
        self.errors: Counter[str] = Counter()
        self.error_examples: list[dict[str, Any]] = []
        self.disagreements: Counter[str] = Counter()
        self.disagreement_examples: list[dict[str, Any]] = []
        self.planned = 0
        self.dropped = 0
        self.replayed_ok = 0
        self.t0 = 0.0

    # ---- plumbing

    def note(self, kind: str, what: str, detail: Any) -> None:
        """Record an answer that contradicts what the driver knows (kept: the first 50 in full)."""
        self.disagreements[f"{kind}: {what}"] += 1
        if len(self.disagreement_examples) < 50:
            self.disagreement_examples.append(
                {"t": round(time.monotonic() - self.t0, 1), "kind": kind, "what": what, "detail": detail}
            )

    async def send(
        self,
        kind: str,
        method: str,
        path: str,
        scheduled: float,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response | None:
        """Send one request within the concurrency bound; record it; None on a transport error."""
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self.semaphore:
            sent = time.monotonic()
            try:
                response = await self.http.request(method, path, headers=all_headers, **kwargs)
            except httpx.HTTPError as exc:
                self.samples.append(
                    Sample(sent - self.t0, kind, TRANSPORT_ERROR, time.monotonic() - sent, sent - scheduled)
                )
                self.errors[f"{kind}: {type(exc).__name__}: {exc}"[:200]] += 1
                if len(self.error_examples) < 50:
                    self.error_examples.append(
                        {
                            "t": round(sent - self.t0, 2),
                            "kind": kind,
                            "path": path,
                            "after_s": round(time.monotonic() - sent, 3),
                            "error": repr(exc)[:300],
                            "in_flight": len(self.tasks),
                        }
                    )
                return None
            self.samples.append(
                Sample(sent - self.t0, kind, response.status_code, time.monotonic() - sent, sent - scheduled)
            )
        if response.status_code >= 500:
            self.note(kind, f"{response.status_code}", response.text[:300])
        return response

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run a request as its own task, kept until it ends; a driver bug is recorded, not lost."""
        task = asyncio.create_task(self._guarded(work))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:  # e.g. an answer that is not the JSON the contract promises
            self.note("driver", type(exc).__name__, repr(exc)[:300])

    # ---- the operations

    async def op_list(self, c: ClientState, at: float) -> None:
        pages = max(1, math.ceil(len(c.registered) / PAGE_SIZE))
        params = {"page": c.rng.randrange(pages), "size": PAGE_SIZE}
        r = await self.send("list", "GET", REGS, at, token=c.token, params=params)
        if r is not None and r.status_code not in (200, 429):
            self.note("list", str(r.status_code), r.text[:200])

    async def op_search(self, c: ClientState, at: float) -> None:
        path, query = SEARCHES[c.rng.randrange(len(SEARCHES))]
        r = await self.send("search", "GET", path, at, token=c.token, params={"query": query})
        if r is not None and r.status_code == 200 and r.json()["page"]["total_elements"] == 0:
            self.note("search", "no match", query)
        elif r is not None and r.status_code not in (200, 429):
            self.note("search", str(r.status_code), r.text[:200])

    async def op_get(self, c: ClientState, at: float) -> None:
        codes = c.pick_held()
        if not codes:
            await self.op_list(c, at)
            return
        try:
            r = await self.send("get", "GET", f"{REGS}/{codes[0]}", at, token=c.token)
            if r is not None and r.status_code not in (200, 429):
                self.note("get", f"{r.status_code} for a held code", codes[0])
        finally:
            c.release(codes)

    async def op_register(self, c: ClientState, at: float) -> None:
        codes = c.pick_fresh(self.active)
        if not codes:
            return
        code = codes[0]
        headers = {"Idempotency-Key": uuid.uuid4().hex} if c.rng.random() < 0.3 else {}
        try:
            r = await self.send(
                "register", "POST", REGS, at, token=c.token, json={"product_code": code}, headers=headers
            )
            if r is None or r.status_code == 429:
                return
            if r.status_code != 201:
                self.note("register", f"{r.status_code} for a fresh code", [code, r.text[:200]])
                return
            c.registered.add(code)
            c.ever_registered.add(code)
            if headers and c.rng.random() < 0.1:  # a client retrying: the same key replays the answer
                again = await self.send(
                    "replay",
                    "POST",
                    REGS,
                    time.monotonic(),
                    token=c.token,
                    json={"product_code": code},
                    headers=headers,
                )
                if again is None or again.status_code == 429:
                    return
                if again.status_code == 201 and again.headers.get("idempotent-replayed") == "true":
                    self.replayed_ok += 1
                else:
                    self.note(
                        "replay",
                        f"{again.status_code} replayed={again.headers.get('idempotent-replayed')}",
                        code,
                    )
        finally:
            c.release(codes)

    async def op_delete(self, c: ClientState, at: float) -> None:
        codes = c.pick_held()
        if not codes:
            return
        code = codes[0]
        try:
            r = await self.send("delete", "DELETE", f"{REGS}/{code}", at, token=c.token)
            if r is None or r.status_code == 429:
                return
            if r.status_code == 204:
                c.registered.discard(code)
            else:
                self.note("delete", f"{r.status_code} for a held code", code)
        finally:
            c.release(codes)

    async def op_batch(self, c: ClientState, at: float) -> None:
        fresh = c.pick_fresh(self.active, c.rng.randint(2, 5))
        held = c.pick_held() if c.rng.random() < 0.1 else []
        withdrawn = [self.inactive[c.rng.randrange(len(self.inactive))]] if c.rng.random() < 0.1 else []
        expected = {
            **dict.fromkeys(fresh, "registered"),
            **dict.fromkeys(held, "already_registered"),
            **dict.fromkeys(withdrawn, "not_in_catalogue"),
        }
        codes = list(expected)
        c.rng.shuffle(codes)
        headers = {"Idempotency-Key": uuid.uuid4().hex} if c.rng.random() < 0.3 else {}
        try:
            if not codes:
                return
            r = await self.send(
                "batch",
                "POST",
                f"{REGS}/batch",
                at,
                token=c.token,
                json={"product_codes": codes},
                headers=headers,
            )
            if r is None or r.status_code == 429:
                return
            if r.status_code != 200:
                self.note("batch", str(r.status_code), r.text[:200])
                return
            results = r.json()["results"]
            if [x["product_code"] for x in results] != codes:
                self.note("batch", "results out of order", [codes, results])
            for item in results:
                code, outcome = item["product_code"], item["outcome"]
                if outcome == "registered":
                    c.registered.add(code)
                    c.ever_registered.add(code)
                if expected.get(code) != outcome:
                    self.note("batch", f"{outcome} where {expected.get(code)} was expected", code)
        finally:
            c.release([*fresh, *held])

    async def op_history(self, c: ClientState, at: float) -> None:
        codes = c.pick_held()
        if not codes:
            await self.op_list(c, at)
            return
        try:
            r = await self.send("history", "GET", f"{REGS}/{codes[0]}/history", at, token=c.token)
            if r is None or r.status_code == 429:
                return
            if r.status_code != 200:
                self.note("history", f"{r.status_code} for a held code", codes[0])
            elif r.json()["periods"][-1]["removed_at"] is not None:
                self.note("history", "held code's last period closed", [codes[0], r.json()])
        finally:
            c.release(codes)

    async def op_validate(self, c: ClientState, at: float) -> None:
        held = c.pick_held(3)
        fresh = c.pick_fresh(self.active, 2)
        codes = [*held, *fresh]
        try:
            if not codes:
                return
            r = await self.send(
                "validate", "POST", f"{REGS}/validate", at, token=c.token, json={"product_codes": codes}
            )
            if r is None or r.status_code == 429:
                return
            if r.status_code != 200:
                self.note("validate", str(r.status_code), r.text[:200])
                return
            for item in r.json()["results"]:
                if item["registered"] != (item["product_code"] in held):
                    self.note("validate", f"registered={item['registered']}", item["product_code"])
        finally:
            c.release(codes)

    async def op_token(self, c: ClientState, at: float) -> None:
        r = await self.send(
            "token",
            "POST",
            TOKEN,
            at,
            auth=(c.driver.client_id, c.driver.client_secret),
            data={"grant_type": "client_credentials"},
        )
        if r is None:
            return
        if r.status_code == 200:
            c.token = r.json()["access_token"]
        else:
            self.note("token", str(r.status_code), r.text[:200])

    # ---- scheduling

    async def client_loop(self, c: ClientState, end: float) -> None:
        """Poisson arrivals at ``self.rate`` until ``end``; an operation drawn from MIX each time."""
        ops = {
            "list": self.op_list,
            "get": self.op_get,
            "search": self.op_search,
            "register": self.op_register,
            "delete": self.op_delete,
            "batch": self.op_batch,
            "history": self.op_history,
            "validate": self.op_validate,
        }
        names, weights = list(MIX), list(MIX.values())
        at = time.monotonic()
        while True:
            at += c.rng.expovariate(self.rate)
            if at >= end:
                return
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            self.planned += 1
            if len(self.tasks) >= self.args.max_pending:
                self.dropped += 1
                continue
            self.spawn(ops[c.rng.choices(names, weights)[0]](c, at))

    async def token_loop(self, c: ClientState, end: float) -> None:
        """A new token every ``--token-every`` seconds (+-20%), the first at a random offset."""
        at = time.monotonic() + c.rng.uniform(0, self.args.token_every)
        while at < end:
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            self.spawn(self.op_token(c, at))
            at += self.args.token_every * c.rng.uniform(0.8, 1.2)

    async def drain(self, limit_s: float) -> int:
        """Wait for the requests in flight (bounded); return how many were still running after it."""
        deadline = time.monotonic() + limit_s
        while self.tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self.tasks), timeout=max(0.1, deadline - time.monotonic()))
        left = len(self.tasks)
        for task in list(self.tasks):
            task.cancel()
        return left


# -------------------------------------------------------------------------------------- the run


def _tree_digest(root: Path) -> str:
    """SHA-256 over the relative paths and contents of every file under ``root`` (which src/ ran)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _rss_mib(pid: int) -> float:
    """VmRSS of a process in MiB, NaN once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def _machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / ticks, sum(fields[:8]) / ticks


def _cpu_pressure() -> float:
    """Share of the last 60 s in which some runnable task waited for a CPU (PSI), NaN if unavailable."""
    try:
        for line in Path("/proc/pressure/cpu").read_text().splitlines():
            if line.startswith("some"):
                return float(line.split()[2].split("=")[1]) / 100
    except (OSError, IndexError, ValueError):
        pass
    return math.nan


def _cpu_seconds(pids: Iterable[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


class Soak:
    """Everything one soak run needs; ``run()`` does it, ``cleanup()`` undoes it."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        base = args.pg_url.rstrip("/")
        self.admin_url = f"{base}/postgres"
        self.url = f"{base}/{args.database}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PROVIDER_PRODUCTS_")}
        self.env.update(
            {
                "PROVIDER_PRODUCTS_DATABASE_URL": self.url,
                "PROVIDER_PRODUCTS_REDIS_URL": args.redis_url,
                "PROVIDER_PRODUCTS_JWT_SECRET": secrets.token_urlsafe(48),
                "PROVIDER_PRODUCTS_ENVIRONMENT": "production",
                "PROVIDER_PRODUCTS_SEED_SANDBOX": "false",
                "PROVIDER_PRODUCTS_LOG_REQUESTS": "false",
                "PROVIDER_PRODUCTS_RATE_LIMIT": args.rate_limit,
            }
        )
        self.data: dict[str, Any] = {"build": {}, "minutes": [], "checks": []}
        if args.snapshot_src:
            source = benchlib.BENCH_DIR.parent / "src"
            shutil.copytree(source, work / "src", ignore=shutil.ignore_patterns("__pycache__"))
            self.env["PYTHONPATH"] = str(work / "src")
            self.data["src_sha256"] = _tree_digest(work / "src")
        self.server: benchlib.Server | None = None
        self.database_created = False
        self.clients: list[ClientState] = []
        self.active: list[str] = []
        self.inactive: list[str] = []
        self.t_start = time.monotonic()
        self.rss_series: list[tuple[float, dict[int, float]]] = []  # (seconds from minute 1, pid -> MiB)

    def log(self, message: str) -> None:
        """Progress on stderr, with the elapsed time."""
        print(f"[{time.monotonic() - self.t_start:6.0f} s] {message}", file=sys.stderr, flush=True)

    def cli(self, *args: str, timeout: float = 300) -> str:
        """Run the admin CLI against the soak database."""
        return benchlib.run_cli(list(args), self.env, timeout=timeout)

    # ---- build

    def prepare(self) -> None:
        """Database, schema, catalogue, providers and clients."""
        args, build = self.args, self.data["build"]
        sql(self.admin_url, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        sql(self.admin_url, f'CREATE DATABASE "{args.database}"')
        self.database_created = True
        redis.Redis.from_url(args.redis_url, socket_timeout=5).flushdb()
        self.cli("db", "upgrade", timeout=120)
        catalogue = self.work / "catalogue.jsonl"
        build["catalogue_sha256"] = gen_catalogue.write(catalogue, args.catalogue_size, args.seed)
        for row in gen_catalogue.rows(args.catalogue_size, args.seed):
            (self.active if row["status"] == "ACTIVE" else self.inactive).append(row["product_code"])
        started = time.monotonic()
        build["import_output"] = self.cli("catalogue", "import", str(catalogue), timeout=900).strip()
        build["import_s"] = time.monotonic() - started
        self.log(f"catalogue imported in {build['import_s']:.0f} s: {build['import_output']}")
        started = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _CREATE_CLIENTS,
                self.url,
                str(args.providers),
                args.rate_limit,
                CHECKER_LIMIT,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"creating providers and clients failed:\n{done.stderr[-3000:]}")
        rng = random.Random(args.seed)
        for item in json.loads(done.stdout.strip().splitlines()[-1]):
            (d_id, d_secret), (c_id, c_secret) = item["clients"]
            self.clients.append(
                ClientState(
                    slug=item["slug"],
                    driver=benchlib.Credentials(item["slug"], d_id, d_secret),
                    checker=benchlib.Credentials(item["slug"], c_id, c_secret),
                    rng=random.Random(rng.random()),
                )
            )
        build["clients_s"] = time.monotonic() - started
        self.log(
            f"{len(self.clients)} providers with a driver and a checker client ({build['clients_s']:.0f} s)"
        )

    def start_server(self) -> benchlib.Server:
        """``serve --workers N``; wait until every worker answers searches from a built index."""
        server = benchlib.Server(
            self.env,
            self.work / "server.log",
            ready_timeout=120,
            extra_args=["--workers", str(self.args.workers)],
        )
        self.server = server
        server.start()
        for c in self.clients:
            c.token = benchlib.get_token(server.base_url, c.driver)
            c.checker_token = benchlib.get_token(server.base_url, c.checker)
        headers = {"Authorization": f"Bearer {self.clients[0].checker_token}"}
        deadline = time.monotonic() + 180
        while True:  # fresh connections land on any worker: until no search waits for an index
            slowest = 0.0
            for _ in range(4 * self.args.workers):
                with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as fresh:
                    t = time.monotonic()
                    fresh.get(PRODUCTS, params={"query": SEARCHES[5][1]}).raise_for_status()
                    slowest = max(slowest, time.monotonic() - t)
            if slowest < 0.25:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the search index was not built on every worker within 180 s")
            time.sleep(0.5)
        self.data["build"]["ready_s"] = server.ready_at - server.spawned_at
        self.data["build"]["warm_s"] = time.monotonic() - self.t_start
        return server

    def seed(self, server: benchlib.Server) -> None:
        """``--initial`` registrations per provider, by the checker client through the batch endpoint."""
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            for c in self.clients:
                codes = c.rng.sample(self.active, self.args.initial)
                r = http.post(
                    f"{REGS}/batch",
                    json={"product_codes": codes},
                    headers={"Authorization": f"Bearer {c.checker_token}"},
                )
                r.raise_for_status()
                body = r.json()
                if body["counts"].get("registered") != len(codes):
                    raise RuntimeError(f"seeding {c.slug}: {body['counts']}")
                c.registered.update(codes)
                c.ever_registered.update(codes)

    # ---- drive

    async def sample(self, server: benchlib.Server, minute: int, driver: Driver | None) -> dict[str, Any]:
        """What the server looks like now: worker RSS, CPU, /metrics pool gauges, PostgreSQL sessions."""
        scrapes = []
        for _ in range(2 * self.args.workers):  # fresh connections: each may reach another worker
            try:
                async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as fresh:
                    scrapes.append(parse_metrics((await fresh.get("/metrics")).text))
            except httpx.HTTPError as exc:
                scrapes.append({"error": f"{type(exc).__name__}: {exc}"})
        good = [s for s in scrapes if "error" not in s]
        pg_info = await self._pg_info()
        redis_info = await asyncio.to_thread(self._redis_info)
        pids = sorted(server.worker_pids())
        return {
            "minute": minute,
            "t": time.monotonic() - driver.t0 if driver else 0.0,
            "mono": time.monotonic(),
            "worker_pids": pids,
            "worker_rss_mib": [_rss_mib(pid) for pid in pids],
            "supervisor_rss_mib": server.rss_mib(),
            "server_cpu_s": _cpu_seconds(server.pids()),
            "driver_cpu_s": time.process_time(),
            "machine_cpu_s": _machine_cpu(),
            "cpu_pressure_60s": _cpu_pressure(),
            "loadavg": list(os.getloadavg()),
            "pool_in_use": [s["pool_in_use"] for s in good],
            "pool_size": [s["pool_size"] for s in good],
            "metrics_requests": good[-1]["requests"] if good else {},
            "metrics_by_route": good[-1]["requests_by_route"] if good else {},
            "metrics_refusals": good[-1]["refusals"] if good else {},
            "metrics_errors": [s["error"] for s in scrapes if "error" in s],
            **pg_info,
            **redis_info,
            "registrations_held": sum(len(c.registered) for c in self.clients),
        }

    async def _pg_info(self) -> dict[str, Any]:
        """Sessions on the soak database by state, and when PostgreSQL started (a restart shows)."""
        try:
            conn = await asyncpg.connect(self.url, timeout=10)
            try:
                rows = await conn.fetch(
                    "SELECT state, count(*) AS n FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid() GROUP BY state",
                    self.args.database,
                    timeout=10,
                )
                started = await conn.fetchval("SELECT pg_postmaster_start_time()::text", timeout=10)
                opened = await conn.fetchval(
                    "SELECT sessions FROM pg_stat_database WHERE datname = $1", self.args.database, timeout=10
                )
            finally:
                await conn.close(timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            return {"pg_sessions": {}, "pg_started": None, "pg_error": f"{type(exc).__name__}: {exc}"}
        return {
            "pg_sessions": {str(r["state"]): int(r["n"]) for r in rows},
            "pg_started": str(started),
            "pg_sessions_opened_total": int(opened or 0),  # PostgreSQL 14+; counts the sampler's own too
        }

    def _redis_info(self) -> dict[str, Any]:
        """Keys and memory of the soak's Redis database, and Redis's run id (a restart changes it)."""
        client = redis.Redis.from_url(self.args.redis_url, socket_timeout=5)
        try:
            server = client.info("server")
            return {
                "redis_keys": int(client.dbsize()),
                "redis_used_memory_mib": int(client.info("memory")["used_memory"]) / 2**20,
                "redis_run_id": str(server["run_id"]),
            }
        except (redis.RedisError, OSError) as exc:
            return {"redis_keys": None, "redis_run_id": None, "redis_error": f"{type(exc).__name__}: {exc}"}
        finally:
            client.close()

    async def rss_loop(self, server: benchlib.Server, driver: Driver, end: float) -> None:
        """Worker RSS every ``--rss-every`` seconds: one reading can catch a transient allocation (an
        argon2 verification holds 64 MiB for its duration), so minutes are compared by their median."""
        while time.monotonic() < end:
            pids = server.worker_pids()
            self.rss_series.append((time.monotonic() - driver.t0, {pid: _rss_mib(pid) for pid in pids}))
            await asyncio.sleep(self.args.rss_every)

    async def drive(self, server: benchlib.Server) -> Driver:
        """The soak itself: ``--minutes`` of load, a sample at every minute, then the drain."""
        args = self.args
        limit = int(args.rate_limit.split("/")[0])
        # Idle connections are dropped after 4 s, before uvicorn's 5 s keep-alive timeout closes them
        # (with httpx's default of 5 s, a request can go out on a connection the server is closing).
        limits = httpx.Limits(
            max_connections=args.concurrency, max_keepalive_connections=args.concurrency, keepalive_expiry=4.0
        )
        async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=args.timeout) as http:
            driver = Driver(http, self.clients, self.active, self.inactive, args, limit)
            self.data["start_sample"] = await self.sample(server, -1, None)
            # Minute 1 starts after --warmup seconds of the same load: pools filled, windows full.
            driver.t0 = time.monotonic() + args.warmup
            end = driver.t0 + args.minutes * args.period
            loops = [asyncio.create_task(driver.client_loop(c, end)) for c in self.clients]
            loops += [asyncio.create_task(driver.token_loop(c, end)) for c in self.clients]
            loops.append(asyncio.create_task(self.rss_loop(server, driver, end)))
            try:
                await asyncio.sleep(max(0.0, driver.t0 - time.monotonic()))
                self.data["minutes_raw"] = [await self.sample(server, 0, driver)]
                for minute in range(1, args.minutes + 1):
                    await asyncio.sleep(max(0.0, driver.t0 + minute * args.period - time.monotonic()))
                    snap = await self.sample(server, minute, driver)
                    self.data["minutes_raw"].append(snap)
                    done = [s for s in driver.samples if _minute_of(s, args.minutes, args.period) == minute]
                    lat = latency_summary(done)
                    self.log(
                        f"minute {minute}: {len(done):,} requests {status_counts(done)}; p50/p95/p99 "
                        f"{lat['p50_ms']:.1f}/{lat['p95_ms']:.1f}/{lat['p99_ms']:.1f} ms; worker RSS "
                        f"{', '.join(f'{v:.0f}' for v in snap['worker_rss_mib'])} MiB; pool "
                        f"{snap['pool_in_use']}/{snap['pool_size']}; pg {snap['pg_sessions']}; "
                        f"in flight {len(driver.tasks)}; load {snap['loadavg'][0]:.1f}"
                    )
                await asyncio.gather(*loops)
            finally:
                for task in loops:
                    task.cancel()
                self.data["left_in_flight"] = await driver.drain(max(30.0, args.timeout + 5))
            self.data["final_sample"] = await self.sample(server, args.minutes + 1, driver)
        self.data["drive_s"] = time.monotonic() - driver.t0
        return driver

    # ---- verify

    def verify(self, server: benchlib.Server) -> dict[str, Any]:
        """Read every sampled provider's list back (checker client) and the counts of every provider (SQL)."""
        sample = self.clients[: self.args.verify_providers] if self.args.verify_providers else self.clients
        missing: dict[str, list[str]] = {}
        unexpected: dict[str, list[str]] = {}
        listed_total = 0
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            for c in sample:
                headers = {"Authorization": f"Bearer {c.checker_token}"}
                listed: set[str] = set()
                page, pages = 0, 1
                while page < pages:
                    r = http.get(REGS, params={"page": page, "size": 200}, headers=headers)
                    r.raise_for_status()
                    body = r.json()
                    listed.update(item["product_code"] for item in body["content"])
                    pages = body["page"]["total_pages"]
                    page += 1
                listed_total += len(listed)
                if c.registered - listed:
                    missing[c.slug] = sorted(c.registered - listed)
                if listed - c.registered:
                    unexpected[c.slug] = sorted(listed - c.registered)
        rows = sql(
            self.url,
            "SELECT p.slug, count(pp.id) AS held FROM provider p LEFT JOIN provider_product pp"
            " ON pp.provider_id = p.id AND pp.removed_at IS NULL GROUP BY p.slug",
        )[0]
        held = {str(r["slug"]): int(r["held"]) for r in rows}
        count_mismatch = {
            c.slug: {"driver": len(c.registered), "database": held.get(c.slug, 0)}
            for c in self.clients
            if len(c.registered) != held.get(c.slug, 0)
        }
        periods = sql(
            self.url,
            "SELECT count(*) AS all_periods, count(*) FILTER (WHERE removed_at IS NOT NULL) AS closed"
            " FROM provider_product",
        )[0][0]
        return {
            "providers_listed": len(sample),
            "registrations_listed": listed_total,
            "registrations_believed": sum(len(c.registered) for c in sample),
            "missing": missing,
            "unexpected": unexpected,
            "count_mismatch_sql_all_providers": count_mismatch,
            "periods_total": int(periods["all_periods"]),
            "periods_closed": int(periods["closed"]),
        }

    # ---- whole run

    def run(self) -> None:
        """Build, start, seed, drive, verify, check."""
        self.prepare()
        server = self.start_server()
        self.log(
            f"server ready ({self.args.workers} workers); seeding {self.args.initial} registrations each"
        )
        self.seed(server)
        self.log(f"driving {len(self.clients)} clients for {self.args.minutes} min")
        try:  # uvloop (uvicorn's loop, installed with it) costs the driver a little less CPU per request
            import uvloop

            loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
        except ImportError:
            loop_factory = None
        self.data["driver_loop"] = "asyncio" if loop_factory is None else "uvloop"
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            driver = runner.run(self.drive(server))
        self.log("verifying registrations")
        self.data["verify"] = self.verify(server)
        self.data["server_log_tail"] = server.log_tail(40)
        log_text = server.log_path.read_text(errors="replace")
        self.data["server_log"] = {
            "lines": log_text.count("\n"),
            "tracebacks": log_text.count("Traceback"),
            "errors": sum(1 for line in log_text.splitlines() if '"level": "error"' in line),
            "warnings": sum(1 for line in log_text.splitlines() if '"level": "warning"' in line),
        }
        self.summarise(driver)

    def summarise(self, driver: Driver) -> None:
        """Per-minute rows, per-kind totals and the checks."""
        args, raw = self.args, self.data["minutes_raw"]
        samples = driver.samples
        by_minute: dict[int, list[Sample]] = {}
        for sample in samples:
            by_minute.setdefault(_minute_of(sample, args.minutes, args.period), []).append(sample)
        rows = [self.data["start_sample"], *raw]
        minutes = [
            _minute_row(m, by_minute.get(m, []), rows[m + 1], rows[m]) for m in range(args.minutes + 1)
        ]
        for row in minutes:
            lo = -math.inf if row["minute"] == 0 else (row["minute"] - 1) * args.period
            hi = 0.0 if row["minute"] == 0 else row["minute"] * args.period
            readings = [r for t, r in self.rss_series if lo <= t < hi]
            row["rss_readings"] = len(readings)
            row["worker_rss_median_mib"] = [
                benchlib.median([r[pid] for r in readings if pid in r]) for pid in row["worker_pids"]
            ]
            row["worker_rss_max_mib"] = [
                max((r[pid] for r in readings if pid in r), default=math.nan) for pid in row["worker_pids"]
            ]
        self.data["warmup_row"] = minutes.pop(0)
        self.data["minutes"] = minutes
        step = max(1.0, args.period / 6)
        buckets: dict[int, list[Sample]] = {}
        for sample in samples:
            buckets.setdefault(int(sample.start // step), []).append(sample)
        self.data["timeline"] = {
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
        self.data["sent_after_end"] = sum(1 for s in samples if s.start >= args.minutes * args.period)
        self.data["totals"] = {
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
        self.data["server_metrics_delta"] = _metrics_delta(
            self.data["start_sample"], self.data["final_sample"]
        )
        self.data["checks"] = self.checks(driver)

    def checks(self, driver: Driver) -> list[dict[str, Any]]:
        """The pass/fail checks, each with its bound and what was measured."""
        totals, minutes, verify = self.data["totals"], self.data["minutes"], self.data["verify"]
        statuses = totals["statuses"]
        five = {k: v for k, v in statuses.items() if k.startswith("5")}
        errors = statuses.get("error", 0)
        result = [
            _check("no 5xx answer", "0", f"{sum(five.values())} {five or ''}".strip(), not five),
            _check(
                "no transport error (timeout, reset, refused)",
                "0",
                f"{errors}",
                errors == 0 and self.data.get("left_in_flight", 0) == 0,
            ),
        ]
        first, last = minutes[0], minutes[-1]
        growths = []
        ok = True
        pairs = zip(first["worker_rss_median_mib"], last["worker_rss_median_mib"], strict=False)
        for n, (a, b) in enumerate(pairs):
            growth = (b - a) / a if a else math.inf
            slope = _slope(
                [m["worker_rss_median_mib"][n] for m in minutes if len(m["worker_rss_median_mib"]) > n]
            )
            growths.append(
                f"worker {n + 1}: {a:.1f} → {b:.1f} MiB ({growth:+.1%}; slope {slope:+.2f} MiB/min)"
            )
            ok = ok and growth <= MEMORY_GROWTH_BOUND
        same_workers = first["worker_pids"] == last["worker_pids"] and all(
            m["worker_pids"] == first["worker_pids"] for m in minutes
        )
        result.append(
            _check(
                "worker RSS growth, median of the last minute vs median of minute 1",
                f"≤ {MEMORY_GROWTH_BOUND:.0%} per worker, no worker restarted",
                "; ".join(growths) + ("" if same_workers else "; WORKER PIDS CHANGED"),
                ok and same_workers and len(growths) == self.args.workers,
            )
        )
        p_first, p_last = first["latency"]["p99_ms"], last["latency"]["p99_ms"]
        result.append(
            _check(
                "p99 stability (admitted requests), last minute vs minute 1",
                f"≤ {P99_RATIO_BOUND:g}x",
                f"{p_first:.1f} → {p_last:.1f} ms ({p_last / p_first:.2f}x)",
                p_last <= P99_RATIO_BOUND * p_first,
            )
        )
        missing = sum(len(v) for v in verify["missing"].values())
        unexpected = sum(len(v) for v in verify["unexpected"].values())
        believed, listed = verify["registrations_believed"], verify["registrations_listed"]
        mismatched = len(verify["count_mismatch_sql_all_providers"])
        result.append(
            _check(
                "registrations held = registrations listed",
                "0 missing, 0 unexpected",
                f"{verify['providers_listed']} providers listed: {believed:,} believed, {listed:,} listed, "
                f"{missing} missing, {unexpected} unexpected; SQL counts differ for {mismatched} of "
                f"{len(self.clients)} providers",
                missing == 0 and unexpected == 0 and not verify["count_mismatch_sql_all_providers"],
            )
        )
        n_dis = sum(totals["disagreements"].values())
        result.append(
            _check(
                "every answer agrees with the driver's state (404/409 on held/fresh codes, batch outcomes, "
                "validate, history, replays)",
                "0",
                f"{n_dis} {totals['disagreements'] or ''}".strip(),
                n_dis == 0,
            )
        )
        log = self.data["server_log"]
        result.append(
            _check(
                "server log",
                "no Traceback, no error line",
                f"{log['tracebacks']} tracebacks, {log['errors']} errors, {log['warnings']} warnings",
                log["tracebacks"] == 0 and log["errors"] == 0,
            )
        )
        delivered = (totals["planned"] - totals["dropped"]) / max(1, self.expected_planned())
        result.append(
            _check(
                "offered load delivered (requests sent / planned at the nominal rate)",
                f"≥ {DELIVERED_BOUND:.0%}, none dropped",
                f"{delivered:.1%}; {totals['dropped']} dropped by the backlog bound",
                delivered >= DELIVERED_BOUND and totals["dropped"] == 0,
            )
        )
        raw = self.data["minutes_raw"]
        pg_starts = sorted({str(m.get("pg_started")) for m in raw})
        redis_runs = sorted({str(m.get("redis_run_id")) for m in raw})
        store_errors = [
            m.get("pg_error") or m.get("redis_error") for m in raw if "pg_error" in m or "redis_error" in m
        ]
        result.append(
            _check(
                "PostgreSQL and Redis ran throughout (nobody restarted them under the soak)",
                "one start time, one run id, no sampling error",
                f"PostgreSQL started {', '.join(pg_starts)}; Redis run ids {len(redis_runs)}; "
                f"sampling errors {store_errors or 0}",
                len(pg_starts) == 1 and len(redis_runs) == 1 and not store_errors,
            )
        )
        server_counts = Counter[str]()
        for route, n in self.data["server_metrics_delta"]["requests_by_route"].items():
            if not route.startswith("GET /metrics "):  # the sampler's scrapes
                server_counts[route.rsplit(" ", 1)[1]] += n
        driver_counts = {k: v for k, v in statuses.items() if k != "error"}
        result.append(
            _check(
                "the server counted (/metrics) what the driver got, status by status",
                "equal",
                f"server {dict(sorted(server_counts.items()))}; driver {driver_counts}",
                dict(server_counts) == driver_counts,
            )
        )
        refused = statuses.get("429", 0)
        result.append(
            _check(
                "clients were near their limits (some 429s)",
                "> 0",
                f"{refused:,} ({refused / max(1, totals['requests']):.1%} of requests)",
                refused > 0,
            )
        )
        return result

    def expected_planned(self) -> float:
        """API requests the nominal rate plans over the drive."""
        limit = int(self.args.rate_limit.split("/")[0])
        seconds = self.args.minutes * self.args.period + self.args.warmup
        return float(len(self.clients) * limit * self.args.overload * seconds / 60)

    def cleanup(self) -> None:
        """Stop the server; drop the database and flush the Redis database unless --keep-db."""
        if self.server is not None:
            self.server.stop()
        if self.args.keep_db:
            print(f"kept database {self.args.database}", file=sys.stderr)
            return
        with contextlib.suppress(Exception):
            redis.Redis.from_url(self.args.redis_url, socket_timeout=5).flushdb()
        if self.database_created:
            try:
                sql(self.admin_url, f'DROP DATABASE IF EXISTS "{self.args.database}" WITH (FORCE)')
            except Exception as exc:  # report, do not mask the original error
                print(f"could not drop database {self.args.database}: {exc}", file=sys.stderr)


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
        "wait_p99_ms": _pct([s.wait * 1000 for s in done], 99),
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


def _slope(values: Sequence[float]) -> float:
    """Least-squares slope of values taken one per minute (NaN for fewer than two)."""
    n = len(values)
    if n < 2:
        return math.nan
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(values))
    return num / sum((x - mean_x) ** 2 for x in range(n))


def _minute_of(sample: Sample, minutes: int, period: float) -> int:
    """The 1-based minute a request was sent in, 0 for the warm-up; the few sent after the end count
    in the last one."""
    if sample.start < 0:
        return 0
    return min(int(sample.start // period), minutes - 1) + 1


def _check(name: str, bound: str, measured: str, passed: bool) -> dict[str, Any]:
    return {"check": name, "bound": bound, "measured": measured, "passed": bool(passed)}


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


# ------------------------------------------------------------------------------------------ report


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
            benchlib.md_table(
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
            benchlib.md_table(["kind", "requests", "statuses", "admitted p50 / p95 / p99 / max ms"], rows),
            f"\nPlanned API requests {totals['planned']:,} (nominal "
            f"{data.get('expected_planned', 0):,.0f}); dropped by the backlog bound {totals['dropped']}; "
            f"idempotent replays answered 201 + `Idempotent-Replayed: true`: {totals['replayed_ok']}. "
            f"Server's own count during the drive (/metrics): {data.get('server_metrics_delta')}.\n",
        ]
    verify = data.get("verify")
    if verify:
        lines.append(
            f"\nVerification: {verify['providers_listed']} providers' lists read back in full "
            f"({verify['registrations_listed']:,} registrations listed, {verify['registrations_believed']:,} "
            f"believed); registration periods in the table {verify['periods_total']:,} "
            f"({verify['periods_closed']:,} closed by deletes).\n"
        )
    checks = data.get("checks", [])
    if checks:
        lines += [
            "\n## Checks\n",
            benchlib.md_table(
                ["check", "bound", "measured", "result"],
                [
                    [c["check"], c["bound"], c["measured"], "pass" if c["passed"] else "**FAIL**"]
                    for c in checks
                ],
            ),
        ]
    lines.append(
        f"\nMachine: {m['cpus']} CPUs ({m['cpu']}), load average at start {m['loadavg_at_start'][0]:.2f}; "
        "driver, server, PostgreSQL and Redis share it. "
        + (f"Served src/ copy sha256 {data['src_sha256'][:16]}. " if data.get("src_sha256") else "")
        + "Whole run "
        f"{data.get('elapsed_s', 0) / 60:.1f} min.\n"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run within the deadline, report, clean up."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="minutes of load (default 10)")
    parser.add_argument(
        "--period",
        type=float,
        default=60.0,
        help="seconds per 'minute' (default 60; smaller for smoke tests)",
    )
    parser.add_argument(
        "--pg-url", default="postgresql://postgres@127.0.0.1:5432", help="server, no database"
    )
    parser.add_argument("--database", default="pp_bench_soak", help="database to create and drop")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/4", help="Redis database (flushed)")
    parser.add_argument("--catalogue-size", type=int, default=25_000)
    parser.add_argument("--providers", type=int, default=40)
    parser.add_argument("--rate-limit", default="150/minute", help="each driver client's limit (N/minute)")
    parser.add_argument("--overload", type=float, default=1.1, help="offered rate / limit (default 1.1)")
    parser.add_argument("--initial", type=int, default=200, help="registrations seeded per provider")
    parser.add_argument("--workers", type=int, default=2, help="serve --workers (default 2)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most (32)")
    parser.add_argument("--max-pending", type=int, default=2000, help="backlog bound; beyond it, drop")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, seconds")
    parser.add_argument(
        "--warmup", type=float, default=30.0, help="seconds of load before minute 1, reported apart (30)"
    )
    parser.add_argument("--rss-every", type=float, default=2.0, help="seconds between RSS readings (2)")
    parser.add_argument("--token-every", type=float, default=120.0, help="seconds between new tokens")
    parser.add_argument("--verify-providers", type=int, default=0, help="providers to list back (0 = all)")
    parser.add_argument("--setup-minutes", type=float, default=8, help="hard stop = --minutes + this")
    parser.add_argument("--seed", type=int, default=gen_catalogue.DEFAULT_SEED)
    parser.add_argument(
        "--live-src", dest="snapshot_src", action="store_false", help="serve the live src/ tree, not a copy"
    )
    parser.add_argument("--keep-db", action="store_true", help="keep the database and Redis DB afterwards")
    parser.add_argument("--out-dir", type=Path, default=benchlib.OUT_DIR, help="where results go (bench/out)")
    args = parser.parse_args(argv)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        parser.error("--database must be lower-case letters, digits and underscores")
    if not re.fullmatch(r"\d+/minute", args.rate_limit):
        parser.error("--rate-limit must be N/minute")
    if args.minutes < 1 or args.providers < 1 or args.period <= 0:
        parser.error("--minutes, --period and --providers must be positive")
    benchlib.exit_cleanly_on_sigterm()
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(args.minutes * args.period + args.warmup + args.setup_minutes * 60))
    machine = benchlib.machine_info()
    work = Path(tempfile.mkdtemp(prefix="pp-bench-soak-"))
    soak = Soak(args, work)
    status = 0
    try:
        soak.run()
    except Deadline:
        print("stopped: the run exceeded --minutes + --setup-minutes", file=sys.stderr)
        soak.data["error"] = "stopped by the deadline"
        status = 3
    except Exception as exc:  # report what was measured before the failure, then fail
        traceback.print_exc()
        soak.data["error"] = f"{type(exc).__name__}: {exc}"
        if soak.server is not None:
            soak.data["server_log_tail"] = soak.server.log_tail(40)
        status = 2
    finally:
        signal.alarm(0)
        soak.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    data = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine,
        "elapsed_s": time.monotonic() - soak.t_start,
        "expected_planned": soak.expected_planned(),
        **soak.data,
    }
    failed = [c["check"] for c in data["checks"] if not c["passed"]]
    if status == 0 and failed:
        status = 1
    stem = "soak" if "error" not in data else "soak-partial"
    json_path, md_path = benchlib.write_results(stem, data, render(data), args.out_dir)
    print(render(data))
    print(f"results: {json_path} and {md_path}", file=sys.stderr)
    if failed:
        print(f"FAILED checks: {'; '.join(failed)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
