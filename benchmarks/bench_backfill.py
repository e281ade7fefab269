"""Backfill benchmark: an exchange's whole ten-year history through Dagster, at two sizes.

    python benchmarks/bench_backfill.py [--dsn DSN] [--small 2000] [--large 4000] [--years 10]
        [--mode both|timescaledb|plain] [--instance local|deployment|sqlite] [--repeats 1]

For each size, a simulated exchange (US) of that many tickers, unthrottled, in its own
process, and a scratch warehouse database. The symbol list and calendar are loaded first
(untimed); then `dagster asset materialize --partition-range START...END` runs the
price asset over ten years of daily partitions as ONE run (single-run backfill policy),
exactly as a backfill launched from the UI runs: plan by cost, per-ticker history
requests, streamed checks and COPY into eod.prices.

Storage modes (`--mode`, default both where the server can load TimescaleDB): each case
runs on a warehouse created in TimescaleDB mode (hypertables with the columnstore) and on
one created with plain tables (`ensure_schema(use_timescaledb=False)`, what
EOD_TIMESCALEDB=off does), one after the other on the same server.

The instance (`--instance`) is by default the local template, the one `eod-pipeline demo`
uses: PostgreSQL storage on a scratch database of the same server, with
DAGSTER_EVENT_BATCH_SIZE=1000 as the demo and docker compose set it. `deployment` is the
deployment's `dagster.yaml` (same storage); `sqlite` is the local template without its
`storage:` section, i.e. SQLite under DAGSTER_HOME with Dagster's default batch size 0:
the local default before Dagster's storage moved to PostgreSQL.

Dagster's share of each run: from the run's creation (its record, before the
"materialization planned" events) to RUN_SUCCESS, the time that is neither the price
step's stream (fetch, check and write, which overlap: the writer's clock, `write_seconds`)
nor the check step: per-partition events, run and step bookkeeping, process start.

After the larger case, in each mode, storage_figures.py measures bytes per stored row
(before and after the columnstore policy), daily upserts into old history (compressed
chunks in TimescaleDB mode) and full-history refetches of single tickers.

Measured: rows stored per second of the run (Dagster's own run start to end; the CLI's
wall time, which adds its start-up and Dagster's run creation, is printed beside it) and
the peak summed resident memory of the run's process tree (the CLI process that executes
the run and any process it starts), sampled every 100 ms. The baseline is the small case
of the same run: memory must not grow with the exchange. The last line is
machine-readable:

    rows_per_s=X peak_rss_mb_small=A peak_rss_mb_large=B

(X from the larger case, the worse of the modes measured and of the repeats; A and B the
highest). Targets: X >= 100,000 on hypertables, B <= 1.2 x A, B <= 1024; Dagster's share
<= 20%; compressed prices <= 20 bytes/row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from dataclasses import dataclass

import dagster as dg
import psycopg
from storage_figures import StorageFigures, measure_storage
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
from eod_pipeline.warehouse.migrations import StorageMode
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.universe import Universe

#: Rendered answers of 4,000 ten-year histories are ~1.4 GB; keep them all hot so every
#: answer is a slice of memory and the simulator's CPU share stays small.
SIM_RENDER_CACHE_MB = 4096


PRICE_STEP = f"eod_prices__{EXCHANGE}"
CHECK_STEP = f"price_checks_{EXCHANGE}"


@dataclass
class Case:
    tickers: int
    rows: int
    run_s: float
    process_s: float
    peak_rss_mb: float
    step_s: dict[str, float]
    metadata: dict[str, object]
    #: The run's creation (record) to its end: what a launch costs, planned events included.
    created_to_end_s: float = 0.0
    peak_step: str = ""
    storage: StorageFigures | None = None

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.run_s

    @property
    def stream_s(self) -> float:
        return float(self.metadata.get("write_seconds") or 0.0)

    @property
    def check_s(self) -> float:
        return self.step_s.get(CHECK_STEP, 0.0)

    @property
    def dagster_s(self) -> float:
        return max(self.created_to_end_s - self.stream_s - self.check_s, 0.0)

    @property
    def dagster_share(self) -> float:
        return self.dagster_s / self.created_to_end_s if self.created_to_end_s else 0.0


def run_case(server_url: str, tickers: int, years: int, mode: StorageMode, instance: str,
             show_log: bool = False, storage_figures: bool = False) -> Case:
    label = f"[{mode.value} {tickers} tickers]"
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
    print(f"{label} simulator starting (prewarming {tickers} histories)...",
          flush=True)
    prewarm_started = time.perf_counter()
    with SimulatorProcess(config) as (base_url, token):
        print(f"{label} simulator ready in "
              f"{time.perf_counter() - prewarm_started:.0f} s at {base_url}", flush=True)
        url = scratch_database(server_url)
        project = mode_project(server_url, url, base_url, token, EXCHANGE, start, mode,
                               instance)
        print(f"{label} {project.describe()}", flush=True)
        try:
            prepare_warehouse(project, url, mode, EXCHANGE)
            settle(url)
            print(f"{label} backfill {start}...{end} as one run", flush=True)
            process_s, peak_mb = project.materialize(
                f"eod_prices/{EXCHANGE}", "--partition-range",
                f"{start.isoformat()}...{end.isoformat()}", "--config-json",
                UNTHROTTLED_RUN_CONFIG, log_name="backfill")
            if show_log:
                print(project.log_lines("backfill"))
            record, steps, metadata = project.last_run_record(
                dg.AssetKey(["eod_prices", EXCHANGE]))
            with psycopg.connect(url) as conn:
                rows = conn.execute("SELECT count(*) FROM eod.prices WHERE exchange = %s",
                                    [EXCHANGE]).fetchone()[0]
            case = Case(tickers, rows, record.end_time - record.start_time, process_s,
                        peak_mb, steps, metadata,
                        record.end_time - record.create_timestamp.timestamp(),
                        peak_step=project.peak_step)
            if storage_figures:
                case.storage = measure_storage(url, EXCHANGE)
        finally:
            drop_database(server_url, url)
            project.close()
    md = case.metadata
    print(f"{label} {case.rows:,} rows in {case.run_s:.1f} s of run "
          f"({case.process_s:.1f} s with the CLI's start-up and Dagster's "
          f"{md.get('trading_days')} planned-partition events): {case.rows_per_s:,.0f} "
          f"rows/s; peak RSS of the run's processes {case.peak_rss_mb:.0f} MB (in "
          f"{case.peak_step})", flush=True)
    print(f"{label} steps: " + ", ".join(
        f"{k} {v:.1f} s" for k, v in case.step_s.items()), flush=True)
    print(f"{label} Dagster's share {case.dagster_share:.1%}: run created to ended "
          f"{case.created_to_end_s:.1f} s = stream (fetch/check/write) {case.stream_s:.1f} s "
          f"+ check step {case.check_s:.1f} s + Dagster {case.dagster_s:.1f} s "
          f"(price step {case.step_s.get(PRICE_STEP, float('nan')):.1f} s)", flush=True)
    print(f"{label} strategy={md.get('strategy')} requests={md.get('requests')} "
          f"calls_spent={md.get('calls_spent')} failed={md.get('failed')} "
          f"rows_fetched={md.get('rows_fetched')} rows_rejected={md.get('rows_rejected')} "
          f"fetch_rows_per_s={md.get('fetch_rows_per_s')} write_mode={md.get('write_mode')} "
          f"write_seconds={md.get('write_seconds')}", flush=True)
    if md.get("rows_fetched") != case.rows:
        raise SystemExit(f"stored {case.rows} rows but the run fetched "
                         f"{md.get('rows_fetched')}: the warehouse does not hold the source")
    if case.storage is not None:
        for line in case.storage.lines(label):
            print(line, flush=True)
    return case


def _spread(values: list[float], fmt: str = "{:,.0f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return (f"min {fmt.format(min(values))} median {fmt.format(statistics.median(values))} "
            f"max {fmt.format(max(values))} over {len(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to benchmark on (default: EOD_DATABASE_URL, "
                        "else the embedded cluster); a scratch database is created on it")
    parser.add_argument("--small", type=int, default=2000, help="tickers, first case")
    parser.add_argument("--large", type=int, default=4000, help="tickers, second case")
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--mode", choices=("both", "timescaledb", "plain"), default="both",
                        help="storage modes to run (both: TimescaleDB where usable, then plain)")
    parser.add_argument("--instance", choices=INSTANCES, default="local",
                        help="Dagster instance config (see the module's docstring)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each case")
    parser.add_argument("--no-storage-figures", action="store_true",
                        help="skip the sizes and merges into old history")
    parser.add_argument("--show-log", action="store_true", help="print the run's log")
    args = parser.parse_args()
    server_url = resolve_database_url(args.dsn)
    print(machine_line())
    print(server_line(server_url)[0])
    summary: list[tuple[StorageMode, list[Case], list[Case]]] = []
    for mode in modes_to_run(server_url, args.mode):
        smalls, larges = [], []
        for rep in range(args.repeats):
            smalls.append(run_case(server_url, args.small, args.years, mode, args.instance,
                                   args.show_log))
            larges.append(run_case(server_url, args.large, args.years, mode, args.instance,
                                   args.show_log, storage_figures=(
                                       rep == 0 and not args.no_storage_figures)))
        summary.append((mode, smalls, larges))
    for mode, smalls, larges in summary:
        for name, cases in (("small", smalls), ("large", larges)):
            print(f"[{mode.value}] {name} ({cases[0].tickers} tickers): rows/s of the run "
                  f"{_spread([c.rows_per_s for c in cases])}; Dagster's share "
                  f"{_spread([100 * c.dagster_share for c in cases], '{:.1f}%')}; peak RSS "
                  f"{_spread([c.peak_rss_mb for c in cases], '{:.0f} MB')}")
        print(f"[{mode.value}] memory growth large/small: "
              f"{max(c.peak_rss_mb for c in larges) / max(c.peak_rss_mb for c in smalls):.2f}")
        storage = larges[0].storage
        if storage is not None and storage.compressed_bytes_per_row is not None:
            print(f"[{mode.value}] compressed_bytes_per_row="
                  f"{storage.compressed_bytes_per_row:.1f}")
    rows_per_s = min(c.rows_per_s for _, _, larges in summary for c in larges)
    peak_small = max(c.peak_rss_mb for _, smalls, _ in summary for c in smalls)
    peak_large = max(c.peak_rss_mb for _, _, larges in summary for c in larges)
    print(f"rows_per_s={rows_per_s:.0f} peak_rss_mb_small={peak_small:.0f} "
          f"peak_rss_mb_large={peak_large:.0f}")


if __name__ == "__main__":
    main()
