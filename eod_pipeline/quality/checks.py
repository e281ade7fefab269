"""Data-quality checks over one exchange's stored prices, as plain SQL + Python.

Each returns a `CheckOutcome`: passed, severity and metadata naming the offending tickers
and dates (the first few and the count), so the Dagster asset checks can show them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg

from eod_pipeline.markets.calendar import trading_days

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


def _bounds(window: Window) -> dict[str, dt.date]:
    lo, hi = window if window else (dt.date.min, dt.date.max)
    return {"lo": lo, "hi": hi}


@dataclass
class CheckOutcome:
    passed: bool
    warn: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)


def _quote(rows: list[tuple]) -> list[str]:
    return [" ".join(str(v) for v in r) for r in rows[:SHOWN]]


def coverage(conn: psycopg.Connection, exchange: str, day: dt.date | None = None
             ) -> CheckOutcome:
    """Share of the day's active symbols with a row on the day (default: newest day).

    Active: not delisted, and with any stored row before the day (so symbols listed later,
    or never fetched, do not count against it).
    """
    if day is None:
        row = conn.execute("SELECT max(date) FROM eod.prices WHERE exchange = %s",
                           (exchange,)).fetchone()
        day = row[0] if row else None
    if day is None:
        return CheckOutcome(True, metadata={"note": "no prices stored yet"})
    missing = conn.execute(
        "SELECT s.code FROM eod.symbols s WHERE s.exchange = %(x)s AND NOT s.delisted"
        " AND EXISTS (SELECT 1 FROM eod.prices p WHERE p.exchange = %(x)s"
        "  AND p.symbol = s.code AND p.date < %(d)s)"
        " AND NOT EXISTS (SELECT 1 FROM eod.prices p WHERE p.exchange = %(x)s"
        "  AND p.symbol = s.code AND p.date = %(d)s) ORDER BY 1",
        {"x": exchange, "d": day},
    ).fetchall()
    active = conn.execute(
        "SELECT count(*) FROM eod.symbols s WHERE s.exchange = %(x)s AND NOT s.delisted"
        " AND EXISTS (SELECT 1 FROM eod.prices p WHERE p.exchange = %(x)s"
        "  AND p.symbol = s.code AND p.date < %(d)s)",
        {"x": exchange, "d": day},
    ).fetchone()[0]
    share = 1.0 - len(missing) / active if active else 1.0
    return CheckOutcome(
        passed=share >= COVERAGE_ERROR,
        warn=share < COVERAGE_WARN,
        metadata={"day": str(day), "coverage": round(share, 4), "active_symbols": active,
                  "missing_count": len(missing), "missing": [m[0] for m in missing[:SHOWN]]},
    )


def gaps(conn: psycopg.Connection, exchange: str, holidays: set[dt.date],
         window: Window = None) -> CheckOutcome:
    """Trading days between the first and last stored date (within `window`) with no rows
    at all."""
    params = {"x": exchange, **_bounds(window)}
    row = conn.execute("SELECT min(date), max(date) FROM eod.prices WHERE exchange = %(x)s"
                       " AND date BETWEEN %(lo)s AND %(hi)s", params).fetchone()
    if not row or row[0] is None:
        return CheckOutcome(True, metadata={"note": "no prices stored yet"})
    first, last = row
    stored = {r[0] for r in conn.execute(
        "SELECT DISTINCT date FROM eod.prices WHERE exchange = %(x)s"
        " AND date BETWEEN %(lo)s AND %(hi)s", params)}
    missing = [d for d in trading_days(first, last, holidays) if d not in stored]
    return CheckOutcome(
        passed=not missing,
        metadata={"first": str(first), "last": str(last), "gap_days": len(missing),
                  "gaps": [str(d) for d in missing[:SHOWN]]},
    )


def consistency(conn: psycopg.Connection, exchange: str, window: Window = None
                ) -> CheckOutcome:
    """OHLC relations and non-negative values in the stored rows (within `window`)."""
    bad = conn.execute(
        "SELECT symbol, date FROM eod.prices WHERE exchange = %(x)s"
        " AND date BETWEEN %(lo)s AND %(hi)s AND ("
        " low > high OR open < low OR open > high OR close < low OR close > high"
        " OR least(open, high, low, close, adjusted_close) < 0 OR volume < 0)"
        " ORDER BY symbol, date",
        {"x": exchange, **_bounds(window)},
    ).fetchall()
    return CheckOutcome(passed=not bad,
                        metadata={"bad_rows": len(bad), "examples": _quote(bad)})


def suspicious_moves(conn: psycopg.Connection, exchange: str, window: Window = None
                     ) -> CheckOutcome:
    """Day-over-day close changes beyond SUSPICIOUS_FACTOR with no split that day (on
    days within `window`)."""
    bounds = {**_bounds(window), "from": window[0] - MOVE_LOOKBACK if window else dt.date.min}
    rows = conn.execute(
        "WITH moves AS (SELECT symbol, date, close,"
        "  lag(close) OVER (PARTITION BY symbol ORDER BY date) AS prev"
        "  FROM eod.prices WHERE exchange = %(x)s AND date BETWEEN %(from)s AND %(hi)s)"
        " SELECT m.symbol, m.date, m.prev, m.close FROM moves m"
        " WHERE m.date >= %(lo)s AND m.prev > 0 AND m.close > 0"
        " AND (m.close / m.prev > %(f)s OR m.prev / m.close > %(f)s)"
        " AND NOT EXISTS (SELECT 1 FROM eod.splits s WHERE s.exchange = %(x)s"
        "  AND s.symbol = m.symbol AND s.date = m.date)"
        " ORDER BY m.symbol, m.date",
        {"x": exchange, "f": SUSPICIOUS_FACTOR, **bounds},
    ).fetchall()
    return CheckOutcome(passed=not rows, warn=bool(rows),
                        metadata={"moves": len(rows), "examples": _quote(rows)})


def drift_sample(conn: psycopg.Connection, exchange: str, today: dt.date
                 ) -> list[tuple[str, dt.date, dt.date]]:
    """The tickers (with their stored range) the drift check re-fetches today."""
    rows = conn.execute(
        "SELECT symbol, min(date), max(date) FROM eod.prices WHERE exchange = %s "
        "GROUP BY symbol ORDER BY symbol",
        (exchange,),
    ).fetchall()
    if not rows:
        return []
    offset = today.toordinal() % len(rows)
    rotated = rows[offset:] + rows[:offset]
    return rotated[:DRIFT_SAMPLE]
