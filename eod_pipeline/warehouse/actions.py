"""Reads about corporate actions: which tickers' stored history a split or dividend
re-adjusts."""

from __future__ import annotations

import datetime as dt

import psycopg

#: A ticker whose history [first, last] must be fetched again.
Refetch = tuple[str, dt.date, dt.date]


def tickers_to_readjust(conn: psycopg.Connection, exchange: str, start: dt.date,
                        end: dt.date) -> list[Refetch]:
    """Tickers with a split or dividend dated in [start, end], with the span to refetch:
    from their first stored row through `end`.

    Why through `end` and not up to the earliest action: every action in the range
    changes adjusted_close of all rows before it, so rows between two actions of the
    range (a dividend in October, a split in November) must be refetched too.

    A ticker is skipped only when an `adjustments` fetch already covered that span
    after the newest of its actions was recorded (the actions' own fetch-log entries
    say when): an action learned later always triggers a new refetch.
    """
    rows = conn.execute(
        "WITH actions AS ("
        " SELECT symbol, date FROM eod.splits WHERE exchange = %(x)s"
        "  AND date BETWEEN %(a)s AND %(b)s"
        " UNION ALL SELECT symbol, date FROM eod.dividends WHERE exchange = %(x)s"
        "  AND date BETWEEN %(a)s AND %(b)s),"
        " learned AS (SELECT a.symbol, max(f.fetched_at) AS at FROM actions a"
        "  JOIN eod.fetch_log f ON f.exchange = %(x)s"
        "  AND f.dataset IN ('splits', 'dividends')"
        "  AND (f.symbol IS NULL OR f.symbol = a.symbol)"
        "  AND f.start_date <= a.date AND f.end_date >= a.date GROUP BY a.symbol),"
        " stored AS (SELECT p.symbol, min(p.date) AS first FROM eod.prices p"
        "  WHERE p.exchange = %(x)s AND p.date <= %(b)s"
        "  AND p.symbol IN (SELECT symbol FROM actions) GROUP BY p.symbol)"
        " SELECT s.symbol, s.first FROM stored s LEFT JOIN learned l USING (symbol)"
        " WHERE NOT EXISTS (SELECT 1 FROM eod.fetch_log f WHERE f.exchange = %(x)s"
        "  AND f.dataset = 'adjustments' AND f.symbol = s.symbol"
        "  AND f.start_date <= s.first AND f.end_date >= %(b)s"
        "  AND (l.at IS NULL OR f.fetched_at > l.at))"
        " ORDER BY s.symbol",
        {"x": exchange, "a": start, "b": end},
    ).fetchall()
    return [(symbol, first, end) for symbol, first in rows]


def actions_fetched(conn: psycopg.Connection, exchange: str) -> bool:
    """Whether any split or dividend fetch of the exchange is logged: without one the
    warehouse cannot adjust prices itself, so comparing with the vendor says nothing."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM eod.fetch_log WHERE exchange = %s"
        " AND dataset IN ('splits', 'dividends'))", (exchange,)).fetchone()
    return bool(row and row[0])


def symbols_with_actions(conn: psycopg.Connection, exchange: str, start: dt.date,
                         end: dt.date) -> list[str]:
    """Tickers with a split or dividend dated in [start, end]: every earlier adjusted
    close of theirs changes with it."""
    rows = conn.execute(
        "SELECT symbol FROM eod.splits WHERE exchange = %(x)s AND date BETWEEN %(a)s AND %(b)s"
        " UNION SELECT symbol FROM eod.dividends WHERE exchange = %(x)s"
        " AND date BETWEEN %(a)s AND %(b)s ORDER BY 1",
        {"x": exchange, "a": start, "b": end}).fetchall()
    return [r[0] for r in rows]
