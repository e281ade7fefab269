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


def _run_all(script: str, *args: str, timeout: float = 600) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EOD_", "EODHD_",
                                                                      "DAGSTER_"))}
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return done.stdout


def _timescaledb_usable(url: str) -> bool:
    import psycopg

    from eod_pipeline.warehouse.storage import probe_timescaledb

    with psycopg.connect(url) as conn:
        return probe_timescaledb(conn).usable


@pytest.mark.benchmark_smoke
def test_backfill_benchmark_runs_and_reports(pg_server_url: str):
    # Both storage modes (where the server has TimescaleDB), the local template's
    # PostgreSQL instance, the storage figures (sizes, merges into old history).
    out = _run_all("bench_backfill.py", "--dsn", pg_server_url, "--small", "6", "--large",
                   "12", "--years", "4")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"rows_per_s=\d+ peak_rss_mb_small=\d+ peak_rss_mb_large=\d+", last)
    assert "Dagster's share" in out
    assert "full-history refetch" in out
    assert "instance: local template, PostgreSQL storage" in out
    if _timescaledb_usable(pg_server_url):
        assert "[timescaledb 12 tickers]" in out and "[postgres 12 tickers]" in out
        assert re.search(r"compressed chunks alone: [\d,]+ rows", out)
        assert re.search(r"\[timescaledb\] compressed_bytes_per_row=\d+\.\d", out)


@pytest.mark.benchmark_smoke
def test_daily_benchmark_runs_and_reports(pg_server_url: str):
    out = _run_all("bench_daily.py", "--dsn", pg_server_url, "--tickers", "300", "--days", "1")
    assert re.fullmatch(r"daily_step_s=\d+\.\d\d", out.strip().splitlines()[-1])
    if _timescaledb_usable(pg_server_url):
        assert "[timescaledb] median" in out and "[postgres] median" in out


@pytest.mark.benchmark_smoke
def test_load_benchmark_compares_like_with_like(pg_server_url: str):
    out = _run_all("bench_load.py", "--dsn", pg_server_url, "--rows", "20000", "--repeats", "1")
    assert re.fullmatch(r"first_load_vs_copy=\d+\.\d\d reload_vs_copy=\d+\.\d\d",
                        out.strip().splitlines()[-1])
    assert "[plain table] first_load_vs_copy=" in out
    if _timescaledb_usable(pg_server_url):
        assert "[hypertable] first_load_vs_copy=" in out
