"""Reads the completeness checks need: where tickers' stored rows stop and start again,
each ticker's stored span, fetch-log coverage, acknowledged gaps, and fetch-log entries
against stored rows.

Only reads; the decisions are in `eod_pipeline.quality`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg
from psycopg import sql

#: Datasets whose fetch-log entries describe rows of eod.prices.
PRICE_DATASETS = ["prices", "adjustments"]


def row_stretches(conn: psycopg.Connection, exchange: str, lo: dt.date, hi: dt.date,
                  symbols: list[str], holidays: set[dt.date]) -> pl.DataFrame:
    """Where `symbols`' stored rows in [lo, hi] stop and start again: symbol, prev (the
    stored date before, null for a ticker's first row in the range), date, and `last`
    (no stored row after it in the range).

    Only the rows that bound days without a row come back: a ticker's first and last row
    in the range, and each row whose previous row is more than one trading day (a weekday
    not in `holidays`) before it. The server walks the rows in (symbol, date) order with
    `lag`/`lead`; the client gets tens of thousands of stretches where it used to get
    every (symbol, date) pair of a suspect ticker (ten years of 2,000 tickers: 3.7M pairs,
    the check step's ~800 MB peak, BENCHMARKS.md "Open problems"). Streamed as CSV into
    polars, not fetched as Python tuples."""
    schema = {"symbol": pl.String, "prev": pl.Date, "date": pl.Date, "last": pl.Boolean}
    if not symbols:
        return pl.DataFrame(schema=schema)
    # A gap after a Friday row needs more than 3 days (the weekend) to hold a weekday; any
    # other gap more than 1. Only those rows pay for the look for a non-holiday weekday.
    query = sql.SQL(
        "COPY (SELECT symbol, prev, date, (nxt IS NULL)::int FROM ("
        "  SELECT symbol, date, lag(date) OVER w AS prev, lead(date) OVER w AS nxt"
        "  FROM eod.prices WHERE exchange = {x} AND symbol = ANY({s})"
        "  AND date BETWEEN {lo} AND {hi}"
        "  WINDOW w AS (PARTITION BY symbol ORDER BY date)) g"
        " WHERE prev IS NULL OR nxt IS NULL"
        " OR (date - prev > CASE WHEN extract(isodow FROM prev) = 5 THEN 3 ELSE 1 END"
        "  AND EXISTS (SELECT 1 FROM generate_series(prev + 1, date - 1, interval '1 day')"
        "   AS d(day) WHERE extract(isodow FROM d.day) < 6"
        "   AND NOT d.day::date = ANY({hol}::date[])))"
        ") TO STDOUT (FORMAT csv)"
    ).format(x=sql.Literal(exchange), s=sql.Literal(symbols), lo=sql.Literal(lo),
             hi=sql.Literal(hi), hol=sql.Literal(sorted(holidays)))
    buffer = bytearray()
    with conn.cursor() as cur, cur.copy(query) as copy:
        for chunk in copy:
            buffer += chunk
    if not buffer:
        return pl.DataFrame(schema=schema)
    frame = pl.read_csv(bytes(buffer), has_header=False, new_columns=list(schema),
                        schema_overrides={**schema, "last": pl.Int8})
    return frame.with_columns(pl.col("last").cast(pl.Boolean))


def ticker_spans(conn: psycopg.Connection, exchange: str, lo: dt.date, hi: dt.date,
                 holidays: set[dt.date]) -> pl.DataFrame:
    """Per ticker: first and last stored date, whether the symbol list calls it delisted,
    and how many of its rows fall on trading days of [lo, hi] (`in_window`). One row a
    ticker, aggregated in the server.

    The rows are aggregated before the symbol list is joined (one row a ticker), so the
    plan cannot join every price row: right after a backfill the new chunks have no
    statistics yet, and the planner, guessing a few rows, joined each of a 240-ticker
    exchange's 457,054 rows to the symbol list in a nested loop (2.8 s a call, twice a
    check step; aggregated first: well under a second)."""
    rows = conn.execute(
        "SELECT a.symbol, a.first, a.last, coalesce(s.delisted, false), a.in_window FROM ("
        " SELECT p.symbol, min(p.date) AS first, max(p.date) AS last,"
        "  count(*) FILTER (WHERE p.date BETWEEN %(lo)s AND %(hi)s"
        "   AND extract(isodow FROM p.date) < 6 AND NOT p.date = ANY(%(hol)s)) AS in_window"
        "  FROM eod.prices p WHERE p.exchange = %(x)s GROUP BY p.symbol) a"
        " LEFT JOIN eod.symbols s ON s.exchange = %(x)s AND s.code = a.symbol",
        {"x": exchange, "lo": lo, "hi": hi, "hol": sorted(holidays)},
    ).fetchall()
    return pl.DataFrame(rows, schema={"symbol": pl.String, "first": pl.Date,
                                      "last": pl.Date, "delisted": pl.Boolean,
                                      "in_window": pl.Int64}, orient="row")


def rows_per_day(conn: psycopg.Connection, exchange: str, lo: dt.date, hi: dt.date
                 ) -> dict[dt.date, int]:
    return dict(conn.execute(
        "SELECT date, count(*) FROM eod.prices WHERE exchange = %s"
        " AND date BETWEEN %s AND %s GROUP BY date", (exchange, lo, hi)).fetchall())


def symbols_on(conn: psycopg.Connection, exchange: str, day: dt.date) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT symbol FROM eod.prices WHERE exchange = %s AND date = %s", (exchange, day))]


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
    eod.prices holds for them: (symbol or None for bulk, start, end, logged, stored).

    Two branches so each count is one index range scan: a ticker's entry counts that
    ticker's rows, a bulk day's entry the exchange's rows on that day."""
    params = {"x": exchange, "ds": PRICE_DATASETS, "lo": lo, "hi": hi}
    return conn.execute(
        "SELECT f.symbol, f.start_date, f.end_date, f.rows, c.n FROM eod.fetch_log f"
        " CROSS JOIN LATERAL (SELECT count(*) AS n FROM eod.prices p"
        "  WHERE p.exchange = f.exchange AND p.symbol = f.symbol"
        "  AND p.date BETWEEN f.start_date AND f.end_date) c"
        " WHERE f.exchange = %(x)s AND f.symbol IS NOT NULL AND f.dataset = ANY(%(ds)s)"
        " AND f.end_date >= %(lo)s AND f.start_date <= %(hi)s AND c.n < f.rows"
        " UNION ALL"
        " SELECT NULL, f.start_date, f.end_date, f.rows, c.n FROM eod.fetch_log f"
        " CROSS JOIN LATERAL (SELECT count(*) AS n FROM eod.prices p"
        "  WHERE p.exchange = f.exchange AND p.date BETWEEN f.start_date AND f.end_date) c"
        " WHERE f.exchange = %(x)s AND f.symbol IS NULL AND f.dataset = ANY(%(ds)s)"
        " AND f.end_date >= %(lo)s AND f.start_date <= %(hi)s AND c.n < f.rows"
        " ORDER BY 1 NULLS FIRST, 2",
        params,
    ).fetchall()


def inconsistent_rows(conn: psycopg.Connection, exchange: str, lo: dt.date, hi: dt.date
                      ) -> list[tuple[str, dt.date]]:
    """Rows breaking OHLC relations or with negative values, in [lo, hi]."""
    return conn.execute(
        "SELECT symbol, date FROM eod.prices WHERE exchange = %(x)s"
        " AND date BETWEEN %(lo)s AND %(hi)s AND ("
        " low > high OR open < low OR open > high OR close < low OR close > high"
        " OR least(open, high, low, close, adjusted_close) < 0 OR volume < 0)"
        " ORDER BY symbol, date",
        {"x": exchange, "lo": lo, "hi": hi},
    ).fetchall()


def unexplained_moves(conn: psycopg.Connection, exchange: str, read_from: dt.date,
                      lo: dt.date, hi: dt.date, factor: float
                      ) -> list[tuple[str, dt.date, float, float]]:
    """Day-over-day close changes beyond `factor` on days in [lo, hi] with no split that
    day; closes are read from `read_from` so the first day has a previous close."""
    return conn.execute(
        "WITH moves AS (SELECT symbol, date, close,"
        "  lag(close) OVER (PARTITION BY symbol ORDER BY date) AS prev"
        "  FROM eod.prices WHERE exchange = %(x)s AND date BETWEEN %(from)s AND %(hi)s)"
        " SELECT m.symbol, m.date, m.prev, m.close FROM moves m"
        " WHERE m.date >= %(lo)s AND m.prev > 0 AND m.close > 0"
        " AND (m.close / m.prev > %(f)s OR m.prev / m.close > %(f)s)"
        " AND NOT EXISTS (SELECT 1 FROM eod.splits s WHERE s.exchange = %(x)s"
        "  AND s.symbol = m.symbol AND s.date = m.date)"
        " ORDER BY m.symbol, m.date",
        {"x": exchange, "f": factor, "from": read_from, "lo": lo, "hi": hi},
    ).fetchall()


def stored_ranges(conn: psycopg.Connection, exchange: str
                  ) -> list[tuple[str, dt.date, dt.date]]:
    """Each ticker's first and last stored date, by ticker."""
    return conn.execute(
        "SELECT symbol, min(date), max(date) FROM eod.prices WHERE exchange = %s "
        "GROUP BY symbol ORDER BY symbol",
        (exchange,),
    ).fetchall()
