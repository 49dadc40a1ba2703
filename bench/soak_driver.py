"""The soak's load: open-loop clients with Poisson arrivals, the state each provider is believed to be in.

Every answer is checked against that state (a code reserved while a request about it is in flight
has one right status); contradictions and transport errors are recorded, not raised.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import time
import uuid
from collections import Counter
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx

from harness.admin import Credentials
from harness.stats import percentile

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
TRANSPORT_ERROR = -1


class Sample(NamedTuple):
    """One request: when it was sent (seconds since the drive began), what, its answer and timings."""

    start: float
    kind: str
    status: int  # TRANSPORT_ERROR when no answer came
    latency: float  # seconds from sending to the whole answer read
    wait: float  # seconds from its planned time to sending (driver backlog)


def latency_summary(samples: Iterable[Sample]) -> dict[str, Any]:
    """p50/p95/p99/max in ms of the admitted requests (answered, not 429) and their count."""
    admitted = [s.latency * 1000 for s in samples if s.status > 0 and s.status != 429]
    return {
        "admitted": len(admitted),
        "p50_ms": percentile(admitted, 50),
        "p95_ms": percentile(admitted, 95),
        "p99_ms": percentile(admitted, 99),
        "max_ms": max(admitted) if admitted else math.nan,
    }


def status_counts(samples: Iterable[Sample]) -> dict[str, int]:
    """Requests by status (``error`` for transport errors), in status order."""
    counts = Counter("error" if s.status == TRANSPORT_ERROR else str(s.status) for s in samples)
    return dict(sorted(counts.items()))


@dataclass
class ClientState:
    """One provider as the driver sees it: its two clients, tokens, and the codes it believes held."""

    slug: str
    driver: Credentials
    checker: Credentials
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
