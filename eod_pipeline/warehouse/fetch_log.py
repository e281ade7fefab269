"""Reads of `eod.fetch_log`: what was asked of the API and stored, per request.

The log is written only by the table writer, as companion rows of the batch whose rows
it describes (see `warehouse/batches.py`); this module only reads it.
"""

from __future__ import annotations

import datetime as dt

import psycopg

#: One entry: symbol (None for a bulk call over the whole exchange), first and last day
#: the request covered, rows stored from its answer, when it was fetched.
Entry = tuple[str | None, dt.date, dt.date, int, dt.datetime]


def entries(conn: psycopg.Connection, exchange: str, dataset: str) -> list[Entry]:
    """Every logged request of one exchange and dataset."""
    rows = conn.execute(
        "SELECT symbol, start_date, end_date, rows, fetched_at FROM eod.fetch_log "
        "WHERE exchange = %s AND dataset = %s",
        (exchange, dataset),
    ).fetchall()
    return [(s, a, b, int(n), at) for s, a, b, n, at in rows]
