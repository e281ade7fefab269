"""The reader's ordering (price_reads._by_symbol_and_date): a pure unit, no server.

The fast path (a stable sort on the symbol alone) is right only when each ticker's rows
arrive in date order; these cases prove the result is ordered whichever way they arrive.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from eod_pipeline.warehouse.price_reads import _by_symbol_and_date

D = [dt.date(2024, 1, d) for d in range(2, 7)]


def _is_ordered(frame: pl.DataFrame) -> bool:
    return frame.equals(frame.sort(["symbol", "date"]))


def test_chunks_oldest_first_come_out_ordered() -> None:
    # Two "chunks" (years) of two tickers, each chunk ordered by symbol then date.
    frame = pl.DataFrame({"symbol": ["B", "B", "A", "A", "B", "A"],
                          "date": [D[0], D[1], D[0], D[1], D[3], D[2]],
                          "close": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    out = _by_symbol_and_date(frame)
    assert _is_ordered(out)
    assert out["close"].to_list() == [3.0, 4.0, 6.0, 1.0, 2.0, 5.0]


def test_dates_out_of_order_within_a_ticker_get_the_full_sort() -> None:
    # The newer chunk arrives first: the stable symbol sort alone would leave A's dates
    # descending; the check must catch it.
    frame = pl.DataFrame({"symbol": ["A", "B", "A", "B"],
                          "date": [D[4], D[4], D[0], D[0]],
                          "close": [1.0, 2.0, 3.0, 4.0]})
    out = _by_symbol_and_date(frame)
    assert _is_ordered(out)
    assert out["close"].to_list() == [3.0, 1.0, 4.0, 2.0]


def test_empty_and_single_rows_pass_through() -> None:
    empty = pl.DataFrame(schema={"symbol": pl.String, "date": pl.Date})
    assert _by_symbol_and_date(empty).height == 0
    one = pl.DataFrame({"symbol": ["A"], "date": [D[0]]})
    assert _by_symbol_and_date(one).equals(one)
