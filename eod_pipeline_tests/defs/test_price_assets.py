"""Price assets end to end: the simulator over loopback, real PostgreSQL, real Dagster."""

import datetime as dt

import dagster as dg
import polars as pl
import pytest
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
    runs_before = len(harness.instance.get_run_records())
    with pytest.raises(dg.DagsterInvalidConfigError,
                       match="strategy not in enum type ForcedStrategy got cheapest"):
        harness.backfill("US", "2026-11-19", "2026-11-20", run_config=_config("cheapest"),
                         raise_on_error=False)
    assert len(harness.instance.get_run_records()) == runs_before


def _config(strategy: str) -> dict:
    return {"ops": {"eod_prices__US": {"config": {"strategy": strategy}}}}


def test_transient_5xx_are_retried_and_the_data_converges(harness_factory):
    h = harness_factory()
    h.load_reference("US")
    h.sim.configure(error_5xx_rate=0.05)
    result = h.backfill("US", "2026-10-01", "2026-11-20", raise_on_error=False)
    h.sim.configure(error_5xx_rate=0.0)
    # 5xx are retried with backoff; at 5% nothing should be left failed.
    assert result.success
    assert_frame_equal(h.stored("US"),
                       h.expected("US", dt.date(2026, 10, 1), dt.date(2026, 11, 20)))
    assert _md(result)["retries"] > 0
    assert _md(result)["failed"] == 0


def test_failed_tickers_are_isolated_and_listed(harness_factory):
    """Without retries a third of the requests fail: the others are stored exactly, the
    failed ones are listed with their error, stored nowhere, not logged as fetched, and
    the next run fetches exactly them."""
    import psycopg

    h = harness_factory(pipeline={"max_failed_share": 1.0}, eodhd={"max_retries": 0})
    h.load_reference("US")
    h.sim.configure(error_5xx_rate=0.3)
    result = h.backfill("US", "2026-10-01", "2026-11-20")
    h.sim.configure(error_5xx_rate=0.0)
    md = _md(result)
    failed = set(md["failures"])
    assert md["failed"] == len(failed) > 0
    assert all("HTTP 5" in why for why in md["failures"].values())
    expected = h.expected("US", dt.date(2026, 10, 1), dt.date(2026, 11, 20))
    stored = h.stored("US")
    assert set(stored["symbol"]).isdisjoint(failed)
    assert_frame_equal(stored, expected.filter(~pl.col("symbol").is_in(failed)))
    with psycopg.connect(h.warehouse_url) as conn:
        logged = {r[0] for r in conn.execute("SELECT symbol FROM eod.fetch_log")}
    assert logged.isdisjoint(failed)
    again = h.backfill("US", "2026-10-01", "2026-11-20")
    assert _md(again)["tickers_to_fetch"] == len(failed)
    assert_frame_equal(h.stored("US"), expected)


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
        logged_rejects = conn.execute("SELECT sum(rejected) FROM eod.fetch_log").fetchone()[0]
    assert sum(reasons.values()) == md["rows_rejected"] == logged_rejects
    assert set(reasons) <= {"null or non-numeric price", "null or non-numeric volume",
                            "negative price or volume", "high below low",
                            "open outside low..high", "close outside low..high",
                            "date outside the requested range", "missing or malformed date"}
    stored = h.stored("US")
    expected = h.expected("US", dt.date(2026, 1, 2), dt.date(2026, 11, 20))
    # Every stored row equals the source's in every column...
    assert stored.join(expected, on=stored.columns, how="anti").is_empty()
    # ...and each source row missing from the store was replaced by a rejected one.
    missing = expected.join(stored, on=["exchange", "symbol", "date"], how="anti")
    assert 0 < missing.height <= md["rows_rejected"]


def test_the_timescaledb_kind_shows_only_on_real_hypertables(harness, database_url):
    """Kinds come from the warehouse: a hypertable shows `timescaledb`, a plain table
    `postgres`, and an unreachable warehouse no storage kind at all (never a guess)."""
    import psycopg

    from eod_pipeline.defs.definitions import build_definitions
    from eod_pipeline.defs.resources import WarehouseResource
    from eod_pipeline.warehouse.migrations import ensure_schema
    from eod_pipeline.warehouse.storage import hypertables_at

    def kinds(url):
        defs = build_definitions(harness.pipeline, {"warehouse": WarehouseResource(
            database_url=url)})
        spec = defs.resolve_all_asset_specs()
        return {s.key.to_user_string(): s.kinds for s in spec}

    with psycopg.connect(database_url) as conn:
        ensure_schema(conn, use_timescaledb=False)
    plain = kinds(database_url)
    assert plain["eod_prices/US"] == {"polars", "postgres"}
    real = kinds(harness.warehouse_url)
    expected = "timescaledb" if "prices" in (hypertables_at(harness.warehouse_url) or ()) \
        else "postgres"
    assert real["eod_prices/US"] == {"polars", expected}
    assert real["eod_splits/US"] == {"polars", expected}
    nowhere = kinds("postgresql://eod@127.0.0.1:1/none")
    assert nowhere["eod_prices/US"] == {"polars"}


def test_tickers_config_refetches_only_those_at_one_call_each(harness):
    import psycopg

    harness.load_reference("US")
    assert harness.backfill("US", "2026-10-01", "2026-11-20").success
    with psycopg.connect(harness.warehouse_url) as conn:  # make two rows stale
        conn.execute("UPDATE eod.prices SET volume = volume + 1 WHERE exchange = 'US' "
                     "AND date = '2026-11-02' AND symbol IN ('BRK-B', 'BF-B')")
    before = harness.calls()
    config = {"ops": {"eod_prices__US": {"config": {"tickers": ["BRK-B"], "refetch": True}}}}
    result = harness.backfill("US", "2026-10-01", "2026-11-20", run_config=config)
    md = _md(result)
    assert harness.calls() - before == md["calls_spent"] == 1
    assert (md["only_tickers"], md["rows_revised"]) == ("BRK-B", 1)
    stored = harness.stored("US")
    expected = harness.expected("US", dt.date(2026, 10, 1), dt.date(2026, 11, 20))
    stale = stored.join(expected, on=stored.columns, how="anti")
    assert stale["symbol"].to_list() == ["BF-B"]  # the other ticker was not touched
    bad = harness.backfill("US", "2026-10-01", "2026-11-20", raise_on_error=False,
                           run_config={"ops": {"eod_prices__US": {"config": {
                               "tickers": ["NOPE"]}}}})
    assert not bad.success
    failure = next(e for e in bad.all_events if e.event_type_value == "STEP_FAILURE")
    assert "NOPE not in US's symbol list" in str(failure.event_specific_data.error)


def test_a_holiday_at_the_ranges_end_is_not_waited_for(harness_factory):
    """Friday after Thanksgiving, before the close: Thanksgiving (a known holiday) stores
    nothing and succeeds; a range ending on it runs; the Friday itself is not out yet."""
    h = harness_factory(now=dt.datetime(2026, 11, 27, 15, 30, tzinfo=dt.UTC))
    h.load_reference("US")
    holiday = h.materialize(price_asset_key("US"), partition_key="2026-11-26")
    assert holiday.success
    assert _md(holiday)["calls_spent"] == 0
    ending_on_it = h.backfill("US", "2026-11-24", "2026-11-26")
    assert ending_on_it.success
    assert set(h.stored("US")["date"].unique().to_list()) == {dt.date(2026, 11, 24),
                                                            dt.date(2026, 11, 25)}
    friday = h.backfill("US", "2026-11-25", "2026-11-27", raise_on_error=False)
    assert not friday.success
    assert "the data of 2026-11-27 is not out yet" in str(friday.all_events)
