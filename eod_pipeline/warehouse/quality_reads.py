"""Reads the completeness checks need: stored (symbol, date) pairs, each ticker's stored
span, fetch-log coverage, acknowledged gaps, and fetch-log entries against stored rows.

Only reads; the decisions are in `eod_pipeline.quality`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg

#: Datasets whose fetch-log entries describe rows of eod.prices.
PRICE_DATASETS = ["prices", "adjustments"]


def stored_pairs(conn: psycopg.Connection, exchange: str, lo: dt.date, hi: dt.date
                 ) -> pl.DataFrame:
    """symbol, date of every stored price row of `exchange` in [lo, hi]."""
    rows = conn.execute(
        "SELECT symbol, date FROM eod.prices WHERE exchange = %s AND date BETWEEN %s AND %s",
        (exchange, lo, hi),
    ).fetchall()
    return pl.DataFrame(rows, schema={"symbol": pl.String, "date": pl.Date}, orient="row")


def ticker_spans(conn: psycopg.Connection, exchange: str) -> pl.DataFrame:
    """symbol, first, last stored date, and whether the symbol list calls it delisted."""
    rows = conn.execute(
        "SELECT p.symbol, min(p.date), max(p.date), coalesce(bool_or(s.delisted), false)"
        " FROM eod.prices p LEFT JOIN eod.symbols s ON s.exchange = p.exchange"
        " AND s.code = p.symbol WHERE p.exchange = %s GROUP BY p.symbol",
        (exchange,),
    ).fetchall()
    return pl.DataFrame(rows, schema={"symbol": pl.String, "first": pl.Date,
                                      "last": pl.Date, "delisted": pl.Boolean}, orient="row")


def stored_bounds(conn: psycopg.Connection, exchange: str) -> tuple[dt.date, dt.date] | None:
    row = conn.execute("SELECT min(date), max(date) FROM eod.prices WHERE exchange = %s",
                       (exchange,)).fetchone()
    return (row[0], row[1]) if row and row[0] is not None else None


def fetched_spans(conn: psycopg.Connection, exchange: str, lo: dt.date, hi: dt.date
                  ) -> pl.DataFrame:
    """symbol (null: bulk, every ticker), start, end of price fetches overlapping
    [lo, hi]."""
    rows = conn.execute(
        "SELECT symbol, start_date, end_date FROM eod.fetch_log WHERE exchange = %s"
        " AND dataset = ANY(%s) AND end_date >= %s AND start_date <= %s",
        (exchange, PRICE_DATASETS, lo, hi),
    ).fetchall()
    return pl.DataFrame(rows, schema={"symbol": pl.String, "start": pl.Date, "end": pl.Date},
                        orient="row")


def acknowledged(conn: psycopg.Connection, exchange: str) -> pl.DataFrame:
    rows = conn.execute(
        "SELECT symbol, start_date, end_date, reason FROM eod.gap_acknowledgements"
        " WHERE exchange = %s", (exchange,)).fetchall()
    return pl.DataFrame(rows, schema={"symbol": pl.String, "start": pl.Date, "end": pl.Date,
                                      "reason": pl.String}, orient="row")


def log_claims_beyond_stored(conn: psycopg.Connection, exchange: str, lo: dt.date,
                             hi: dt.date) -> list[tuple[str | None, dt.date, dt.date, int, int]]:
    """Fetch-log entries overlapping [lo, hi] that say more rows were stored than
    eod.prices holds for them: (symbol or None for bulk, start, end, logged, stored)."""
    return conn.execute(
        "SELECT f.symbol, f.start_date, f.end_date, f.rows, c.n FROM eod.fetch_log f"
        " CROSS JOIN LATERAL (SELECT count(DISTINCT (p.symbol, p.date)) AS n"
        "  FROM eod.prices p WHERE p.exchange = f.exchange"
        "  AND (f.symbol IS NULL OR p.symbol = f.symbol)"
        "  AND p.date BETWEEN f.start_date AND f.end_date) c"
        " WHERE f.exchange = %s AND f.dataset = ANY(%s) AND f.end_date >= %s"
        " AND f.start_date <= %s AND c.n < f.rows ORDER BY f.symbol NULLS FIRST, f.start_date",
        (exchange, PRICE_DATASETS, lo, hi),
    ).fetchall()
