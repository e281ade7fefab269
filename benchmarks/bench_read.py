"""Read benchmark: the reader's total-return adjusted read against a plain read of the
stored rows, and a point-in-time read against the latest one.

    python benchmarks/bench_read.py [--dsn DSN] [--tickers 500] [--years 10] [--repeats 3]
        [--mode timescaledb|plain]

A scratch warehouse (created on the server, dropped afterwards) gets TICKERS x YEARS of
synthetic daily bars (500 x 10 years: ~1.26M rows), quarterly dividends for half the
tickers and a split for a tenth of them, with fetch-log entries that make the history's
last month arrive day by day after the rest, and a revision of the last three months'
adjusted_close (what a dividend's refetch records). In TimescaleDB mode every chunk is
compressed before reading (the columnstore, as a deployment's history is). Then, REPEATS
times, in turn and in the same run:
1. adjusted: `read.prices(exchange, adjust="total")`, every row, into polars (Arrow
   through ADBC's binary COPY, price_reads._copy_to_frame);
2. plain: the same rows with the vendor's stored adjusted_close by a plain
   `COPY (SELECT ... FROM eod.prices WHERE exchange = ...) TO STDOUT` as CSV parsed by
   polars, sorted by symbol and date: the baseline, as issue 13 defines it;
3. as_of: the adjusted read as of one month before the last load (fewer rows: the last
   month is not stored yet then; revised values are read from the revisions).
Figures are medians, with min..max. The last line is
`read_rows_per_s=X adjusted_vs_plain=Y asof_vs_latest=Z`: X rows/s of the adjusted read,
Y its throughput over the plain read's, Z the as_of read's throughput over the latest's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

import polars as pl
import psycopg
from support import drop_database, machine_line, scratch_database, server_line, settle

from eod_pipeline import read
from eod_pipeline.ingest.coverage import log_frame
from eod_pipeline.warehouse import price_reads
from eod_pipeline.warehouse.batches import LoggedBatch
from eod_pipeline.warehouse.connection import resolve_database_url
from eod_pipeline.warehouse.migrations import StorageMode, ensure_schema
from eod_pipeline.warehouse.tables import DIVIDENDS, FETCH_LOG, PRICES, SPLITS
from eod_pipeline.warehouse.writer import write_frames

EXCHANGE = "US"
#: The history's last month arrives day by day after the rest (as daily runs add it).
LATE_DAYS = 21
#: The revised stretch at the end of the history (a dividend's refetch rewrites it).
REVISED_DAYS = 63


def bars(tickers: int, years: int) -> pl.DataFrame:
    """Deterministic bars: `tickers` symbols x the weekdays of `years` years."""
    end = dt.date(2026, 10, 30)
    days = pl.date_range(end - dt.timedelta(days=365 * years), end, eager=True)
    days = days.filter(days.dt.weekday() <= 5)
    frame = (pl.DataFrame({"symbol": [f"T{i:04d}" for i in range(tickers)]})
             .join(pl.DataFrame({"date": days}), how="cross").with_row_index("i"))
    walk = ((pl.col("i").hash(3) % 2001).cast(pl.Float64) - 1000) / 100_000
    close = (30 * (walk.cum_sum().over("symbol")).exp()).round(4)
    return frame.select(
        pl.lit(EXCHANGE).alias("exchange"), "symbol", "date",
        (close * 0.995).round(4).alias("open"), (close * 1.01).round(4).alias("high"),
        (close * 0.99).round(4).alias("low"), close.alias("close"),
        (close * 0.97).round(4).alias("adjusted_close"),
        (pl.col("i").hash(5) % 1_000_000).cast(pl.Int64).alias("volume"))


def actions(prices: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Quarterly dividends for every other ticker, one 2:1 split for every tenth."""
    n = prices.group_by("symbol").agg(pl.len()).select(pl.col("len").min()).item()
    ranked = prices.with_columns(pl.int_range(pl.len()).over("symbol").alias("k"),
                                 pl.col("symbol").str.slice(1).cast(pl.Int32).alias("t"))
    divs = ranked.filter((pl.col("t") % 2 == 0) & (pl.col("k") % 63 == 40)).select(
        "exchange", "symbol", "date", (pl.col("close") * 0.01).round(4).alias("value"),
        (pl.col("close") * 0.01).round(4).alias("unadjusted_value"),
        pl.lit("USD").alias("currency"), pl.lit(None, pl.Date).alias("declaration_date"),
        pl.lit(None, pl.Date).alias("record_date"), pl.lit(None, pl.Date).alias("payment_date"),
        pl.lit("Quarterly").alias("period"))
    splits = ranked.filter((pl.col("t") % 10 == 3) & (pl.col("k") == n // 2)).select(
        "exchange", "symbol", "date", pl.lit("2.000000/1.000000").alias("split"),
        pl.lit(2.0).alias("numerator"), pl.lit(1.0).alias("denominator"))
    return divs.cast(dict(DIVIDENDS.polars_schema)), splits.cast(dict(SPLITS.polars_schema))


def load(url: str, tickers: int, years: int, mode: StorageMode) -> tuple[int, dt.datetime]:
    """Fill the scratch warehouse; (rows, the as_of instant one month back)."""
    prices = bars(tickers, years)
    days = prices["date"].unique().sort()
    cutoff = days[-LATE_DAYS]
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    symbols = prices["symbol"].unique().sort().to_list()
    first, last = days[0], days[-1]
    with psycopg.connect(url) as conn:
        made = ensure_schema(conn, use_timescaledb=mode is StorageMode.TIMESCALEDB)
        if made is not mode:
            raise SystemExit(f"asked for a {mode.value} warehouse, got {made.value}")
        if mode is StorageMode.TIMESCALEDB:
            conn.execute("SELECT alter_job(job_id, scheduled => false) FROM "
                         "timescaledb_information.jobs WHERE hypertable_name IS NOT NULL")
            conn.commit()
        history = [(s, first, days[-LATE_DAYS - 1], 0, 0, None, None) for s in symbols]
        write_frames(conn, PRICES, LoggedBatch(
            prices.filter(pl.col("date") < cutoff),
            ((FETCH_LOG, log_frame(EXCHANGE, "prices", "bench", history, fetched_at=t0)),)))
        for k, day in enumerate(days[-LATE_DAYS:]):
            entry = [(None, day, day, 0, 0, None, None)]
            write_frames(conn, PRICES, LoggedBatch(
                prices.filter(pl.col("date") == day),
                ((FETCH_LOG, log_frame(EXCHANGE, "prices", "bench", entry,
                                       fetched_at=t0 + dt.timedelta(days=k + 1))),)))
        divs, splits = actions(prices)
        whole = [(s, first, last, 0, 0, None, None) for s in symbols]
        for spec, frame, dataset in ((DIVIDENDS, divs, "dividends"), (SPLITS, splits, "splits")):
            write_frames(conn, spec, LoggedBatch(frame, ((FETCH_LOG, log_frame(
                EXCHANGE, dataset, "bench", whole, fetched_at=t0)),)))
        # A refetch revising the vendor's adjusted_close of the last three months.
        revised = prices.filter(pl.col("date") >= days[-REVISED_DAYS]).with_columns(
            (pl.col("adjusted_close") * 0.99).round(4))
        write_frames(conn, PRICES, revised)
        conn.commit()
        if mode is StorageMode.TIMESCALEDB:
            for chunk in [r[0] for r in conn.execute("SELECT show_chunks('eod.prices')::text")]:
                conn.execute("SELECT compress_chunk(%s::regclass, if_not_compressed => true)",
                             (chunk,))
                conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    return prices.height, t0 + dt.timedelta(days=1)


def timed(fn: Callable[[], pl.DataFrame]) -> tuple[float, int]:
    started = time.perf_counter()
    frame = fn()
    return time.perf_counter() - started, frame.height


def spread(values: list[float]) -> str:
    return (f"median {statistics.median(values):.3f} s (min {min(values):.3f}, "
            f"max {max(values):.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to benchmark on (default: EOD_DATABASE_URL, "
                        "else the running embedded cluster)")
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--mode", choices=("timescaledb", "plain"), default="timescaledb")
    args = parser.parse_args()
    server_url = resolve_database_url(args.dsn)
    print(machine_line())
    print(server_line(server_url)[0])
    mode = StorageMode.TIMESCALEDB if args.mode == "timescaledb" else StorageMode.POSTGRES
    url = scratch_database(server_url)
    try:
        started = time.perf_counter()
        rows, as_of = load(url, args.tickers, args.years, mode)
        print(f"[{mode.value}] loaded {rows:,} rows of {args.tickers} tickers x {args.years} "
              f"years in {time.perf_counter() - started:.1f} s"
              f"{' (all chunks compressed)' if mode is StorageMode.TIMESCALEDB else ''}")

        def plain() -> pl.DataFrame:
            with price_reads.session(url) as conn:
                return price_reads.copy_raw_rows(conn, EXCHANGE, None, None, None)

        cases: dict[str, Callable[[], pl.DataFrame]] = {
            "adjusted": lambda: read.prices(EXCHANGE, adjust="total", database_url=url),
            "plain": plain,
            "as_of": lambda: read.prices(EXCHANGE, adjust="total", as_of=as_of,
                                         database_url=url),
        }
        for fn in cases.values():  # warm the cache and the plans once
            fn()
        seconds: dict[str, list[float]] = {k: [] for k in cases}
        counts: dict[str, int] = {}
        for _ in range(args.repeats):
            for name, fn in cases.items():
                settle(url)
                took, counts[name] = timed(fn)
                seconds[name].append(took)
        for name in cases:
            print(f"[{mode.value}] {name}: {counts[name]:,} rows, {spread(seconds[name])}")
        rate = {k: counts[k] / statistics.median(v) for k, v in seconds.items()}
        x = rate["adjusted"]
        y = rate["adjusted"] / rate["plain"]
        z = rate["as_of"] / rate["adjusted"]
        print(f"read_rows_per_s={x:.0f} adjusted_vs_plain={y:.2f} asof_vs_latest={z:.2f}")
    finally:
        drop_database(server_url, url)


if __name__ == "__main__":
    main()
