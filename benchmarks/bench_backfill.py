"""Backfill benchmark: an exchange's whole ten-year history through Dagster, at two sizes.

    python benchmarks/bench_backfill.py [--dsn DSN] [--small 2000] [--large 4000] [--years 10]

For each size, a simulated exchange (US) of that many tickers, unthrottled, in its own
process, and a scratch warehouse database. The symbol list and calendar are loaded first
(untimed); then `dagster asset materialize --partition-range START...END` runs the
price asset over ten years of daily partitions as ONE run (single-run backfill policy),
exactly as a backfill launched from the UI runs: plan by cost, per-ticker history
requests, streamed checks and COPY into eod.prices.

The instance is the deployment's `dagster.yaml` (PostgreSQL storage, on a scratch
database) with DAGSTER_EVENT_BATCH_SIZE as docker compose sets it.

Measured: rows stored per second of the run (Dagster's own run start to end; the CLI's
wall time, which adds its start-up and Dagster's run creation, is printed beside it) and
the peak summed resident memory of the run's process tree (the CLI process that executes
the run and any process it starts), sampled every 100 ms. The baseline is the small case
of the same run: memory must not grow with the exchange. The last line is
machine-readable:

    rows_per_s=X peak_rss_mb_small=A peak_rss_mb_large=B

(X from the larger case). Targets: X >= 100,000, B <= 1.2 x A, B <= 1024.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from dataclasses import dataclass

import dagster as dg
import psycopg
from support import (
    EXCHANGE,
    OTHER_EXCHANGE_SYMBOLS,
    UNTHROTTLED_RPM,
    UNTHROTTLED_RUN_CONFIG,
    DagsterProject,
    SimulatorProcess,
    drop_database,
    machine_line,
    scratch_database,
    server_line,
    settle,
)

from eod_pipeline.simulator.config import SimulatorConfig
from eod_pipeline.simulator.universe import Universe
from eod_pipeline.warehouse.connection import resolve_database_url
from eod_pipeline.warehouse.migrations import ensure_schema

#: Rendered answers of 4,000 ten-year histories are ~1.4 GB; keep them all hot so every
#: answer is a slice of memory and the simulator's CPU share stays small.
SIM_RENDER_CACHE_MB = 4096


@dataclass
class Case:
    tickers: int
    rows: int
    run_s: float
    process_s: float
    peak_rss_mb: float
    step_s: dict[str, float]
    metadata: dict[str, object]

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.run_s


def run_case(server_url: str, tickers: int, years: int, show_log: bool = False) -> Case:
    config = SimulatorConfig(
        symbols_per_exchange=OTHER_EXCHANGE_SYMBOLS,
        symbols_by_exchange={EXCHANGE: tickers},
        per_minute_limit=UNTHROTTLED_RPM,
        prewarm=True,
        render_cache_mb=SIM_RENDER_CACHE_MB,
    )
    now = dt.datetime.now(dt.UTC)
    end = Universe(config).available_through(EXCHANGE, now)
    assert end is not None
    start = end - dt.timedelta(days=round(365.25 * years))
    while start.weekday() >= 5:  # partitions are weekdays only
        start += dt.timedelta(days=1)
    print(f"[{tickers} tickers] simulator starting (prewarming {tickers} histories)...",
          flush=True)
    prewarm_started = time.perf_counter()
    with SimulatorProcess(config) as (base_url, token):
        print(f"[{tickers} tickers] simulator ready in "
              f"{time.perf_counter() - prewarm_started:.0f} s at {base_url}", flush=True)
        url = scratch_database(server_url)
        project = DagsterProject(server_url, {
            "EOD_DATABASE_URL": url, "EODHD_API_TOKEN": token, "EODHD_BASE_URL": base_url,
            "EOD_EXCHANGES": f"{EXCHANGE}:{start.isoformat()}"})
        try:
            with psycopg.connect(url) as conn:
                ensure_schema(conn)
            project.materialize("symbol_lists,exchange_calendars", "--partition", EXCHANGE,
                                log_name="reference")
            settle(url)
            print(f"[{tickers} tickers] backfill {start}...{end} as one run", flush=True)
            process_s, peak_mb = project.materialize(
                f"eod_prices/{EXCHANGE}", "--partition-range",
                f"{start.isoformat()}...{end.isoformat()}", "--config-json",
                UNTHROTTLED_RUN_CONFIG, log_name="backfill")
            if show_log:
                print(project.log_lines("backfill"))
            run_start, run_end, steps, metadata = project.last_run(
                dg.AssetKey(["eod_prices", EXCHANGE]))
            with psycopg.connect(url) as conn:
                rows = conn.execute("SELECT count(*) FROM eod.prices WHERE exchange = %s",
                                    [EXCHANGE]).fetchone()[0]
            case = Case(tickers, rows, run_end - run_start, process_s, peak_mb, steps,
                        metadata)
        finally:
            drop_database(server_url, url)
            project.close()
    md = case.metadata
    print(f"[{tickers} tickers] {case.rows:,} rows in {case.run_s:.1f} s of run "
          f"({case.process_s:.1f} s with the CLI's start-up and Dagster's "
          f"{md.get('trading_days')} planned-partition events): {case.rows_per_s:,.0f} "
          f"rows/s; peak RSS of the run's processes {case.peak_rss_mb:.0f} MB", flush=True)
    print(f"[{tickers} tickers] steps: " + ", ".join(
        f"{k} {v:.1f} s" for k, v in case.step_s.items()), flush=True)
    print(f"[{tickers} tickers] strategy={md.get('strategy')} requests={md.get('requests')} "
          f"calls_spent={md.get('calls_spent')} failed={md.get('failed')} "
          f"rows_fetched={md.get('rows_fetched')} rows_rejected={md.get('rows_rejected')} "
          f"fetch_rows_per_s={md.get('fetch_rows_per_s')} write_mode={md.get('write_mode')} "
          f"write_seconds={md.get('write_seconds')}", flush=True)
    if md.get("rows_fetched") != case.rows:
        raise SystemExit(f"stored {case.rows} rows but the run fetched "
                         f"{md.get('rows_fetched')}: the warehouse does not hold the source")
    return case


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to benchmark on (default: EOD_DATABASE_URL, "
                        "else the embedded cluster); a scratch database is created on it")
    parser.add_argument("--small", type=int, default=2000, help="tickers, first case")
    parser.add_argument("--large", type=int, default=4000, help="tickers, second case")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--show-log", action="store_true", help="print the run's log")
    args = parser.parse_args()
    server_url = resolve_database_url(args.dsn)
    print(machine_line())
    print(server_line(server_url)[0])
    small = run_case(server_url, args.small, args.years, args.show_log)
    large = run_case(server_url, args.large, args.years, args.show_log)
    print(f"memory growth large/small: {large.peak_rss_mb / small.peak_rss_mb:.2f}")
    print(f"rows_per_s={large.rows_per_s:.0f} peak_rss_mb_small={small.peak_rss_mb:.0f} "
          f"peak_rss_mb_large={large.peak_rss_mb:.0f}")


if __name__ == "__main__":
    main()
