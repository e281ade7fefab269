"""Data-quality checks over one exchange's stored prices, as plain SQL + Python.

Each returns a `CheckOutcome`: passed, severity and metadata naming the offending tickers
and dates (the first few and the count), so the Dagster asset checks can show them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import psycopg

from eod_pipeline.markets.calendar import trading_days
from eod_pipeline.warehouse import quality_reads as reads

#: How many offenders a check's metadata quotes (the count is always given).
SHOWN = 10
#: Coverage: share of the day's active symbols with a row. Below WARN the check warns;
#: below ERROR it fails. Low-volume tickers have gaps (../shared/eodhd-api.md), so a few
#: percent missing on a given day is normal.
COVERAGE_WARN = 0.90
COVERAGE_ERROR = 0.50
#: A day-over-day close change beyond this factor (either way) with no split that day is
#: suspicious. Real moves of >3x in a day are rare outside splits and penny stocks.
SUSPICIOUS_FACTOR = 3.0
#: Tickers re-fetched by the adjustment-drift check per evaluation: each costs one API
#: call, so the sample is small; it rotates with the date so all tickers get their turn.
DRIFT_SAMPLE = 5
#: adjusted_close is published with 4 decimals; differences below this are rounding.
DRIFT_TOLERANCE = 1e-4


#: Dates a check looks at: the dates a run wrote, or None for everything stored.
Window = tuple[dt.date, dt.date] | None
#: Calendar days before a window that the move check reads, so the window's first day
#: has a previous close to compare with (covers a long weekend plus holidays).
MOVE_LOOKBACK = dt.timedelta(days=10)


#: The window of a check run on its own: everything stored.
_EVERYTHING = (dt.date.min, dt.date.max)


def _bounds(window: Window) -> dict[str, dt.date]:
    lo, hi = window or _EVERYTHING
    return {"lo": lo, "hi": hi}


@dataclass
class CheckOutcome:
    passed: bool
    warn: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def _quote(rows: list[tuple]) -> list[str]:
    return [" ".join(str(v) for v in r) for r in rows[:SHOWN]]


#: A stretch of at least this many trading days with no bar, inside a ticker's stored
#: span, where the source itself answered nothing, is reported as a possible halt (or a
#: gap in the source) until someone acknowledges it in eod.gap_acknowledgements.
HALT_MIN_DAYS = 3


def _trading_frame(lo: dt.date, hi: dt.date, holidays: set[dt.date]) -> pl.DataFrame:
    days = list(trading_days(lo, hi, holidays))
    return pl.DataFrame({"date": days}, schema={"date": pl.Date}).with_row_index("day_index")


def _span_bounds(spans: pl.DataFrame) -> tuple[dt.date, dt.date]:
    """First and last stored date of the exchange, from its tickers' spans (no second
    scan of the exchange's rows)."""
    return spans["first"].min(), spans["last"].max()  # type: ignore[return-value]


def _clip(window: Window, bounds: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    lo, hi = window if window else bounds
    return max(lo, bounds[0]), min(hi, bounds[1])


def _covered(empty: pl.DataFrame, fetched: pl.DataFrame) -> pl.DataFrame:
    """The (symbol, date) pairs of `empty` that a logged fetch covered: the source was
    asked for them and had no row."""
    bulk = fetched.filter(pl.col("symbol").is_null())
    per_ticker = fetched.filter(pl.col("symbol").is_not_null())
    by_ticker = empty.join(per_ticker, on="symbol").filter(
        pl.col("date").is_between(pl.col("start"), pl.col("end"))).select("symbol", "date")
    # Bulk entries cover whole days: their days, joined on the date (a daily-refreshed
    # exchange has thousands of bulk entries; a cross join would multiply them).
    bulk_days = bulk.select(pl.date_ranges("start", "end").alias("date")).explode("date")
    by_bulk = empty.join(bulk_days.unique(), on="date", how="semi")
    return pl.concat([by_ticker, by_bulk]).unique()


def _by_ticker(pairs: pl.DataFrame) -> list[str]:
    grouped = pairs.sort("symbol", "date").group_by("symbol", maintain_order=True).agg(
        pl.col("date"))
    out = []
    for symbol, dates in grouped.head(SHOWN).iter_rows():
        shown = ", ".join(str(d) for d in dates[:5])
        more = f" (+{len(dates) - 5} more)" if len(dates) > 5 else ""
        out.append(f"{symbol}: {shown}{more}")
    return out


def gaps(conn: psycopg.Connection, exchange: str, holidays: set[dt.date],
         window: Window = None) -> CheckOutcome:
    """Rows missing between a ticker's first and last stored row, judged by facts.

    For every ticker and every trading day (weekdays that are not known holidays) inside
    its stored span and `window`: a day with no row is a **hole** (fails) unless the
    fetch log proves the source was asked for it and answered nothing. Those answered
    gaps are normal for thin tickers; runs of HALT_MIN_DAYS or more are reported (warn)
    as possible halts until acknowledged. Weekdays on which no ticker has a row and the
    source was asked are named too: a holiday the calendar never listed, most likely.
    """
    spans = reads.ticker_spans(conn, exchange, *(window or _EVERYTHING), holidays)
    if spans.is_empty():
        return CheckOutcome(True, metadata={"note": "no prices stored yet"})
    lo, hi = _clip(window, _span_bounds(spans))
    days = _trading_frame(lo, hi, holidays)
    spans = _expected_counts(spans, days)
    # Only tickers storing fewer rows than their span has trading days can have a day
    # without a row: read their rows alone (a clean ten-year exchange reads none).
    suspects = spans.filter(pl.col("in_window") < pl.col("expected"))
    stored = reads.stored_pairs(conn, exchange, lo, hi, suspects["symbol"].to_list())
    empty = _empty_days(suspects, days, stored)
    per_day = reads.rows_per_day(conn, exchange, lo, hi)
    covered = _covered(empty, reads.fetched_spans(conn, exchange, lo, hi))
    holes = empty.join(covered, on=["symbol", "date"], how="anti")
    answered = empty.join(covered, on=["symbol", "date"], how="semi")
    halts = _long_runs(answered, days, reads.acknowledged(conn, exchange))
    stored_days = {d for d, n in per_day.items() if n}
    empty_weekdays = [d for d in days["date"].to_list() if d not in stored_days]
    unexplained = holes.filter(pl.col("date").is_in(empty_weekdays))["date"].unique()
    closed = [d for d in empty_weekdays if d not in set(unexplained.to_list())]
    return CheckOutcome(
        passed=holes.is_empty(),
        warn=bool(halts["open"]) or bool(closed),
        metadata={
            "checked": f"{lo}..{hi}",
            "missing_rows": holes.height,
            "tickers_with_missing_rows": holes["symbol"].n_unique(),
            "missing": _by_ticker(holes),
            "days_with_no_rows": len(empty_weekdays),
            "days_source_had_no_rows": [str(d) for d in closed[:SHOWN]],
            "source_gaps": answered.height,
            "possible_halts": halts["open"][:SHOWN],
            "acknowledged_halts": halts["acknowledged"][:SHOWN],
            "fix": ("missing rows were never fetched: backfill the dates named (the plan "
                    "fetches only what the fetch log lacks)" if holes.height else ""),
        },
    )


def _expected_counts(spans: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """Each ticker's span clipped to the window's trading days: `expected`, the trading
    days between its first and last stored row (by binary search, no day-by-ticker
    table)."""
    calendar = days["date"]
    first = spans["first"].clip(lower_bound=calendar.min()) if calendar.len() else spans["first"]
    last = spans["last"].clip(upper_bound=calendar.max()) if calendar.len() else spans["last"]
    expected = (calendar.search_sorted(last, side="right").cast(pl.Int64)
                - calendar.search_sorted(first, side="left").cast(pl.Int64)).clip(0)
    return spans.with_columns(expected.alias("expected"))


def _empty_days(suspects: pl.DataFrame, days: pl.DataFrame, stored: pl.DataFrame
                ) -> pl.DataFrame:
    """(symbol, date) of each suspect's trading days in its span with no stored row.

    Worked on small integers (a ticker number, a day number), not names and dates: ten
    years of 2,000 suspects is 5M (ticker, day) pairs, ~30 MB so, over 1 GB as strings."""
    tickers = suspects.select("symbol", "first", "last").with_row_index("sid")
    calendar = days["date"]
    spans = tickers.select(
        "sid",
        calendar.search_sorted(tickers["first"], side="left").cast(pl.Int32).alias("i0"),
        (calendar.search_sorted(tickers["last"], side="right").cast(pl.Int32) - 1)
        .alias("i1"))
    numbered = days.select(pl.col("day_index").cast(pl.Int32), "date")
    have = (stored.join(tickers.select("symbol", "sid"), on="symbol")
            .join(numbered, on="date").select("sid", "day_index"))
    expected = spans.filter(pl.col("i1") >= pl.col("i0")).select(
        "sid", pl.int_ranges("i0", pl.col("i1") + 1, dtype=pl.Int32).alias("day_index")
    ).explode("day_index")
    empty = expected.join(have, on=["sid", "day_index"], how="anti")
    return (empty.join(tickers.select("sid", "symbol"), on="sid")
            .join(numbered, on="day_index").select("symbol", "date"))


def _long_runs(answered: pl.DataFrame, days: pl.DataFrame, acks: pl.DataFrame
               ) -> dict[str, list[str]]:
    """Runs of HALT_MIN_DAYS+ consecutive trading days a ticker had no bar (the source
    said so), split into acknowledged ones and open ones."""
    out: dict[str, list[str]] = {"open": [], "acknowledged": []}
    if answered.is_empty():
        return out
    runs = (answered.join(days, on="date").sort("symbol", "day_index")
            .with_columns((pl.col("day_index") - pl.int_range(pl.len()).over("symbol"))
                          .alias("run"))
            .group_by("symbol", "run").agg(pl.col("date").min().alias("start"),
                                           pl.col("date").max().alias("end"), pl.len())
            .filter(pl.col("len") >= HALT_MIN_DAYS).sort("symbol", "start"))
    for symbol, start, end, n in runs.select("symbol", "start", "end", "len").iter_rows():
        ack = acks.filter((pl.col("symbol") == symbol) & (pl.col("start") <= start)
                          & (pl.col("end") >= end))
        text = f"{symbol} {start}..{end} ({n} trading days)"
        if ack.height:
            out["acknowledged"].append(f"{text}: {ack['reason'][0]}")
        else:
            out["open"].append(text)
    return out


def coverage(conn: psycopg.Connection, exchange: str, holidays: set[dt.date],
             window: Window = None) -> CheckOutcome:
    """Per trading day of `window` (default: the newest stored day), the share of the
    day's active tickers with a row.

    Active on day d: a stored row before d, and either a row on or after d or not
    delisted. Days on which no ticker has a row are left to `gaps`, which tells an
    unlisted holiday (the source was asked, answered nothing) from a day never fetched.
    """
    spans = reads.ticker_spans(conn, exchange, *(window or _EVERYTHING), holidays)
    if spans.is_empty():
        return CheckOutcome(True, metadata={"note": "no prices stored yet"})
    bounds = _span_bounds(spans)
    lo, hi = _clip(window, bounds) if window else (bounds[1], bounds[1])
    days = _trading_frame(lo, hi, holidays)["date"]
    rows = reads.rows_per_day(conn, exchange, lo, hi)
    # Counted, not joined: active(d) = #first < d - #(delisted and last < d); a stored
    # row on d is an active ticker's unless d is that ticker's first row.
    firsts = spans["first"].sort()
    gone = spans.filter(pl.col("delisted"))["last"].sort()
    per_day = pl.DataFrame({
        "date": days,
        "active": (firsts.search_sorted(days, side="left").cast(pl.Int64)
                   - gone.search_sorted(days, side="left").cast(pl.Int64)),
        "first_days": (firsts.search_sorted(days, side="right").cast(pl.Int64)
                       - firsts.search_sorted(days, side="left").cast(pl.Int64)),
        "stored": [rows.get(d, 0) for d in days.to_list()],
    }).filter((pl.col("stored") > 0) & (pl.col("active") > 0)).with_columns(
        (pl.col("active") - (pl.col("stored") - pl.col("first_days"))).clip(0)
        .alias("missing")).with_columns(
        (1 - pl.col("missing") / pl.col("active")).alias("share")).sort("share", "date")
    if per_day.is_empty():
        return CheckOutcome(True, metadata={"checked": f"{lo}..{hi}",
                                            "note": "no day with rows to judge"})
    worst = per_day.row(0, named=True)
    below_warn = per_day.filter(pl.col("share") < COVERAGE_WARN)
    day = worst["date"]
    present = set(reads.symbols_on(conn, exchange, day))
    active_then = spans.filter((pl.col("first") < day)
                               & ((pl.col("last") >= day) | ~pl.col("delisted")))
    missing_on_worst = sorted(set(active_then["symbol"].to_list()) - present)
    return CheckOutcome(
        passed=worst["share"] >= COVERAGE_ERROR,
        warn=worst["share"] < COVERAGE_WARN,
        metadata={
            "checked": f"{lo}..{hi}",
            "days_checked": per_day.height,
            "worst_day": str(worst["date"]),
            "coverage": round(worst["share"], 4),
            "active_symbols": worst["active"],
            "missing_count": worst["missing"],
            "missing": missing_on_worst[:SHOWN],
            "days_below_warn": [f"{d} {share:.1%}" for d, share in
                                below_warn.select("date", "share").head(SHOWN).iter_rows()],
        },
    )


def fetch_log_agrees(conn: psycopg.Connection, exchange: str, window: Window = None
                     ) -> CheckOutcome:
    """Fetch-log entries that claim more stored rows than eod.prices holds: data lost
    after it was logged (a delete, a restore from an older backup)."""
    lo, hi = window if window else (dt.date.min, dt.date.max)
    bad = reads.log_claims_beyond_stored(conn, exchange, lo, hi)
    shown = [f"{s or 'bulk'} {a}..{b}: logged {logged}, stored {stored}"
             for s, a, b, logged, stored in bad[:SHOWN]]
    return CheckOutcome(passed=not bad, metadata={
        "entries_short": len(bad), "short": shown,
        "fix": ("refetch the named ranges with `refetch: true`" if bad else "")})


def consistency(conn: psycopg.Connection, exchange: str, window: Window = None
                ) -> CheckOutcome:
    """OHLC relations and non-negative values in the stored rows (within `window`)."""
    bad = reads.inconsistent_rows(conn, exchange, **_bounds(window))
    return CheckOutcome(passed=not bad,
                        metadata={"bad_rows": len(bad), "examples": _quote(bad)})


def suspicious_moves(conn: psycopg.Connection, exchange: str, window: Window = None
                     ) -> CheckOutcome:
    """Day-over-day close changes beyond SUSPICIOUS_FACTOR with no split that day (on
    days within `window`)."""
    bounds = {**_bounds(window), "from": window[0] - MOVE_LOOKBACK if window else dt.date.min}
    rows = reads.unexplained_moves(conn, exchange, bounds["from"], bounds["lo"], bounds["hi"],
                                   SUSPICIOUS_FACTOR)
    return CheckOutcome(passed=not rows, warn=bool(rows),
                        metadata={"moves": len(rows), "examples": _quote(rows)})


def drift_sample(conn: psycopg.Connection, exchange: str, today: dt.date
                 ) -> list[tuple[str, dt.date, dt.date]]:
    """The tickers (with their stored range) the drift check re-fetches today."""
    rows = reads.stored_ranges(conn, exchange)
    if not rows:
        return []
    offset = today.toordinal() % len(rows)
    rotated = rows[offset:] + rows[:offset]
    return rotated[:DRIFT_SAMPLE]
