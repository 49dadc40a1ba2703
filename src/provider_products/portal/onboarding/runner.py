"""Registration runs of onboarding jobs: one transaction per batch, in the background of the process.

An entry point like a route: it owns the transactions (``service`` never opens one). A run is
started by ``Registrations.start``, which takes the job's lease and hands the batches to a task of
the process, so a closed browser does not stop it; the page polls the job's progress. A run cut
short (the process died, the database went away) leaves its rows settled up to the last committed
batch, and the next start (once the lease has lapsed, or at once after a failure this process saw)
resumes from the first unsettled row.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from provider_products.db.engine import Database
from provider_products.portal.onboarding import service
from provider_products.portal.onboarding.schemas import BatchStep

logger = logging.getLogger("provider_products.portal.onboarding")


async def run_registration(
    database: Database, *, provider_id: int, job_id: str, token: str, batch_size: int = service.BATCH_SIZE
) -> BatchStep:
    """Register a job's accepted rows batch by batch until none is left (or the lease is lost)."""
    processed = 0
    try:
        while True:
            async with database.transaction(write=True) as conn:
                step = await service.register_next_batch(
                    conn, provider_id=provider_id, job_id=job_id, token=token, size=batch_size
                )
            processed += step.processed
            if step.finished or step.lost:
                return BatchStep(processed, finished=step.finished, lost=step.lost)
            await asyncio.sleep(0)  # let the requests waiting on the loop (and the write lock) go first
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("registration of onboarding job %s stopped", job_id)
        try:
            async with database.transaction(write=True) as conn:
                await service.release_registration(conn, provider_id=provider_id, job_id=job_id, token=token)
        except Exception:  # the lease lapses by itself
            logger.warning("could not release the lease of onboarding job %s", job_id, exc_info=True)
        raise


class Registrations:
    """The registration runs of this process: started on request, cancelled at shutdown."""

    def __init__(self, database: Database, *, batch_size: int = service.BATCH_SIZE) -> None:
        self._database = database
        self._batch_size = batch_size
        self._tasks: set[asyncio.Task[BatchStep]] = set()

    async def start(self, *, provider_id: int, job_id: str, rerun: bool = False) -> bool:
        """Start registering a job in the background; False when a run already holds it."""
        token = secrets.token_hex(16)
        async with self._database.transaction(write=True) as conn:
            claimed = await service.start_registration(
                conn, provider_id=provider_id, job_id=job_id, token=token, rerun=rerun
            )
        if not claimed:
            return False
        task = asyncio.create_task(
            run_registration(
                self._database,
                provider_id=provider_id,
                job_id=job_id,
                token=token,
                batch_size=self._batch_size,
            ),
            name=f"onboarding-{job_id}",
        )
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return True

    def _forget(self, task: asyncio.Task[BatchStep]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here, so asyncio does not warn; run_registration logged it

    async def wait(self) -> None:
        """Wait for every run of this process to end (tests; a graceful shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the runs still going (their leases lapse; the next start resumes them)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self._tasks.clear()
