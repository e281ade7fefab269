"""Reading the warehouse into polars: prices (raw or adjusted, latest or as of a time),
weekly and monthly bars, the universe on a date.

This module checks arguments and turns mistakes into one clear `ReadError` naming the
problem and the fix; the SQL and every computed figure live in the warehouse
(`eod_pipeline.warehouse.price_reads` calls the functions of `warehouse/views.py`).
It never starts the embedded cluster: the URL is `database_url`, else EOD_DATABASE_URL,
else the embedded cluster if it is running (`eod-pipeline db start`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import polars as pl

from eod_pipeline.warehouse import price_reads
from eod_pipeline.warehouse.connection import resolve_database_url
from eod_pipeline.warehouse.views import COLUMNS, FUNCTIONS

if TYPE_CHECKING:
    import psycopg

Adjust = Literal["total", "split", "raw", "vendor"]
Every = Literal["1w", "1mo"]

#: What each `adjust` mode means, for help and error messages.
ADJUST_MODES: dict[str, str] = {
    "total": "splits and dividends (OHLC; close equals EODHD's adjusted_close)",
    "split": "splits only (OHLC and volume)",
    "raw": "as traded, nothing adjusted",
    "vendor": "raw OHLCV plus EODHD's own stored adjusted_close",
}


class ReadError(ValueError):
    """A read the warehouse cannot answer as asked; the message says how to fix it."""


DateLike = dt.date | str | None
TimeLike = dt.datetime | dt.date | str | None


def _date(value: DateLike, name: str) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ReadError(f"{name}={value!r} is not a date: pass a datetime.date or "
                        "'YYYY-MM-DD'") from None


def _as_of(value: TimeLike) -> dt.datetime | None:
    """A timezone-aware instant. A date means the end of that day in UTC (what the
    warehouse held once the day was over); a naive datetime is taken as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = (dt.date.fromisoformat(value) if len(value) == 10
                     else dt.datetime.fromisoformat(value))
        except ValueError:
            raise ReadError(f"as_of={value!r} is not a time: pass a datetime, a date or an "
                            "ISO string such as '2026-03-31T18:00:00+00:00'") from None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time.max)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _adjust(adjust: str) -> str:
    if adjust not in FUNCTIONS:
        modes = "; ".join(f"{k!r}: {v}" for k, v in ADJUST_MODES.items())
        raise ReadError(f"adjust={adjust!r} is not a known adjustment: use one of {modes}")
    return adjust


def _symbols(symbols: str | Sequence[str] | None) -> list[str] | None:
    if symbols is None:
        return None
    listed = [symbols] if isinstance(symbols, str) else list(symbols)
    if not listed:
        raise ReadError("symbols=[] asks for nothing: pass ticker codes, or symbols=None "
                        "for every ticker of the exchange")
    return listed


def _span(start: DateLike, end: DateLike) -> tuple[dt.date | None, dt.date | None]:
    first, last = _date(start, "start"), _date(end, "end")
    if first is not None and last is not None and first > last:
        raise ReadError(f"start {first} is after end {last}: pass start <= end (swap them)")
    return first, last


def _columns(adjust: str, columns: Sequence[str] | None) -> list[str]:
    available = (*COLUMNS[adjust], price_reads.LISTED_AS)
    if columns is None:
        return list(available)
    unknown = [c for c in columns if c not in available]
    if unknown:
        hint = (" (adjusted_close is EODHD's stored value: read it with adjust='vendor')"
                if "adjusted_close" in unknown else "")
        raise ReadError(f"column(s) {', '.join(map(repr, unknown))} are not in "
                        f"adjust={adjust!r} reads: choose from {', '.join(available)}{hint}")
    return list(columns)


def _check_exchange_and_symbols(conn, exchange: str, symbols: list[str] | None) -> None:
    if symbols is None:
        if not price_reads.exchange_has_prices(conn, exchange):
            raise ReadError(f"the warehouse holds no prices for exchange {exchange!r}: check "
                            "the code (EODHD's, e.g. 'US', 'LSE', 'XETRA') or backfill it first")
        return
    unknown = price_reads.unknown_symbols(conn, exchange, symbols)
    if unknown:
        hints = {s: price_reads.similar_symbols(conn, exchange, s) for s in unknown[:3]}
        said = "; ".join(f"{s!r} (did you mean {', '.join(h)}?)" if h else repr(s)
                         for s, h in hints.items())
        more = " ..." if len(unknown) > 3 else ""
        raise ReadError(f"unknown symbol(s) on {exchange}: {said}{more}"
                        ". Tickers are EODHD's codes without the exchange suffix, spelled "
                        "exactly (e.g. 'BRK-B', not 'BRK.B.US'); "
                        "read.universe(exchange, on=date) lists them")


def _check_as_of(conn, exchange: str, as_of: dt.datetime | None) -> None:
    if as_of is None:
        return
    first = price_reads.first_price_fetch(conn, exchange)
    if first is None:
        raise ReadError(f"as_of={as_of.isoformat()} cannot be answered: the fetch log holds "
                        f"no price fetch of {exchange}, so nothing says when its rows were "
                        "stored; omit as_of to read the latest values")
    if as_of < first:
        raise ReadError(f"as_of={as_of.isoformat()} is before any data of {exchange} was "
                        f"stored (first at {first.isoformat()}): pass an as_of at or after "
                        "it, or omit as_of for the latest values")


@dataclass(frozen=True)
class _Request:
    """The validated arguments every price read shares."""

    symbols: list[str] | None
    first: dt.date | None
    last: dt.date | None
    as_of: dt.datetime | None


def _request(symbols: str | Sequence[str] | None, start: DateLike, end: DateLike,
             as_of: TimeLike) -> _Request:
    first, last = _span(start, end)
    return _Request(_symbols(symbols), first, last, _as_of(as_of))


@contextlib.contextmanager
def _checked_session(database_url: str | None, exchange: str, request: _Request
                     ) -> Iterator[psycopg.Connection]:
    """A read session on which the exchange, symbols and as_of were checked (clear errors
    before any read)."""
    with price_reads.session(resolve_database_url(database_url)) as conn:
        _check_exchange_and_symbols(conn, exchange, request.symbols)
        _check_as_of(conn, exchange, request.as_of)
        yield conn


def prices(exchange: str, symbols: str | Sequence[str] | None = None, start: DateLike = None,
           end: DateLike = None, adjust: Adjust = "total", as_of: TimeLike = None,
           columns: Sequence[str] | None = None, database_url: str | None = None
           ) -> pl.DataFrame:
    """Daily bars of `exchange` (all tickers, or `symbols`) between `start` and `end`
    (inclusive), ordered by symbol and date.

    adjust: "total" (splits and dividends, EODHD's method: `close` equals EODHD's
    adjusted_close; OHLC rounded to 4 decimals; volume split-adjusted), "split" (splits
    only, OHLC and volume), "raw" (as traded), "vendor" (raw OHLCV plus EODHD's stored
    adjusted_close).
    as_of: what the warehouse held at that time: rows stored later are left out, values
    revised later are returned as they were, and only splits/dividends stored by then
    adjust them. None: the latest values.
    columns: a subset of exchange, symbol, date, open, high, low, close, volume,
    listed_as (and adjusted_close with adjust="vendor").

    Renamed tickers (eod.symbol_changes, e.g. FB -> META): asking for the NEW code
    returns one series labelled with it: rows stored under the old code before the
    change date, under the new code from it (`listed_as` says which; elsewhere it equals
    `symbol`). Adjusted modes apply the actions of both codes as one ticker's, so a
    split after the change adjusts the old code's rows too. Asking for the OLD code
    returns its own rows only (a code renamed away is not followed forward). A reused
    code's previous holder (EODHD's `ABC_old`) stays a ticker of its own, and rows
    stored under the new code before its change date are left out of its series. With
    `as_of`, a change is followed only if effective by then: eod.symbol_changes records
    no time of learning, and EODHD reports a change once it takes effect. symbols=None
    reads every stored code as itself (no following, so no row twice).
    """
    mode = _adjust(adjust)
    wanted = _columns(mode, columns)
    request = _request(symbols, start, end, as_of)
    with _checked_session(database_url, exchange, request) as conn:
        return price_reads.read_prices(conn, exchange, request.symbols, request.first,
                                       request.last, mode, request.as_of, wanted)


def bars(exchange: str, symbols: str | Sequence[str] | None = None, start: DateLike = None,
         end: DateLike = None, every: Every = "1w", adjust: Adjust = "total",
         as_of: TimeLike = None, database_url: str | None = None) -> pl.DataFrame:
    """Weekly (`every="1w"`, weeks from Monday) or monthly (`"1mo"`) bars built in the
    warehouse from the daily `adjust` view (same arguments as `prices`): `date` is the
    period's first day, open/close the first/last session's, high/low the extremes,
    volume the sum, `bars` the number of sessions. Renames are not followed here (each
    stored code is its own ticker): read the daily series with `prices` and group it."""
    if every not in price_reads.PERIODS:
        raise ReadError(f"every={every!r} is not a bar period: use '1w' (weekly) or '1mo' "
                        "(monthly); daily bars are read.prices(...)")
    mode = _adjust(adjust)
    request = _request(symbols, start, end, as_of)
    with _checked_session(database_url, exchange, request) as conn:
        return price_reads.read_bars(conn, exchange, request.symbols, request.first,
                                     request.last, mode, request.as_of, every)


def universe(exchange: str, on: dt.date | str, database_url: str | None = None
             ) -> pl.DataFrame:
    """The tickers of `exchange` listed on `on`, delisted ones included (survivorship
    free): symbol, name, type, first and last stored bar, delisted flag. A renamed
    security is listed under the code it had on `on` (eod.symbol_changes): its old code
    before the change date, its new code from it."""
    day = _date(on, "on")
    if day is None:
        raise ReadError("on=None: pass the date whose universe you want")
    with price_reads.session(resolve_database_url(database_url)) as conn:
        return price_reads.universe_on(conn, exchange, day)
