"""Load benchmark: the warehouse I/O manager against a raw psycopg binary COPY.

    python benchmarks/bench_load.py [--dsn DSN] [--rows N]

The same N OHLCV rows (default 2,000,000) are loaded, in one run:
- raw: psycopg binary COPY (`write_row` per row) into an empty table identical to
  eod.prices: the baseline;
- first load: through the I/O manager into the empty eod.prices (its straight-COPY path);
- reload: the same rows again through the I/O manager (its merge path: all rows exist).
on a plain table and, where the timescaledb extension exists, on a hypertable. Every
measurement runs in a scratch database created on the server and dropped afterwards.

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
from eod_pipeline.warehouse.migrations import ensure_schema, make_hypertable
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


def raw_copy(url: str, frame: pl.DataFrame, hypertable: bool) -> float:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS bench")
        conn.execute("DROP TABLE IF EXISTS bench.prices")
        conn.execute("CREATE TABLE bench.prices (LIKE eod.prices INCLUDING ALL)")
        if hypertable:
            make_hypertable(conn, PRICES, "bench.prices")
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
                ensure_schema(conn, use_timescaledb=hypertable)
            if rep % 2 == 0:
                raw_s.append(raw_copy(url, frame, hypertable))
            io_manager = WarehouseIOManager(warehouse=WarehouseResource(database_url=url))
            seconds, first_md = io_manager_load(io_manager, frame)
            first_s.append(seconds)
            seconds, reload_md = io_manager_load(io_manager, frame)
            reload_s.append(seconds)
            if rep % 2 == 1:
                raw_s.append(raw_copy(url, frame, hypertable))
        finally:
            drop_database(server_url, url)
    n = frame.height
    raw, first, reload = min(raw_s), min(first_s), min(reload_s)
    print(f"[{kind}] raw binary COPY : {raw:7.2f} s  {n / raw:>10,.0f} rows/s")
    print(f"[{kind}] I/O mgr first  : {first:7.2f} s  {n / first:>10,.0f} rows/s  "
          f"mode={first_md['write_mode']} inserted={first_md['rows_inserted']}")
    print(f"[{kind}] I/O mgr reload : {reload:7.2f} s  {n / reload:>10,.0f} rows/s  "
          f"mode={reload_md['write_mode']} unchanged={reload_md['rows_unchanged']}")
    return raw / first, raw / reload


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to benchmark on (default: EOD_DATABASE_URL, "
                        "else the embedded cluster); a scratch database is created on it")
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each load; the best time of each counts")
    args = parser.parse_args()
    server_url = resolve_database_url(args.dsn)
    frame = ohlcv(args.rows)
    print(machine_line())
    line, has_ts = server_line(server_url)
    print(line)
    print(f"rows: {frame.height:,}")
    results = [measure(server_url, frame, False, args.repeats)]
    if has_ts:
        results.append(measure(server_url, frame, True, args.repeats))
    r1 = min(r[0] for r in results)
    r2 = min(r[1] for r in results)
    print(f"first_load_vs_copy={r1:.2f} reload_vs_copy={r2:.2f}")


if __name__ == "__main__":
    main()
