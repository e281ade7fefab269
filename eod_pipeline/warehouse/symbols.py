"""Upsert an exchange's symbol-list snapshot into `eod.symbols`, keeping history.

A snapshot is the full list (active and delisted) of one exchange on one day. Symbols are
never deleted: `first_seen` is kept from the first snapshot that had the symbol,
`last_seen` moves to the snapshot's day, and a symbol missing from the snapshot gets
`disappeared_on` (cleared again should it come back).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import psycopg

from eod_pipeline.warehouse.tables import SYMBOLS
from eod_pipeline.warehouse.writer import copy_frame


@dataclass(frozen=True)
class SymbolSnapshot:
    """One exchange's full symbol list as seen on one day.

    An asset returns it to the I/O manager, which stores it with `upsert_snapshot`: a
    snapshot is not a slice to merge (symbols missing from it are marked, not deleted).
    """

    exchange: str
    #: The client's SYMBOLS columns (code, name, ..., delisted).
    frame: pl.DataFrame
    seen_on: dt.date


@dataclass(frozen=True)
class SnapshotReport:
    symbols: int
    new: int
    delisted: int
    disappeared: int


def upsert_snapshot(conn: psycopg.Connection, exchange: str, snapshot: pl.DataFrame,
                    seen_on: dt.date) -> SnapshotReport:
    """`snapshot` has the client's SYMBOLS columns (code, name, ..., delisted)."""
    frame = (
        snapshot.with_columns(
            pl.lit(exchange).alias("exchange"),
            pl.col("venue").alias("venue"),
            pl.lit(seen_on).alias("first_seen"),
            pl.lit(seen_on).alias("last_seen"),
            pl.lit(None, dtype=pl.Date).alias("disappeared_on"),
        )
        # A code both listed and delisted (a reused code): the listed one wins.
        .sort("delisted")
        .unique(subset=["code"], keep="first", maintain_order=True)
        .select(SYMBOLS.column_names)
    )
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("CREATE TEMP TABLE IF NOT EXISTS _stage_symbols (LIKE eod.symbols)")
        cur.execute("TRUNCATE _stage_symbols")
        copy_frame(cur, psycopg.sql.Identifier("_stage_symbols"), SYMBOLS, frame)
        new = cur.execute(
            "WITH up AS (INSERT INTO eod.symbols AS t SELECT * FROM _stage_symbols "
            "ON CONFLICT (exchange, code) DO UPDATE SET name = EXCLUDED.name, "
            "type = EXCLUDED.type, venue = EXCLUDED.venue, currency = EXCLUDED.currency, "
            "country = EXCLUDED.country, isin = EXCLUDED.isin, "
            "last_seen = greatest(t.last_seen, EXCLUDED.last_seen), "
            "delisted = EXCLUDED.delisted, disappeared_on = NULL "
            "RETURNING (xmax = 0) AS inserted) SELECT count(*) FILTER (WHERE inserted) FROM up"
        ).fetchone()[0]
        gone = cur.execute(
            "UPDATE eod.symbols t SET disappeared_on = %s WHERE t.exchange = %s "
            "AND t.disappeared_on IS NULL AND NOT EXISTS "
            "(SELECT 1 FROM _stage_symbols s WHERE s.code = t.code)",
            (seen_on, exchange),
        ).rowcount
    return SnapshotReport(
        symbols=frame.height, new=int(new),
        delisted=int(frame["delisted"].sum()), disappeared=max(gone, 0),
    )
