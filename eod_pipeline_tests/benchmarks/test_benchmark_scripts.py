"""The benchmark scripts still run, at toy sizes, and print their machine-readable line.

Nothing here measures speed (that is what the scripts are for, on a quiet machine, with
their figures in BENCHMARKS.md); it keeps them from rotting between measurements, and
their own consistency checks (rows stored = rows fetched) run on every CI pass.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _run(script: str, *args: str, timeout: float = 600) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EOD_", "EODHD_",
                                                                      "DAGSTER_"))}
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.benchmark_smoke
def test_backfill_benchmark_runs_and_reports(pg_server_url: str):
    last = _run("bench_backfill.py", "--dsn", pg_server_url, "--small", "6", "--large", "12",
                "--years", "1")
    assert re.fullmatch(r"rows_per_s=\d+ peak_rss_mb_small=\d+ peak_rss_mb_large=\d+", last)


@pytest.mark.benchmark_smoke
def test_daily_benchmark_runs_and_reports(pg_server_url: str):
    last = _run("bench_daily.py", "--dsn", pg_server_url, "--tickers", "300", "--days", "1")
    assert re.fullmatch(r"daily_step_s=\d+\.\d\d", last)
