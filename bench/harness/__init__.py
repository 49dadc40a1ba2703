"""The benchmarks' shared harness: the service under test, its server process, wrk, statistics, results.

Everything here is bounded in time (every subprocess and poll has a deadline) and a server is always
stopped by the process id the harness started, also on Ctrl-C or SIGTERM.
"""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
OUT_DIR = BENCH_DIR / "out"
HOST = "127.0.0.1"
