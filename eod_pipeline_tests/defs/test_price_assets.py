"""Price assets end to end: the simulator over loopback, real PostgreSQL, real Dagster."""

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from eod_pipeline.defs.assets.prices import price_asset_key


def _md(result, code="US"):
    mats = result.asset_materializations_for_node(f"eod_prices__{code}")
    return {k: v.value for k, v in mats[0].metadata.items()}


def test_symbol_lists_and_calendars_load(harness):
    harness.load_reference("US")
    import psycopg

    with psycopg.connect(harness.warehouse_url) as conn:
        n, delisted = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE delisted) FROM eod.symbols "
            "WHERE exchange = 'US'"
        ).fetchone()
        holidays = conn.execute("SELECT count(*) FROM eod.exchange_holidays").fetchone()[0]
    expected = harness.sim.universe.symbols("US")
    assert n == len(expected) and delisted > 0
    assert holidays > 0


def test_long_range_goes_per_ticker_and_equals_the_source(harness):
    harness.load_reference("US")
    before = harness.calls()
    result = harness.backfill("US", "2025-01-02", "2026-11-20")
    assert result.success
    md = _md(result)
    assert md["strategy"] == "per_ticker_history"
    assert md["calls_spent"] == md["calls_planned"] == harness.calls() - before
    assert md["failed"] == 0
    stored = harness.stored("US")
    expected = harness.expected("US", dt.date(2025, 1, 2), dt.date(2026, 11, 20))
    assert_frame_equal(stored, expected)
    assert md["dagster/row_count"] == expected.height


def test_rerunning_the_range_spends_nothing_and_changes_nothing(harness):
    harness.load_reference("US")
    assert harness.backfill("US", "2026-06-01", "2026-11-20").success
    stored = harness.stored("US")
    before = harness.calls()
    again = harness.backfill("US", "2026-06-01", "2026-11-20")
    assert _md(again)["strategy"] == "nothing_missing"
    assert harness.calls() == before  # no call at all, not even the quota check
    assert_frame_equal(harness.stored("US"), stored)


def test_extending_a_range_fetches_only_the_missing_part(harness):
    harness.load_reference("US")
    assert harness.backfill("US", "2026-09-01", "2026-10-30").success
    result = harness.backfill("US", "2026-09-01", "2026-11-20")
    md = _md(result)
    assert md["strategy"] == "per_ticker_history"
    assert md["tickers_to_fetch"] <= len(harness.sim.universe.symbols("US"))
    assert_frame_equal(harness.stored("US"),
                       harness.expected("US", dt.date(2026, 9, 1), dt.date(2026, 11, 20)))


def test_one_day_of_a_large_exchange_goes_bulk(harness_factory):
    h = harness_factory(symbols_per_exchange=150)
    h.load_reference("US")
    result = h.materialize(price_asset_key("US"), partition_key="2026-11-20")
    md = _md(result)
    assert (md["strategy"], md["calls_planned"], md["calls_spent"]) == ("bulk_by_date", 100, 100)
    stored = h.stored("US")
    assert_frame_equal(stored, h.expected("US", dt.date(2026, 11, 20), dt.date(2026, 11, 20)))
    # Two days of 150 tickers: per ticker (150) beats bulk (200).
    two = h.backfill("US", "2026-11-18", "2026-11-19")
    assert _md(two)["strategy"] == "per_ticker_history"


def test_forced_strategy_and_bad_strategy_value(harness):
    harness.load_reference("US")
    forced = harness.backfill("US", "2026-11-19", "2026-11-20",
                              run_config=_config("bulk_by_date"))
    assert _md(forced)["strategy"] == "bulk_by_date"
    assert _md(forced)["calls_spent"] == 200
    bad = harness.backfill("US", "2026-11-19", "2026-11-20", run_config=_config("cheapest"),
                           raise_on_error=False)
    assert not bad.success
    assert "strategy: 'cheapest' is not one of" in str(bad.all_events)


def _config(strategy: str) -> dict:
    return {"ops": {"eod_prices__US": {"config": {"strategy": strategy}}}}


def test_failed_tickers_are_isolated_and_listed(harness_factory):
    h = harness_factory(error_5xx_rate=1.0)  # every request fails: retries exhaust
    h.load_reference("US") if False else None
    h.sim.configure(error_5xx_rate=0.0)
    h.load_reference("US")
    h.sim.configure(error_5xx_rate=0.05)
    result = h.backfill("US", "2026-10-01", "2026-11-20", raise_on_error=False)
    h.sim.configure(error_5xx_rate=0.0)
    # 5xx are retried with backoff; at 5% nothing should be left failed.
    assert result.success
    assert_frame_equal(h.stored("US"),
                       h.expected("US", dt.date(2026, 10, 1), dt.date(2026, 11, 20)))
    assert _md(result)["retries"] > 0


def test_rejected_rows_go_to_rejects_with_reasons(harness_factory):
    h = harness_factory(malformed_rate=0.01)
    h.sim.configure(malformed_rate=0.0)
    h.load_reference("US")
    h.sim.configure(malformed_rate=0.01)
    result = h.backfill("US", "2026-01-02", "2026-11-20")
    md = _md(result)
    assert md["rows_rejected"] > 0
    import psycopg

    with psycopg.connect(h.warehouse_url) as conn:
        reasons = dict(conn.execute(
            "SELECT reason, count(*) FROM eod.price_rejects GROUP BY 1").fetchall())
    assert sum(reasons.values()) == md["rows_rejected"]
    stored = h.stored("US")
    expected = h.expected("US", dt.date(2026, 1, 2), dt.date(2026, 11, 20))
    # Every stored row equals the source's; only rejected keys are missing.
    joined = stored.join(expected, on=["exchange", "symbol", "date"], how="left",
                         suffix="_src")
    assert joined.filter(pl.col("close") != pl.col("close_src")).is_empty()
    assert stored.height + md["rows_rejected"] >= expected.height
