"""What the warehouse already knows, from `eod.fetch_log`: the basis of resume and planning.

A fetch of ticker T over [a, b] that was written to the warehouse means every trading day
of [a, b] is known for T (including days with no row: the API had none). A bulk fetch of
day d means d is known for every ticker of the exchange. What the answers said also bounds
a ticker's life: data starting after a tells its first trading day, and a delisted
ticker's data ending before b tells its last, so later ranges outside them cost nothing.

Entries are written right after the batch holding their rows is committed, so a crash
between the two costs at most a batch's calls again, never a wrong "known".
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import psycopg

Interval = tuple[dt.date, dt.date]  # inclusive


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping union of intervals (adjacent days joined)."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + dt.timedelta(days=1):
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def covers(intervals: list[Interval], day: dt.date) -> bool:
    return any(a <= day <= b for a, b in intervals)


@dataclass
class Coverage:
    """Known days of one exchange and dataset."""

    bulk_days: set[dt.date] = field(default_factory=set)
    #: symbol -> merged known intervals (fetched ranges plus life bounds).
    tickers: dict[str, list[Interval]] = field(default_factory=dict)

    def known(self, symbol: str) -> list[Interval]:
        return self.tickers.get(symbol, [])


#: Far bounds for "no data before/after": EODHD history starts in the 1970s at the
#: earliest; these only have to lie outside any range a user can ask for.
_DAWN = dt.date(1900, 1, 1)
_DUSK = dt.date(2999, 12, 31)


def load_coverage(conn: psycopg.Connection, exchange: str, dataset: str = "prices"
                  ) -> Coverage:
    rows = conn.execute(
        "SELECT f.symbol, f.start_date, f.end_date, f.rows, f.first_date, f.last_date, "
        "coalesce(s.delisted, false) "
        "FROM eod.fetch_log f LEFT JOIN eod.symbols s "
        "ON s.exchange = f.exchange AND s.code = f.symbol "
        "WHERE f.exchange = %s AND f.dataset = %s",
        (exchange, dataset),
    ).fetchall()
    coverage = Coverage()
    raw: dict[str, list[Interval]] = defaultdict(list)
    for symbol, start, end, n, first, last, delisted in rows:
        if symbol is None:
            day = start
            while day <= end:
                coverage.bulk_days.add(day)
                day += dt.timedelta(days=1)
            continue
        raw[symbol].append((start, end))
        if n and first is not None and first > start:
            raw[symbol].append((_DAWN, first - dt.timedelta(days=1)))  # not yet listed
        if n and delisted and last is not None and last < end:
            raw[symbol].append((last + dt.timedelta(days=1), _DUSK))  # delisted since
    coverage.tickers = {s: merge(iv) for s, iv in raw.items()}
    return coverage


def record_tickers(conn: psycopg.Connection, exchange: str, dataset: str, run_id: str,
                   entries: Iterable[tuple[str, dt.date, dt.date, int,
                                           dt.date | None, dt.date | None]]) -> None:
    """Record ticker fetches: (symbol, start, end, rows, first_date, last_date)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO eod.fetch_log (exchange, dataset, symbol, start_date, end_date, "
            "rows, first_date, last_date, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [(exchange, dataset, s, a, b, n, f, last, run_id) for s, a, b, n, f, last in entries],
        )
    conn.commit()


def record_bulk_days(conn: psycopg.Connection, exchange: str, dataset: str, run_id: str,
                     days: Iterable[tuple[dt.date, int]]) -> None:
    """Record bulk fetches: (day, rows)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO eod.fetch_log (exchange, dataset, symbol, start_date, end_date, "
            "rows, run_id) VALUES (%s, %s, NULL, %s, %s, %s, %s)",
            [(exchange, dataset, d, d, n, run_id) for d, n in days],
        )
    conn.commit()
