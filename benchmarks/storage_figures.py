"""What a backfilled warehouse costs on disk, and what merging into old history costs.

Used by bench_backfill.py on the larger case's warehouse, in both storage modes:

- bytes per stored price row: `eod.prices` with its indexes (and, in TimescaleDB mode,
  its chunks and their compressed copies) over its rows, right after the backfill and,
  in TimescaleDB mode, after the columnstore policy ran (its job started by hand with
  `CALL run_job(...)`, so the figure does not wait for the schedule); plus the
  compressed chunks alone (`chunk_compression_stats`) over the rows they hold;
- a daily upsert into old history: one past day's rows of the whole exchange sent
  again with a changed volume, through the writer's merge path (`write_frames`, as the
  I/O manager calls it); in TimescaleDB mode that day lies in a compressed chunk;
- one ticker's full-history refetch with every adjusted close changed (what
  `eod_adjustments` merges after a split or dividend), into compressed chunks in
  TimescaleDB mode.

TimescaleDB refuses a DML transaction that decompresses more than
`timescaledb.max_tuples_decompressed_per_dml_transaction` rows (default 100,000): a merge
decompresses the whole segment (a ticker's rows in that chunk, ~250 a year) of every row
it touches, so a whole exchange-day of more than ~400 tickers, or a batch of refetched
histories, exceeds it. A merge refused that way is reported as such and timed again with
the limit lifted for the session (`= 0`), which is what the writer would need to do.

Each merge changes every row it sends (the worst case: every row updated and recorded in
eod.price_revisions). Days and tickers differ between repeats, so each lands in history
no earlier repeat touched.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from dataclasses import dataclass, field

import polars as pl
import psycopg

from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.storage import hypertable_names
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.writer import WriteReport, write_frames

#: Policy procedures of the columnstore, by TimescaleDB release (renamed in 2.18).
_POLICY_PROCS = ("policy_compression", "policy_columnstore")


@dataclass
class StorageFigures:
    hypertable: bool
    rows: int
    bytes_before: int
    bytes_after: int | None = None
    compressed_rows: int = 0
    compressed_bytes_before: int = 0
    compressed_bytes_after: int = 0
    policy_s: float | None = None
    chunks: str = ""
    daily: list[tuple[dt.date, int, float, bool]] = field(default_factory=list)
    refetch: list[tuple[str, int, float, bool]] = field(default_factory=list)
    #: Merges refused under TimescaleDB's default decompression limit, with its message.
    refused: list[str] = field(default_factory=list)

    def lines(self, label: str) -> list[str]:
        out = [f"{label} eod.prices {self.rows:,} rows: {self.bytes_before / self.rows:.1f} "
               f"bytes/row after the backfill ({self.bytes_before / 2**20:.0f} MB)"]
        if self.bytes_after is not None:
            out.append(
                f"{label} after the columnstore policy ({self.policy_s:.1f} s; {self.chunks}):"
                f" {self.bytes_after / self.rows:.1f} bytes/row for the whole table "
                f"({self.bytes_after / 2**20:.0f} MB)")
        if self.compressed_rows:
            out.append(
                f"{label} compressed chunks alone: {self.compressed_rows:,} rows, "
                f"{self.compressed_bytes_before / self.compressed_rows:.1f} bytes/row "
                f"before, {self.compressed_bytes_after / self.compressed_rows:.1f} after "
                f"(x{self.compressed_bytes_before / max(self.compressed_bytes_after, 1):.1f})")
        for day, rows, seconds, compressed in self.daily:
            out.append(f"{label} daily upsert of {day} ({rows:,} rows, all changed"
                       f"{', compressed chunk' if compressed else ''}): {seconds:.2f} s")
        for symbol, rows, seconds, compressed in self.refetch:
            out.append(f"{label} full-history refetch of {symbol} ({rows:,} rows, all "
                       f"changed{', into compressed chunks' if compressed else ''}): "
                       f"{seconds:.2f} s")
        for what in self.refused:
            out.append(f"{label} REFUSED with TimescaleDB's default limit: {what}")
        for name, runs in (("daily upsert", [d[2] for d in self.daily]),
                           ("ticker refetch", [r[2] for r in self.refetch])):
            if runs:
                out.append(f"{label} {name} s over {len(runs)}: min {min(runs):.2f} median "
                           f"{statistics.median(runs):.2f} max {max(runs):.2f}")
        return out

    @property
    def compressed_bytes_per_row(self) -> float | None:
        if not self.compressed_rows:
            return None
        return self.compressed_bytes_after / self.compressed_rows


def _table_bytes(conn: psycopg.Connection, hypertable: bool) -> int:
    query = ("SELECT hypertable_size('eod.prices')" if hypertable
             else "SELECT pg_total_relation_size('eod.prices')")
    return int(conn.execute(query).fetchone()[0] or 0)


def _run_policy(conn: psycopg.Connection) -> float:
    jobs = [r[0] for r in conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs WHERE hypertable_schema = 'eod' "
        "AND hypertable_name = 'prices' AND proc_name = ANY(%s)", (list(_POLICY_PROCS),))]
    if not jobs:
        raise SystemExit("eod.prices has no columnstore policy job")
    began = time.perf_counter()
    for job in jobs:
        conn.execute("CALL run_job(%s)", (job,))
    return time.perf_counter() - began


def _compressed_chunks(conn: psycopg.Connection) -> list[tuple[dt.date, dt.date]]:
    return [(r[0], r[1]) for r in conn.execute(
        "SELECT range_start::date, range_end::date FROM timescaledb_information.chunks "
        "WHERE hypertable_schema = 'eod' AND hypertable_name = 'prices' AND is_compressed "
        "ORDER BY range_start")]


def _in_compressed(chunks: list[tuple[dt.date, dt.date]], day: dt.date) -> bool:
    return any(start <= day < end for start, end in chunks)


def measure_storage(url: str, exchange: str, merges: int = 3) -> StorageFigures:
    """Sizes before/after the columnstore policy, then `merges` daily upserts and
    `merges` ticker refetches into old history (see the module's docstring)."""
    with psycopg.connect(url, autocommit=True) as conn:
        hypertable = "prices" in hypertable_names(conn)
        conn.execute("VACUUM ANALYZE eod.prices")
        rows = int(conn.execute("SELECT count(*) FROM eod.prices").fetchone()[0])
        figures = StorageFigures(hypertable, rows, _table_bytes(conn, hypertable))
        chunks: list[tuple[dt.date, dt.date]] = []
        if hypertable:
            figures.policy_s = _run_policy(conn)
            conn.execute("VACUUM ANALYZE eod.prices")
            figures.bytes_after = _table_bytes(conn, True)
            chunks = _compressed_chunks(conn)
            total = conn.execute(
                "SELECT count(*) FROM timescaledb_information.chunks "
                "WHERE hypertable_schema = 'eod' AND hypertable_name = 'prices'").fetchone()[0]
            figures.chunks = f"{len(chunks)} of {total} chunks compressed"
            stats = conn.execute(
                "SELECT coalesce(sum(before_compression_total_bytes), 0), "
                "coalesce(sum(after_compression_total_bytes), 0) "
                "FROM chunk_compression_stats('eod.prices') "
                "WHERE compression_status = 'Compressed'").fetchone()
            figures.compressed_bytes_before, figures.compressed_bytes_after = map(int, stats)
            for start, end in chunks:
                figures.compressed_rows += int(conn.execute(
                    "SELECT count(*) FROM eod.prices WHERE date >= %s AND date < %s",
                    (start, end)).fetchone()[0])
        # Old history: days around 3 to 6 years back, tickers with the longest histories.
        newest = conn.execute("SELECT max(date) FROM eod.prices").fetchone()[0]
        days = [r[0] for r in conn.execute(
            "SELECT DISTINCT date FROM eod.prices WHERE date BETWEEN %s AND %s "
            "ORDER BY date DESC LIMIT %s",
            (newest - dt.timedelta(days=6 * 365), newest - dt.timedelta(days=3 * 365),
             merges * 40))][::40][:merges]
        symbols = [r[0] for r in conn.execute(
            "SELECT symbol FROM eod.prices WHERE exchange = %s GROUP BY symbol "
            "ORDER BY count(*) DESC, symbol LIMIT %s", (exchange, merges))]
    with psycopg.connect(url) as conn:
        for day in days:
            where = TableSlice(PRICES, {"exchange": [exchange]}, DateRange("date", day, day))
            frame = read_slice(conn, PRICES, where).with_columns(pl.col("volume") + 1)
            conn.commit()
            report, seconds = _timed_merge(conn, frame, where, f"daily upsert of {day}",
                                           figures)
            _check(report.updated, frame.height, f"daily upsert of {day}")
            figures.daily.append((day, frame.height, seconds, _in_compressed(chunks, day)))
        for symbol in symbols:
            where = TableSlice(PRICES, {"exchange": [exchange], "symbol": [symbol]},
                               DateRange("date", dt.date(1900, 1, 1), newest))
            frame = read_slice(conn, PRICES, where).with_columns(
                (pl.col("adjusted_close") * 1.001).round(4))
            conn.commit()
            report, seconds = _timed_merge(conn, frame, where, f"refetch of {symbol}",
                                           figures)
            _check(report.updated, frame.height, f"refetch of {symbol}")
            spans = frame.select(pl.col("date").min().alias("a"), pl.col("date").max().alias("b"))
            first, last = spans.row(0)
            figures.refetch.append((symbol, frame.height, seconds,
                                    any(first < end and start <= last for start, end in chunks)))
    return figures


def _timed_merge(conn: psycopg.Connection, frame: pl.DataFrame, where: TableSlice,
                 what: str, figures: StorageFigures) -> tuple[WriteReport, float]:
    """`write_frames` timed; refused by the decompression limit, noted and redone with the
    limit lifted for this session (the refused attempt rolled back whole)."""
    began = time.perf_counter()
    try:
        report = write_frames(conn, PRICES, frame, where)
    except psycopg.errors.ConfigurationLimitExceeded as exc:
        refused_after = time.perf_counter() - began
        figures.refused.append(f"{what} ({frame.height:,} rows), after {refused_after:.2f} s: "
                               f"{str(exc).splitlines()[0]} ({exc.diag.message_detail})")
        conn.rollback()
        conn.execute("SET timescaledb.max_tuples_decompressed_per_dml_transaction = 0")
        conn.commit()
        began = time.perf_counter()
        report = write_frames(conn, PRICES, frame, where)
    return report, time.perf_counter() - began


def _check(updated: int, sent: int, what: str) -> None:
    if updated != sent:
        print(f"note: {what}: {updated:,} of {sent:,} rows updated (rows with a null "
              "value stay unchanged)", flush=True)
