"""A benchmark process's own life: clean exits on signals, a hard deadline, a temporary directory."""

from __future__ import annotations

import contextlib
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any


def _raise_system_exit(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit so that ``finally`` blocks stop the server."""
    signal.signal(signal.SIGTERM, _raise_system_exit)
    signal.signal(signal.SIGHUP, _raise_system_exit)


class Deadline(BaseException):
    """The whole run took longer than allowed (a BaseException: no ``except Exception`` eats it)."""


def _alarm(_signum: int, _frame: FrameType | None) -> None:
    raise Deadline


def run_bounded(
    body: Callable[[], None],
    data: dict[str, Any],
    *,
    seconds: float,
    stopped: str,
    error: str,
    failure_status: int,
    cleanup: Callable[[], None],
) -> int:
    """Run ``body`` with a hard deadline; on a failure keep what was measured and record the error.

    Returns 0, ``failure_status`` when ``body`` raised, or 3 when the deadline stopped it (then
    ``stopped`` is printed and ``error`` recorded as ``data["error"]``). ``cleanup`` always runs.
    """
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(int(seconds))
    try:
        body()
    except Deadline:
        print(f"stopped: {stopped}", file=sys.stderr)
        data["error"] = error
        return 3
    except Exception as exc:  # report what was measured before the failure, then fail
        traceback.print_exc()
        data["error"] = f"{type(exc).__name__}: {exc}"
        return failure_status
    finally:
        signal.alarm(0)
        cleanup()
    return 0


@contextlib.contextmanager
def workdir(prefix: str, keep: bool = False) -> Iterator[Path]:
    """A temporary directory for databases, logs and request files; removed at the end unless ``keep``."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield work
    finally:
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
