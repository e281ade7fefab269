"""A split and a dividend arriving on a given day re-adjust exactly the affected tickers."""

import datetime as dt

import polars as pl
import psycopg
from polars.testing import assert_frame_equal

from eod_pipeline.defs.sensors import daily_keys

#: In the default simulated universe (seed 7), FQC splits and KSGV pays a dividend with
#: ex-date Tuesday 2026-10-06; no other US ticker has an action that day.
MONDAY_EVENING = dt.datetime(2026, 10, 5, 23, 0, tzinfo=dt.UTC)
TUESDAY_EVENING = dt.datetime(2026, 10, 6, 23, 0, tzinfo=dt.UTC)
START = dt.date(2026, 8, 3)


def _md(result, node):
    return {k: v.value for k, v in result.asset_materializations_for_node(node)[0].metadata.items()}


def test_new_actions_readjust_exactly_the_affected_tickers(harness_factory):
    h = harness_factory("US:2026-06-01", now=MONDAY_EVENING)
    h.load_reference("US")
    h.backfill_with_actions("US", START.isoformat(), "2026-10-05")
    h.set_clock(TUESDAY_EVENING)
    # The source's adjusted closes of FQC moved; the warehouse's have not yet.
    before = h.stored("US")
    expected = h.expected("US", START, dt.date(2026, 10, 6))
    stale = before.join(expected, on=["exchange", "symbol", "date"], suffix="_src").filter(
        pl.col("adjusted_close") != pl.col("adjusted_close_src"))
    assert set(stale["symbol"]) == {"FQC", "KSGV"}

    calls_before = h.calls()
    result = h.materialize(daily_keys("US"), partition_key="2026-10-06")
    assert result.success
    adjust = _md(result, "eod_adjustments__US")
    assert adjust["tickers"] == "FQC, KSGV"
    assert adjust["tickers_readjusted"] == 2
    assert adjust["calls_spent"] == 2
    spent = sum(_md(result, n)["calls_spent"] for n in (
        "eod_prices__US", "eod_splits__US", "eod_dividends__US", "eod_adjustments__US"))
    assert h.calls() - calls_before == spent
    assert_frame_equal(h.stored("US"), expected)
    with psycopg.connect(h.warehouse_url) as conn:
        split = conn.execute("SELECT symbol, date, split FROM eod.splits WHERE date = "
                             "'2026-10-06'").fetchall()
        div = conn.execute("SELECT symbol FROM eod.dividends WHERE date = '2026-10-06'"
                           ).fetchall()
    assert [s[0] for s in split] == ["FQC"] and div == [("KSGV",)]
    # A second daily run spends nothing on re-adjustment.
    again = h.materialize(daily_keys("US")[-1:], partition_key="2026-10-06")
    assert _md(again, "eod_adjustments__US")["tickers_readjusted"] == 0


def test_a_range_with_two_actions_readjusts_through_its_end(harness_factory):
    """A dividend in October and a split in November, learned in one range run: rows
    between the two must take the split too (the old refetch stopped before the earliest
    action and left them stale while the run succeeded)."""
    from eodhd_simulator.events import InjectedDividend, InjectedSplit

    h = harness_factory("US:2026-06-01", now=dt.datetime(2026, 11, 5, 23, tzinfo=dt.UTC))
    victim = "BRK-B"
    h.sim.configure(
        injected_dividends=[InjectedDividend("US", victim, dt.date(2026, 10, 15),
                                             fraction=0.05)],
        injected_splits=[InjectedSplit("US", victim, dt.date(2026, 11, 10), numerator=3)])
    h.load_reference("US")
    assert h.backfill("US", "2026-09-01", "2026-11-05").success  # the dividend is known
    h.set_clock(dt.datetime(2026, 11, 20, 23, tzinfo=dt.UTC))  # ...now the split is too
    tags = {"dagster/asset_partition_range_start": "2026-10-01",
            "dagster/asset_partition_range_end": "2026-11-20"}
    result = h.materialize(daily_keys("US"), tags=tags)
    assert result.success
    assert victim in _md(result, "eod_adjustments__US")["tickers"].split(", ")
    assert_frame_equal(h.stored("US"), h.expected("US", dt.date(2026, 9, 1),
                                                  dt.date(2026, 11, 20)))
    with psycopg.connect(h.warehouse_url) as conn:
        between = conn.execute(
            "SELECT count(*) FROM eod.price_revisions WHERE symbol = %s AND date "
            "BETWEEN '2026-10-15' AND '2026-11-09' AND new_adjusted_close <> "
            "old_adjusted_close", (victim,)).fetchone()[0]
    assert between > 0  # the rows between the two actions changed, and the change is kept
