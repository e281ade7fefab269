"""Which stored-span days of some tickers have no row, split the way the gap check splits
them: **holes** (no fetch ever covered the day: never fetched) and **answered** days (a
logged fetch covered it and the source had no row: a thin ticker, a halt).

Why not a rule of its own: `eod-pipeline status --symbol` and the coverage picture must
say exactly what the `gaps` asset check says, so this calls the check's own
`eod_pipeline.quality.checks.empty_days` over the tickers asked about, and only adds
stretches and per-symbol fetch spans.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import psycopg

from eod_pipeline.quality import checks
from eod_pipeline.quality.checks import EmptyDays
from eod_pipeline.warehouse import quality_reads as reads
from eod_pipeline.warehouse.symbol_report import symbol_fetched_spans

_PAIRS = {"symbol": pl.String, "date": pl.Date}


@dataclass(frozen=True)
class Stretch:
    """Consecutive trading days one ticker has no row on."""

    symbol: str
    start: dt.date
    end: dt.date
    days: int
    acknowledged: str | None = None


def empty_days(conn: psycopg.Connection, exchange: str, spans: pl.DataFrame,
               holidays: set[dt.date], fetched: pl.DataFrame | None = None) -> EmptyDays:
    """Holes and answered days of the tickers in `spans` (symbol, first, last) over their
    whole spans; see `quality.checks.empty_days`."""
    if spans.is_empty():
        empty = pl.DataFrame(schema=_PAIRS)
        return EmptyDays(empty, empty, pl.DataFrame(schema={"day_index": pl.UInt32,
                                                            "date": pl.Date}))
    lo, hi = spans["first"].min(), spans["last"].max()
    return checks.empty_days(conn, exchange, spans, holidays, lo, hi,  # type: ignore[arg-type]
                             fetched)


def stretches(pairs: pl.DataFrame, days: pl.DataFrame,
              acknowledged: pl.DataFrame | None = None) -> list[Stretch]:
    """`pairs` as runs of consecutive trading days per ticker, each with the reason of an
    acknowledgement covering it whole (eod.gap_acknowledgements), if any."""
    if pairs.is_empty():
        return []
    runs = (pairs.join(days, on="date").sort("symbol", "day_index")
            .with_columns((pl.col("day_index").cast(pl.Int64)
                           - pl.int_range(pl.len()).over("symbol")).alias("run"))
            .group_by("symbol", "run").agg(pl.col("date").min().alias("start"),
                                           pl.col("date").max().alias("end"), pl.len())
            .sort("symbol", "start"))
    out = []
    for symbol, start, end, n in runs.select("symbol", "start", "end", "len").iter_rows():
        reason = None
        if acknowledged is not None and acknowledged.height:
            ack = acknowledged.filter((pl.col("symbol") == symbol) & (pl.col("start") <= start)
                                      & (pl.col("end") >= end))
            reason = ack["reason"][0] if ack.height else None
        out.append(Stretch(symbol, start, end, int(n), reason))
    return out


def symbol_empty_days(conn: psycopg.Connection, exchange: str, symbol: str,
                      first: dt.date | None, last: dt.date | None, holidays: set[dt.date]
                      ) -> tuple[list[Stretch], list[Stretch]]:
    """One ticker's holes and answered stretches between its first and last stored row."""
    if first is None or last is None:
        return [], []
    spans = pl.DataFrame({"symbol": [symbol], "first": [first], "last": [last]},
                         schema={"symbol": pl.String, "first": pl.Date, "last": pl.Date})
    # Only this ticker's fetches and the exchange's bulk days can cover its days.
    found = empty_days(conn, exchange, spans, holidays,
                       symbol_fetched_spans(conn, exchange, symbol, first, last))
    acks = reads.acknowledged(conn, exchange)
    return (stretches(found.holes, found.days),
            stretches(found.answered, found.days, acks))
