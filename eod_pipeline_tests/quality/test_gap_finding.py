"""The gap check finds exactly the trading days without a row, from where each ticker's
rows stop and start again (read in the server), checked against a brute-force count."""

import datetime as dt

import polars as pl
import psycopg

from eod_pipeline.markets.calendar import trading_days
from eod_pipeline.quality import checks as quality
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.writer import write_frames

D = dt.date
LO, HI = D(2024, 1, 1), D(2024, 3, 29)
HOLIDAYS = {D(2024, 1, 1), D(2024, 1, 15), D(2024, 2, 19)}


def _days(a: dt.date, b: dt.date) -> list[dt.date]:
    return list(trading_days(a, b, HOLIDAYS))


def _without(days: list[dt.date], *gone: dt.date) -> list[dt.date]:
    return [d for d in days if d not in gone]


#: Each ticker's stored dates: every way a day can go missing around the window.
STORED: dict[str, list[dt.date]] = {
    # Every trading day: not even read.
    "FULL": _days(D(2023, 12, 1), D(2024, 4, 30)),
    # History from before the window, nothing in it until Jan 10.
    "LEAD": _days(D(2023, 12, 1), D(2023, 12, 29)) + _days(D(2024, 1, 10), HI),
    # Stops on Mar 8 inside the window, one more row after it.
    "TAIL": [*_days(LO, D(2024, 3, 8)), D(2024, 4, 15)],
    # Three days in February; a Friday before a weekend and a holiday Monday.
    "MID": _without(_days(LO, HI), D(2024, 2, 5), D(2024, 2, 6), D(2024, 2, 7),
                    D(2024, 2, 16)),
    # A row on a Saturday (kept, ignored) just before a missing Monday.
    "SAT": [*_without(_days(LO, HI), D(2024, 1, 22)), D(2024, 1, 20)],
    # One row in the window; its history spans it.
    "ONE": [D(2023, 6, 1), D(2024, 2, 1), D(2024, 6, 3)],
    # History on both sides of the window, nothing inside it.
    "NONE": [D(2023, 12, 29), D(2024, 4, 1)],
    # Listed in the window: Fri Mar 1, then Tue Mar 5 (Mon Mar 4 missing).
    "EDGE": [D(2024, 3, 1), *_days(D(2024, 3, 5), HI)],
}


def _store(conn: psycopg.Connection) -> None:
    rows = [("US", symbol, day, 10.0, 11.0, 9.0, 10.5, 10.5, 1000)
            for symbol, days in STORED.items() for day in days]
    frame = pl.DataFrame(rows, schema=PRICES.polars_schema, orient="row")
    write_frames(conn, PRICES, frame, TableSlice(
        PRICES, {"exchange": ["US"]}, DateRange("date", D(2023, 1, 1), D(2024, 12, 31))))


def _brute_force(window: tuple[dt.date, dt.date]) -> dict[str, list[dt.date]]:
    """Per ticker: the trading days of its stored span, within `window`, with no row."""
    out = {}
    for symbol, days in STORED.items():
        a, b = max(min(days), window[0]), min(max(days), window[1])
        empty = [d for d in _days(a, b) if d not in set(days)]
        if empty:
            out[symbol] = empty
    return out


def _quoted(missing: dict[str, list[dt.date]]) -> list[str]:
    out = []
    for symbol in sorted(missing)[:quality.SHOWN]:
        dates = missing[symbol]
        more = f" (+{len(dates) - 5} more)" if len(dates) > 5 else ""
        out.append(f"{symbol}: {', '.join(str(d) for d in dates[:5])}{more}")
    return out


def test_every_day_without_a_row_is_found_and_nothing_else(conn):
    _store(conn)
    for window in [(LO, HI), (D(2024, 2, 1), D(2024, 2, 29)), (D(2024, 1, 22), D(2024, 1, 22))]:
        # No fetch-log entries: every day without a row is a hole.
        outcome = quality.gaps(conn, "US", HOLIDAYS, window)
        expected = _brute_force(window)
        assert outcome.metadata["missing_rows"] == sum(map(len, expected.values())), window
        assert outcome.metadata["missing"] == _quoted(expected), window
        assert outcome.passed is not bool(expected)
    assert set(_brute_force((LO, HI))) == {"LEAD", "TAIL", "MID", "SAT", "ONE", "NONE",
                                           "EDGE"}


def test_nothing_stored_is_not_judged(conn):
    for outcome in (quality.gaps(conn, "US", HOLIDAYS), quality.coverage(conn, "US", HOLIDAYS)):
        assert outcome.skipped == quality.NOTHING_STORED
        assert not outcome.what_to_do
