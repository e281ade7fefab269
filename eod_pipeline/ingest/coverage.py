"""What the warehouse already knows, from `eod.fetch_log`: the basis of resume and planning.

Only facts count. A fetch of ticker T over [a, b] whose batch was committed means every
trading day of [a, b] is known for T (including days with no row: the source had none).
A bulk fetch of day d means d is known for every ticker of the exchange. Nothing else is
known: a ticker's first or last stored row says nothing about the days beyond it (the
boundary day may be a holiday the calendar never named, a halt, a sparse ticker), so no
listing or delisting bound is ever inferred from it. A range the log does not cover is
fetched, whatever the neighbouring rows suggest.

The log entries are written by the table writer in the same transaction as the rows they
describe (`warehouse/batches.py`), so "known" is never claimed for rows that are not
stored.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import polars as pl
import psycopg

from eod_pipeline.warehouse import fetch_log
from eod_pipeline.warehouse.tables import FETCH_LOG

Interval = tuple[dt.date, dt.date]  # inclusive


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of intervals (adjacent days joined)."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + dt.timedelta(days=1):
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


@dataclass
class Coverage:
    """Known days of one exchange and dataset."""

    bulk_days: set[dt.date] = field(default_factory=set)
    #: symbol -> merged intervals its own fetches covered.
    tickers: dict[str, list[Interval]] = field(default_factory=dict)

    def known(self, symbol: str) -> list[Interval]:
        return self.tickers.get(symbol, [])



#: Days from `day` on, as fetched before `published`, count as not known: the revision
#: window of the daily refresh, where late corrections land. A fetch made after the
#: newest day's data came out already holds the corrections published by then.
Stale = tuple[dt.date, dt.datetime]


def coverage_of(entries: Iterable[fetch_log.Entry], stale: Stale | None = None) -> Coverage:
    """Coverage from log entries (pure, so planning is testable without a database)."""
    coverage = Coverage()
    raw: dict[str, list[Interval]] = defaultdict(list)
    for symbol, start, end, _rows, fetched_at in entries:
        if stale is not None and end >= stale[0] and fetched_at < stale[1]:
            end = stale[0] - dt.timedelta(days=1)
            if end < start:
                continue
        if symbol is None:
            day = start
            while day <= end:
                coverage.bulk_days.add(day)
                day += dt.timedelta(days=1)
        else:
            raw[symbol].append((start, end))
    coverage.tickers = {s: merge(iv) for s, iv in raw.items()}
    return coverage


def load_coverage(conn: psycopg.Connection, exchange: str, dataset: str = "prices",
                  stale: Stale | None = None) -> Coverage:
    return coverage_of(fetch_log.entries(conn, exchange, dataset), stale)


def log_frame(exchange: str, dataset: str, run_id: str,
              entries: Sequence[tuple[str | None, dt.date, dt.date, int, int,
                                      dt.date | None, dt.date | None]],
              fetched_at: dt.datetime | None = None) -> pl.DataFrame:
    """Fetch-log rows for requests whose answers are in the same batch:
    (symbol or None for bulk, start, end, rows stored, rows rejected, first, last).

    `fetched_at` defaults to now; a run on a simulated clock passes that clock's time,
    since the revision window compares it with when a day's data was published."""
    now = fetched_at or dt.datetime.now(dt.UTC)
    columns = list(zip(*entries, strict=True)) if entries else [[]] * 7
    symbols, starts, ends, stored, rejected, firsts, lasts = columns
    n = len(entries)
    return pl.DataFrame(
        {
            "exchange": [exchange] * n,
            "dataset": [dataset] * n,
            "symbol": list(symbols),
            "start_date": list(starts),
            "end_date": list(ends),
            "rows": list(stored),
            "first_date": list(firsts),
            "last_date": list(lasts),
            "run_id": [run_id] * n,
            "fetched_at": [now] * n,
            "rejected": list(rejected),
        },
        schema=FETCH_LOG.polars_schema,
    )
