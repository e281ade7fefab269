"""Small read queries shared by assets, sensors, checks and the CLI."""

from __future__ import annotations

import datetime as dt

import psycopg


def holidays(conn: psycopg.Connection, exchange: str) -> set[dt.date]:
    rows = conn.execute(
        "SELECT date FROM eod.exchange_holidays WHERE exchange = %s", (exchange,)
    ).fetchall()
    return {r[0] for r in rows}


def symbol_codes(conn: psycopg.Connection, exchange: str) -> list[str]:
    rows = conn.execute(
        "SELECT code FROM eod.symbols WHERE exchange = %s ORDER BY code", (exchange,)
    ).fetchall()
    return [r[0] for r in rows]


def rows_on(conn: psycopg.Connection, exchange: str, day: dt.date) -> int:
    row = conn.execute(
        "SELECT count(*) FROM eod.prices WHERE exchange = %s AND date = %s", (exchange, day)
    ).fetchone()
    return int(row[0]) if row else 0


def newest_date(conn: psycopg.Connection, exchange: str) -> dt.date | None:
    row = conn.execute(
        "SELECT max(date) FROM eod.prices WHERE exchange = %s", (exchange,)
    ).fetchone()
    return row[0] if row else None


def symbol_counts(conn: psycopg.Connection, exchange: str) -> tuple[int, int]:
    """(active, delisted) symbols of the exchange's lists."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE NOT delisted), count(*) FILTER (WHERE delisted) "
        "FROM eod.symbols WHERE exchange = %s", (exchange,)).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def price_span(conn: psycopg.Connection, exchange: str
               ) -> tuple[int, dt.date | None, dt.date | None]:
    """(rows, first date, last date) of the exchange's stored prices."""
    row = conn.execute(
        "SELECT count(*), min(date), max(date) FROM eod.prices WHERE exchange = %s",
        (exchange,)).fetchone()
    return (int(row[0]), row[1], row[2]) if row else (0, None, None)


def stored_days(conn: psycopg.Connection, exchange: str) -> set[dt.date]:
    """Dates with at least one stored price row."""
    return {r[0] for r in conn.execute(
        "SELECT date FROM eod.prices WHERE exchange = %s GROUP BY date", (exchange,))}


def last_fetch(conn: psycopg.Connection, exchange: str) -> dt.datetime | None:
    row = conn.execute("SELECT max(fetched_at) FROM eod.fetch_log WHERE exchange = %s",
                       (exchange,)).fetchone()
    return row[0] if row else None


def rejected_count(conn: psycopg.Connection, exchange: str) -> int:
    row = conn.execute("SELECT count(*) FROM eod.price_rejects WHERE exchange = %s",
                       (exchange,)).fetchone()
    return int(row[0]) if row else 0
