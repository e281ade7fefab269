"""benchmarks/bench_read.py still runs at a toy size and prints its machine-readable line
(nothing here measures speed), in the storage mode the test server can run."""

import re

import pytest

from eod_pipeline_tests.benchmarks.test_benchmark_scripts import _run_all, _timescaledb_usable


@pytest.mark.benchmark_smoke
def test_read_benchmark_runs_and_reports(pg_server_url: str):
    mode = "timescaledb" if _timescaledb_usable(pg_server_url) else "plain"
    out = _run_all("bench_read.py", "--dsn", pg_server_url, "--tickers", "20", "--years", "1",
                   "--repeats", "1", "--mode", mode)
    assert "adjusted: " in out and "plain: " in out and "as_of: " in out
    assert f"[{'timescaledb' if mode == 'timescaledb' else 'postgres'}] loaded" in out
    assert re.fullmatch(r"read_rows_per_s=\d+ adjusted_vs_plain=\d+\.\d\d asof_vs_latest=\d+\.\d\d",
                        out.strip().splitlines()[-1])
