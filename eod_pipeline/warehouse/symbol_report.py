"""Reads about one ticker, for `eod-pipeline status --symbol`: its listing, stored range,
fetches, corporate actions and revisions, as plain dataclasses.

Why a module of its own: the per-exchange reads (`queries`, `quality_reads`) aggregate
over every ticker; these read one ticker by its key (`exchange, symbol`, the leading
columns of every table's primary key or index), so they stay fast on a large exchange.
Which of its days are holes is decided by the gap check's rules (`reports.holes`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import psycopg

from eod_pipeline.warehouse.quality_reads import PRICE_DATASETS
from eod_pipeline.warehouse.tables import PRICE_REVISIONS, PRICES

#: Revisions listed in full (the count is always given): the newest first.
SHOWN_REVISIONS = 10

#: Price columns a revision can change, in the order they are shown.
REVISED_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in PRICES.columns if c.name not in PRICES.primary_key)


@dataclass(frozen=True)
class Listing:
    """The ticker's row in eod.symbols (absent when the symbol list never named it)."""

    name: str | None
    type: str | None
    currency: str | None
    first_seen: dt.date
    last_seen: dt.date
    delisted: bool
    disappeared_on: dt.date | None


@dataclass(frozen=True)
class FetchEntry:
    """One eod.fetch_log entry covering the ticker: its own, or a bulk day (symbol None)."""

    dataset: str
    symbol: str | None
    start: dt.date
    end: dt.date
    rows: int
    run_id: str
    fetched_at: dt.datetime


@dataclass(frozen=True)
class Split:
    date: dt.date
    split: str


@dataclass(frozen=True)
class Dividend:
    date: dt.date
    value: float
    currency: str | None
    payment_date: dt.date | None


@dataclass(frozen=True)
class Revision:
    """A stored row that a later fetch changed: the columns changed, old -> new."""

    date: dt.date
    seen_at: dt.datetime
    run_id: str
    changes: dict[str, tuple[object, object]]


@dataclass(frozen=True)
class SymbolReport:
    exchange: str
    symbol: str
    listing: Listing | None
    rows: int
    first: dt.date | None
    last: dt.date | None
    last_fetch: FetchEntry | None
    fetches: int
    splits: list[Split] = field(default_factory=list)
    dividends: list[Dividend] = field(default_factory=list)
    revisions: list[Revision] = field(default_factory=list)
    revision_count: int = 0


def exchanges_with(conn: psycopg.Connection, symbol: str, exchanges: list[str]) -> list[str]:
    """The exchanges among `exchanges` whose symbol list or prices know `symbol`."""
    rows = conn.execute(
        "SELECT x FROM unnest(%(xs)s::text[]) AS x WHERE"
        " EXISTS (SELECT 1 FROM eod.symbols WHERE exchange = x AND code = %(s)s)"
        " OR EXISTS (SELECT 1 FROM eod.prices WHERE exchange = x AND symbol = %(s)s)"
        " ORDER BY array_position(%(xs)s::text[], x)",
        {"xs": exchanges, "s": symbol}).fetchall()
    return [r[0] for r in rows]


def symbol_report(conn: psycopg.Connection, exchange: str, symbol: str) -> SymbolReport:
    """Everything the warehouse knows about `symbol` on `exchange` (holes aside)."""
    params = {"x": exchange, "s": symbol}
    listing = conn.execute(
        "SELECT name, type, currency, first_seen, last_seen, delisted, disappeared_on"
        " FROM eod.symbols WHERE exchange = %(x)s AND code = %(s)s", params).fetchone()
    rows, first, last = conn.execute(
        "SELECT count(*), min(date), max(date) FROM eod.prices"
        " WHERE exchange = %(x)s AND symbol = %(s)s", params).fetchone() or (0, None, None)
    # The ticker's own entries and the exchange's bulk days: both fetched its prices.
    fetch_filter = (" FROM eod.fetch_log WHERE exchange = %(x)s AND dataset = ANY(%(ds)s)"
                    " AND (symbol = %(s)s OR symbol IS NULL)")
    fetch_params = {**params, "ds": PRICE_DATASETS}
    fetches = conn.execute("SELECT count(*)" + fetch_filter, fetch_params).fetchone()
    last_fetch = conn.execute(
        "SELECT dataset, symbol, start_date, end_date, rows, run_id, fetched_at"
        + fetch_filter + " ORDER BY fetched_at DESC, symbol NULLS LAST LIMIT 1",
        fetch_params).fetchone()
    splits = conn.execute(
        "SELECT date, split FROM eod.splits WHERE exchange = %(x)s AND symbol = %(s)s"
        " ORDER BY date", params).fetchall()
    dividends = conn.execute(
        "SELECT date, value, currency, payment_date FROM eod.dividends"
        " WHERE exchange = %(x)s AND symbol = %(s)s ORDER BY date", params).fetchall()
    revision_count, revisions = _revisions(conn, params)
    return SymbolReport(
        exchange=exchange, symbol=symbol,
        listing=Listing(*listing) if listing else None,
        rows=int(rows), first=first, last=last,
        last_fetch=FetchEntry(*last_fetch) if last_fetch else None,
        fetches=int(fetches[0]) if fetches else 0,
        splits=[Split(*r) for r in splits],
        dividends=[Dividend(*r) for r in dividends],
        revisions=revisions, revision_count=revision_count,
    )


def _revisions(conn: psycopg.Connection, params: dict[str, str]
               ) -> tuple[int, list[Revision]]:
    """How many revisions the ticker has, and the newest SHOWN_REVISIONS with only the
    columns that changed."""
    count = conn.execute(
        f"SELECT count(*) FROM {PRICE_REVISIONS.qualified_name}"
        " WHERE exchange = %(x)s AND symbol = %(s)s", params).fetchone()
    columns = [f"old_{c}, new_{c}" for c in REVISED_COLUMNS]
    rows = conn.execute(
        f"SELECT date, seen_at, run_id, {', '.join(columns)}"
        f" FROM {PRICE_REVISIONS.qualified_name} WHERE exchange = %(x)s AND symbol = %(s)s"
        " ORDER BY seen_at DESC, date DESC LIMIT %(n)s",
        {**params, "n": SHOWN_REVISIONS}).fetchall()
    out = []
    for date, seen_at, run_id, *values in rows:
        changes = {name: (values[2 * i], values[2 * i + 1])
                   for i, name in enumerate(REVISED_COLUMNS)
                   if values[2 * i] != values[2 * i + 1]}
        out.append(Revision(date, seen_at, run_id, changes))
    return (int(count[0]) if count else 0), out


def symbol_fetched_spans(conn: psycopg.Connection, exchange: str, symbol: str, lo: dt.date,
                         hi: dt.date) -> pl.DataFrame:
    """`quality_reads.fetched_spans` narrowed to what can cover `symbol`: its own price
    fetches and the exchange's bulk days (symbol null) overlapping [lo, hi]. On a large
    exchange the unfiltered read returns every ticker's entries."""
    rows = conn.execute(
        "SELECT symbol, start_date, end_date FROM eod.fetch_log WHERE exchange = %(x)s"
        " AND dataset = ANY(%(ds)s) AND (symbol = %(s)s OR symbol IS NULL)"
        " AND end_date >= %(lo)s AND start_date <= %(hi)s",
        {"x": exchange, "ds": PRICE_DATASETS, "s": symbol, "lo": lo, "hi": hi}).fetchall()
    return pl.DataFrame(rows, schema={"symbol": pl.String, "start": pl.Date, "end": pl.Date},
                        orient="row")
