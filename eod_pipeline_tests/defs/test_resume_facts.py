"""Resume decides from facts: the untidy boundaries that made the old planner skip history.

Every case ends exactly equal to the source (every column, every row) and spends no call
where the fetch log proves coverage. The calendar asset only knows holidays within about
six months of the simulator's "today" (2026-11-20), like EODHD's exchange-details, so the
2023/2024 holidays here are days the pipeline was never told about.
"""

import datetime as dt

import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.quality import checks as quality
from eod_pipeline.warehouse import queries
from eod_pipeline.warehouse.writer import write_frames
from eodhd_simulator.events import Halt

D = dt.date.fromisoformat


@pytest.fixture
def h(harness_factory):
    harness = harness_factory("US:2023-01-02")
    harness.load_reference("US")
    return harness


def _run(h, start: str, end: str) -> int:
    """Backfill [start, end]; the calls it cost."""
    before = h.calls()
    assert h.backfill("US", start, end).success
    return h.calls() - before


def _assert_equals_source(h, start: str, end: str) -> None:
    assert_frame_equal(h.stored("US"), h.expected("US", D(start), D(end)))
    with psycopg.connect(h.warehouse_url) as conn:
        holidays = queries.holidays(conn, "US")
        gaps = quality.gaps(conn, "US", holidays)
        assert gaps.passed, gaps.metadata
        assert quality.fetch_log_agrees(conn, "US").passed


def test_holiday_at_a_range_start_then_an_earlier_range(h):
    # 2024-01-01 and 2023-01-02 are NYSE holidays, unknown to the pipeline's calendar.
    assert _run(h, "2024-01-01", "2024-12-31") == 40
    assert _run(h, "2023-01-02", "2023-12-29") == 40  # was 27 calls and 6% of the rows
    _assert_equals_source(h, "2023-01-02", "2024-12-31")
    assert _run(h, "2023-01-02", "2024-12-31") == 0


def test_holiday_at_a_range_end_then_a_later_range(h):
    assert _run(h, "2024-06-03", "2024-07-04") == 40  # July 4: no rows on the last day
    assert _run(h, "2024-07-05", "2024-08-30") == 40
    _assert_equals_source(h, "2024-06-03", "2024-08-30")
    assert _run(h, "2024-06-10", "2024-08-16") == 0


def test_a_ticker_with_no_bar_on_the_boundary_day_and_a_halt(h):
    symbol = "BRK-B"
    h.sim.configure(halts=[Halt("US", symbol, D("2024-05-24"), D("2024-06-07"))])
    assert _run(h, "2024-06-03", "2024-06-28") == 40  # BRK-B's first row: 2024-06-10
    assert _run(h, "2024-05-01", "2024-05-31") == 40  # ...and its last here: 2024-05-23
    _assert_equals_source(h, "2024-05-01", "2024-06-28")
    with psycopg.connect(h.warehouse_url) as conn:
        halted = quality.gaps(conn, "US", queries.holidays(conn, "US"))
        assert halted.passed and halted.warn
        assert halted.metadata["possible_halts"] == [
            f"{symbol} 2024-05-24..2024-06-07 (10 trading days)"]  # Memorial Day untold
        write_frames(conn, _ack_table(), _ack(symbol, "2024-05-24", "2024-06-07"))
        acknowledged = quality.gaps(conn, "US", queries.holidays(conn, "US"))
    assert acknowledged.metadata["possible_halts"] == []
    assert acknowledged.metadata["acknowledged_halts"] == [
        f"{symbol} 2024-05-24..2024-06-07 (10 trading days): trading halt"]


def test_ranges_in_any_order_overlapping(h):
    assert _run(h, "2024-04-15", "2024-05-31") == 40
    assert _run(h, "2024-03-01", "2024-04-30") == 40  # only 03-01..04-12 is fetched
    assert _run(h, "2024-02-01", "2024-03-15") == 40
    assert _run(h, "2024-03-01", "2024-03-29") == 0  # wholly known
    _assert_equals_source(h, "2024-02-01", "2024-05-31")
    assert _run(h, "2024-02-01", "2024-05-31") == 0


def _ack_table():
    from eod_pipeline.warehouse.tables import GAP_ACKNOWLEDGEMENTS

    return GAP_ACKNOWLEDGEMENTS


def _ack(symbol: str, start: str, end: str):
    import polars as pl

    return pl.DataFrame({"exchange": ["US"], "symbol": [symbol], "start_date": [D(start)],
                         "end_date": [D(end)], "reason": ["trading halt"],
                         "acknowledged_at": [dt.datetime.now(dt.UTC)]},
                        schema=_ack_table().polars_schema)
