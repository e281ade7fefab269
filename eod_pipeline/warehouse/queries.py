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
