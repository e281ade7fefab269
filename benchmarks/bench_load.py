"""Load benchmark: the warehouse I/O manager against a raw psycopg binary COPY.

    python benchmarks/bench_load.py [--dsn DSN] [--rows N] [--repeats 2]
        [--kinds both|plain|hypertable]

The same N OHLCV rows (default 2,000,000) are loaded, in one run:
- raw: psycopg binary COPY (`write_row` per row) into an empty table identical to
  eod.prices: the baseline;
- first load: through the I/O manager into the empty eod.prices (its straight-COPY path);
- reload: the same rows again through the I/O manager (its merge path: all rows exist).
on plain tables and, where the server can load timescaledb, on hypertables. Like with
like: for the plain case the warehouse is created in plain mode
(`ensure_schema(use_timescaledb=False)`, recorded, so nothing converts it later) and the
raw COPY's table is plain; for the hypertable case both eod.prices and the raw COPY's
table are hypertables with the same chunk interval and columnstore settings. Each case
checks what its two tables really are before it reports. The columnstore policies of
both tables are paused during the loads: the 2010-2016 rows are all "older than 90 days",
and a policy compressing chunks under one load and not the other (it runs within seconds
of being added) would measure the policy, not the load; bench_backfill.py measures
compression. Every measurement runs in a scratch database created on the server and
dropped afterwards.

The last line is `first_load_vs_copy=R1 reload_vs_copy=R2`: throughput ratios against
the raw COPY, the worse of the table kinds measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import dagster as dg
import polars as pl
import psycopg
from support import drop_database, machine_line, scratch_database, server_line, settle

from eod_pipeline.defs.io_manager import WarehouseIOManager
from eod_pipeline.defs.resources import WarehouseResource
from eod_pipeline.warehouse.connection import resolve_database_url
from eod_pipeline.warehouse.migrations import StorageMode, ensure_schema, make_hypertable
from eod_pipeline.warehouse.storage import hypertable_names, probe_timescaledb
from eod_pipeline.warehouse.tables import PRICES

#: Symbols in the synthetic frame; 2,000,000 rows = 800 symbols x 2,500 trading days
#: (about ten years), the shape of a long per-ticker backfill.
SYMBOLS = 800


def ohlcv(rows: int) -> pl.DataFrame:
    """Deterministic synthetic bars: SYMBOLS symbols x consecutive days, `rows` in all."""
    days = max(rows // SYMBOLS, 1)
    start = dt.date(2010, 1, 4)
    frame = (
        pl.DataFrame({"symbol": [f"SYM{i:04d}" for i in range(SYMBOLS)]})
        .join(pl.DataFrame({"date": pl.date_range(start, start + dt.timedelta(days=days - 1),
                                                   eager=True)}), how="cross")
        .head(rows)
        .with_row_index("i")
    )
    noise = (pl.col("i").hash(7) % 1_000_000).cast(pl.Float64) / 1_000_000
    close = (20 + noise * 100).round(4)
    return frame.select(
        pl.lit("US").alias("exchange"),
        "symbol",
        "date",
        (close * 0.99).alias("open"),
        (close * 1.02).alias("high"),
        (close * 0.97).alias("low"),
        close.alias("close"),
        (close * 0.95).round(4).alias("adjusted_close"),
        (pl.col("i").hash(11) % 10_000_000).cast(pl.Int64).alias("volume"),
    )


def pause_policies(conn: psycopg.Connection) -> None:
    """Unschedule every TimescaleDB policy job in this database (columnstore included)."""
    conn.execute("SELECT alter_job(job_id, scheduled => false) "
                 "FROM timescaledb_information.jobs WHERE hypertable_name IS NOT NULL")


def is_hypertable(conn: psycopg.Connection, schema: str, table: str) -> bool:
    if schema == "eod":
        return table in hypertable_names(conn)
    row = conn.execute(
        "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL").fetchone()
    return bool(row and row[0]) and conn.execute(
        "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_schema = %s "
        "AND hypertable_name = %s", (schema, table)).fetchone() is not None


def check_kinds(url: str, hypertable: bool) -> None:
    """Both tables are what the case says (like with like), or the run stops."""
    with psycopg.connect(url) as conn:
        kinds = {name: is_hypertable(conn, *name.split("."))
                 for name in ("eod.prices", "bench.prices")}
    wrong = [name for name, kind in kinds.items() if kind is not hypertable]
    if wrong:
        wanted = "hypertable" if hypertable else "plain table"
        raise SystemExit(f"{', '.join(wrong)}: not a {wanted} as this case needs")


def raw_copy(url: str, frame: pl.DataFrame, hypertable: bool) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        conn.execute("DROP TABLE IF EXISTS bench.prices")
        conn.execute("CREATE TABLE bench.prices (LIKE eod.prices INCLUDING ALL)")
        if hypertable:
            make_hypertable(conn, PRICES, "bench.prices")
            pause_policies(conn)
        conn.commit()
        settle(url)
        started = time.perf_counter()
        with conn.cursor() as cur, cur.copy(
            "COPY bench.prices FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["text", "text", "date", "float8", "float8", "float8", "float8",
                            "float8", "int8"])
            for row in frame.iter_rows():
                copy.write_row(row)
        conn.commit()
        return time.perf_counter() - started


def io_manager_load(io_manager: WarehouseIOManager, frame: pl.DataFrame) -> tuple[float, dict]:
    settle(io_manager.warehouse.url())
    context = dg.build_output_context(
        asset_key=dg.AssetKey(["bench_prices"]),
        definition_metadata={"eod/table": "prices"},
    )
    started = time.perf_counter()
    io_manager.handle_output(context, frame)
    seconds = time.perf_counter() - started
    return seconds, {k: getattr(v, "value", v) for k, v in
                     context.get_logged_metadata().items()}


def measure(server_url: str, frame: pl.DataFrame, hypertable: bool,
            repeats: int) -> tuple[float, float]:
    """Best-of-`repeats` times; the raw COPY runs first on even repeats and last on odd
    ones, so neither side always gets the fresher server."""
    kind = "hypertable" if hypertable else "plain table"
    raw_s, first_s, reload_s = [], [], []
    for rep in range(repeats):
        url = scratch_database(server_url)
        try:
            with psycopg.connect(url) as conn:
                made = ensure_schema(conn, use_timescaledb=hypertable)
                if hypertable:
                    pause_policies(conn)
            if made is not (StorageMode.TIMESCALEDB if hypertable else StorageMode.POSTGRES):
                raise SystemExit(f"[{kind}] the warehouse was created in {made.value} mode")
            if rep % 2 == 0:
                raw_s.append(raw_copy(url, frame, hypertable))
            io_manager = WarehouseIOManager(warehouse=WarehouseResource(database_url=url))
            seconds, first_md = io_manager_load(io_manager, frame)
            first_s.append(seconds)
            seconds, reload_md = io_manager_load(io_manager, frame)
            reload_s.append(seconds)
            if rep % 2 == 1:
                raw_s.append(raw_copy(url, frame, hypertable))
            check_kinds(url, hypertable)
        finally:
            drop_database(server_url, url)
    n = frame.height
    raw, first, reload = min(raw_s), min(first_s), min(reload_s)
    print(f"[{kind}] runs (s): raw {' '.join(f'{x:.2f}' for x in raw_s)}; first "
          f"{' '.join(f'{x:.2f}' for x in first_s)}; reload "
          f"{' '.join(f'{x:.2f}' for x in reload_s)}")
    print(f"[{kind}] raw binary COPY : {raw:7.2f} s  {n / raw:>10,.0f} rows/s")
    print(f"[{kind}] I/O mgr first  : {first:7.2f} s  {n / first:>10,.0f} rows/s  "
          f"mode={first_md['write_mode']} inserted={first_md['rows_inserted']}")
    print(f"[{kind}] I/O mgr reload : {reload:7.2f} s  {n / reload:>10,.0f} rows/s  "
          f"mode={reload_md['write_mode']} unchanged={reload_md['rows_unchanged']}")
    print(f"[{kind}] first_load_vs_copy={raw / first:.2f} reload_vs_copy={raw / reload:.2f}")
    return raw / first, raw / reload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to benchmark on (default: EOD_DATABASE_URL, "
                        "else the embedded cluster); a scratch database is created on it")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each load; the best time of each counts")
    parser.add_argument("--kinds", choices=("both", "plain", "hypertable"), default="both",
                        help="table kinds to measure (both: hypertables where usable)")
    args = parser.parse_args()
    server_url = resolve_database_url(args.dsn)
    frame = ohlcv(args.rows)
    print(machine_line())
    print(server_line(server_url)[0])
    with psycopg.connect(server_url) as conn:
        probe = probe_timescaledb(conn)
    print(f"rows: {frame.height:,}")
    results = []
    if args.kinds in ("both", "plain"):
        results.append(measure(server_url, frame, False, args.repeats))
    if args.kinds in ("both", "hypertable"):
        if probe.usable:
            results.append(measure(server_url, frame, True, args.repeats))
        elif args.kinds == "hypertable":
            raise SystemExit(f"--kinds hypertable: {probe.why_unusable()}")
        else:
            print(f"hypertables skipped: {probe.why_unusable()}")
    r1 = min(r[0] for r in results)
    r2 = min(r[1] for r in results)
    print(f"first_load_vs_copy={r1:.2f} reload_vs_copy={r2:.2f}")


if __name__ == "__main__":
    main()
