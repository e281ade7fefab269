"""Daily benchmark: one exchange-day of 50,000 tickers through the daily partition.

    python benchmarks/bench_daily.py [--dsn DSN] [--tickers 50000] [--days 3]
        [--mode both|timescaledb|plain] [--instance local|deployment|sqlite]

A simulated exchange (US) of 50,000 tickers, in its own process, and a scratch warehouse
with its symbol list and calendar loaded (untimed). Then, for each of the newest `--days`
trading days, oldest first, `dagster asset materialize --partition DAY` runs that day's
price partition as the daily refresh does: plan (bulk by date: 100 calls instead of
50,000), quota check, one bulk request, row checks, COPY into eod.prices, fetch log.

Each storage mode (`--mode`, default both where the server can load TimescaleDB) gets its
own warehouse, created in that mode, and its own Dagster instance (`--instance`, default
the local template with PostgreSQL storage, as bench_backfill.py); the simulator is shared.
The newest days lie in the newest chunk, which the columnstore policy leaves
uncompressed; bench_backfill.py measures upserts into compressed chunks.

Measured: the price step's duration as Dagster records it (STEP_START to STEP_SUCCESS),
which includes the simulator answering ~43,000 rows over HTTP. The baseline printed
beside it is a raw binary COPY of the same day's rows into an identical empty table.
The last line is machine-readable, the slowest of the days in any mode:

    daily_step_s=X

Target: X <= 5.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import urllib.request

import dagster as dg
import polars as pl
import psycopg
from support import (
    EXCHANGE,
    INSTANCES,
    OTHER_EXCHANGE_SYMBOLS,
    UNTHROTTLED_RPM,
    UNTHROTTLED_RUN_CONFIG,
    SimulatorProcess,
    drop_database,
    machine_line,
    mode_project,
    modes_to_run,
    prepare_warehouse,
    scratch_database,
    server_line,
    settle,
)

from eod_pipeline.warehouse.connection import resolve_database_url
from eod_pipeline.warehouse.migrations import StorageMode, make_hypertable
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.writer import copy_frame
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.symbols import LAST_EVENT_DATE
from eodhd_simulator.universe import Universe

STEP = f"eod_prices__{EXCHANGE}"
CHECK_STEP = f"price_checks_{EXCHANGE}"
#: Price paths start here: a few months is all a daily step reads, and generating 50,000
#: ten-year paths would take the simulator half an hour. The simulator needs 60 days
#: before its last event date to place listings.
HISTORY_DAYS = 150


def _history_start(day: dt.date) -> dt.date:
    return min(day - dt.timedelta(days=HISTORY_DAYS), LAST_EVENT_DATE - dt.timedelta(days=90))


def _warm(base_url: str, token: str, day: dt.date) -> None:
    """Ask the simulator for the day once (untimed): it generates its 50,000 price paths on
    first use, minutes of work that is the simulator's, not the pipeline's."""
    url = f"{base_url}/eod-bulk-last-day/{EXCHANGE}?date={day}&fmt=json&api_token={token}"
    with urllib.request.urlopen(url, timeout=3600) as answer:
        answer.read()


def raw_copy_s(url: str, day: dt.date, hypertable: bool) -> float:
    """Seconds for a raw binary COPY of the day's stored rows into an identical table (a
    hypertable like eod.prices in TimescaleDB mode)."""
    with psycopg.connect(url) as conn:
        rows = read_slice(conn, PRICES, TableSlice(PRICES, {"exchange": [EXCHANGE]},
                                                   DateRange("date", day, day)))
        conn.execute("CREATE TABLE eod.bench_prices (LIKE eod.prices INCLUDING ALL)")
        if hypertable:
            make_hypertable(conn, PRICES, "eod.bench_prices")
        conn.commit()
        settle(url)
        began = time.perf_counter()
        with conn.cursor() as cur:
            copy_frame(cur, psycopg.sql.Identifier("eod", "bench_prices"), PRICES, rows)
        conn.commit()
        seconds = time.perf_counter() - began
        conn.execute("DROP TABLE eod.bench_prices")
        conn.commit()
    return seconds


def run_days(server_url: str, base_url: str, token: str, days: list[dt.date],
             mode: StorageMode, instance: str, show_log: bool) -> list[float]:
    """One warehouse in `mode`: reference data, then one run per day; step seconds."""
    label = f"[{mode.value}]"
    url = scratch_database(server_url)
    project = mode_project(server_url, url, base_url, token, EXCHANGE, days[0], mode,
                           instance)
    print(f"{label} {project.describe()}", flush=True)
    step_s: list[float] = []
    try:
        prepare_warehouse(project, url, mode, EXCHANGE)
        for day in days:
            settle(url)
            project.materialize(f"eod_prices/{EXCHANGE}", "--partition", day.isoformat(),
                                "--config-json", UNTHROTTLED_RUN_CONFIG, log_name=f"day-{day}")
            if show_log:
                print(project.log_lines(f"day-{day}"))
            _, _, steps, md = project.last_run(dg.AssetKey(["eod_prices", EXCHANGE]))
            with psycopg.connect(url) as conn:
                stored = conn.execute(
                    "SELECT count(*) FROM eod.prices WHERE exchange = %s AND date = %s",
                    [EXCHANGE, day]).fetchone()[0]
            if stored != md.get("rows_fetched") or not stored:
                raise SystemExit(f"{day}: stored {stored} rows, the run fetched "
                                 f"{md.get('rows_fetched')}")
            baseline = raw_copy_s(url, day, mode is StorageMode.TIMESCALEDB)
            step_s.append(steps[STEP])
            print(f"{label} {day}: step {steps[STEP]:.2f} s for {stored:,} rows "
                  f"({md.get('strategy')}, {md.get('calls_spent')} calls, "
                  f"{md.get('requests')} request); fetch {md.get('fetch_seconds')} s, "
                  f"write {md.get('write_seconds')} s ({md.get('write_mode')}); raw COPY "
                  f"of the same rows {baseline:.2f} s; checks step "
                  f"{steps.get(CHECK_STEP, float('nan')):.2f} s", flush=True)
    finally:
        drop_database(server_url, url)
        project.close()
    return step_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to benchmark on (default: EOD_DATABASE_URL, "
                        "else the embedded cluster); a scratch database is created on it")
    parser.add_argument("--tickers", type=int, default=50_000)
    parser.add_argument("--days", type=int, default=3, help="trading days, one run each")
    parser.add_argument("--mode", choices=("both", "timescaledb", "plain"), default="both",
                        help="storage modes to run (both: TimescaleDB where usable, then plain)")
    parser.add_argument("--instance", choices=INSTANCES, default="local",
                        help="Dagster instance config (see bench_backfill.py)")
    parser.add_argument("--show-log", action="store_true", help="print each run's log")
    args = parser.parse_args()
    server_url = resolve_database_url(args.dsn)
    print(machine_line())
    print(server_line(server_url)[0])

    now = dt.datetime.now(dt.UTC)
    probe = Universe(SimulatorConfig(symbols_per_exchange=1))
    newest = probe.available_through(EXCHANGE, now)
    assert newest is not None
    days = probe.trading_days(EXCHANGE, newest - dt.timedelta(days=10 + args.days), newest)
    days = days[-args.days:]
    start = _history_start(days[0])
    config = SimulatorConfig(
        symbols_per_exchange=OTHER_EXCHANGE_SYMBOLS,
        symbols_by_exchange={EXCHANGE: args.tickers},
        per_minute_limit=UNTHROTTLED_RPM,
        history_start=start,
    )
    with SimulatorProcess(config) as (base_url, token):
        began = time.perf_counter()
        for day in days:
            _warm(base_url, token, day)
        print(f"simulator: {args.tickers:,} tickers at {base_url}, paths generated in "
              f"{time.perf_counter() - began:.0f} s (untimed)", flush=True)
        step_s: dict[StorageMode, list[float]] = {}
        for mode in modes_to_run(server_url, args.mode):
            step_s[mode] = run_days(server_url, base_url, token, days, mode, args.instance,
                                    args.show_log)
    for mode, steps in step_s.items():
        print(f"[{mode.value}] median {statistics.median(steps):.2f} s, slowest "
              f"{max(steps):.2f} s over {len(steps)} days; polars {pl.__version__}")
    print(f"daily_step_s={max(max(steps) for steps in step_s.values()):.2f}")


if __name__ == "__main__":
    main()
