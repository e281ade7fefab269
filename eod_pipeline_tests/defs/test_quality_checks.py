"""Each quality check passes on clean data and fails on data made bad on purpose."""

import datetime as dt

import psycopg
import pytest

from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.checks import run_window
from eod_pipeline.quality import checks as quality
from eod_pipeline.warehouse import queries

START, END = "2026-03-02", "2026-05-29"
GOOD_FRIDAY = dt.date(2026, 4, 3)  # a US holiday in the simulated calendar


@pytest.fixture
def loaded(harness):
    harness.load_reference("US")
    assert harness.backfill("US", START, END).success
    return harness


def _evaluations(result) -> dict[str, object]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_checks_pass_on_clean_data_through_dagster(loaded):
    result = loaded.materialize(
        price_asset_key("US"), partition_key=END, tags={"eod/check_drift": "true"})
    evaluations = _evaluations(result)
    assert set(evaluations) >= {"coverage", "no_gaps", "ohlc_consistent",
                                "no_suspicious_moves", "adjustment_drift",
                                "newest_trading_day_present"}
    failed = {n: e.metadata for n, e in evaluations.items() if not e.passed}
    # The simulated universe is clean; the newest-day check looks at the clock's day
    # (2026-11-20), which this backfill does not cover.
    assert set(failed) == {"newest_trading_day_present"}
    drift = evaluations["adjustment_drift"].metadata
    assert drift["calls_spent"].value == quality.DRIFT_SAMPLE


def test_holidays_are_not_gaps_and_missing_days_are(loaded):
    with psycopg.connect(loaded.warehouse_url) as conn:
        holidays = queries.holidays(conn, "US")
        assert GOOD_FRIDAY in holidays
        clean = quality.gaps(conn, "US", holidays)
        assert clean.passed and not clean.warn
        # Without the calendar the holiday is a weekday with no rows, but the fetch log
        # proves the source was asked and had none: named, not failed.
        untold = quality.gaps(conn, "US", holidays - {GOOD_FRIDAY})
        assert untold.passed and untold.warn
        assert untold.metadata["days_source_had_no_rows"] == [str(GOOD_FRIDAY)]
        # Rows that were never fetched (no fetch-log entry covers them) are a hole that
        # fails, naming the ticker and the dates.
        conn.execute("DELETE FROM eod.fetch_log WHERE exchange = 'US' AND symbol = 'BRK-B'")
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND symbol = 'BRK-B' "
                     "AND date BETWEEN '2026-04-14' AND '2026-04-15'")
        outcome = quality.gaps(conn, "US", holidays)
    assert not outcome.passed
    assert outcome.metadata["missing_rows"] == 2
    assert outcome.metadata["missing"] == ["BRK-B: 2026-04-14, 2026-04-15"]


def test_rows_lost_after_logging_fail_the_fetch_log_check(loaded):
    with psycopg.connect(loaded.warehouse_url) as conn:
        assert quality.fetch_log_agrees(conn, "US").passed
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND symbol = 'BRK-B' "
                     "AND date = '2026-04-15'")
        outcome = quality.fetch_log_agrees(conn, "US")
        outside = quality.fetch_log_agrees(conn, "US", (dt.date(2026, 1, 1),
                                                        dt.date(2026, 2, 27)))
    assert not outcome.passed
    assert outcome.metadata["entries_short"] == 1
    assert outcome.metadata["short"][0].startswith("BRK-B 2026-03-02..2026-05-29: logged")
    assert outside.passed  # a window the entry does not touch


def test_consistency_fails_on_a_broken_row(loaded):
    with psycopg.connect(loaded.warehouse_url) as conn:
        assert quality.consistency(conn, "US").passed
        conn.execute("UPDATE eod.prices SET high = low - 1 WHERE exchange = 'US' AND "
                     "symbol = 'BRK-B' AND date = '2026-04-15'")
        outcome = quality.consistency(conn, "US")
    assert not outcome.passed
    assert outcome.metadata["examples"] == ["BRK-B 2026-04-15"]


def test_suspicious_move_without_split_is_flagged(loaded):
    with psycopg.connect(loaded.warehouse_url) as conn:
        assert quality.suspicious_moves(conn, "US").passed
        conn.execute("UPDATE eod.prices SET close = close * 10, high = high * 10 "
                     "WHERE exchange = 'US' AND symbol = 'BRK-B' AND date = '2026-04-15'")
        outcome = quality.suspicious_moves(conn, "US")
    assert not outcome.passed
    assert outcome.metadata["examples"][0].startswith("BRK-B 2026-04-15")


def test_coverage_fails_on_any_day_of_the_window_not_only_the_newest(loaded):
    may_20 = dt.date(2026, 5, 20)
    with psycopg.connect(loaded.warehouse_url) as conn:
        holidays = queries.holidays(conn, "US")
        window = (dt.date(2026, 3, 2), dt.date(2026, 5, 29))
        assert quality.coverage(conn, "US", holidays, window).passed
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND date = %s "
                     "AND symbol NOT IN ('BRK-B', 'BF-B')", (may_20,))
        newest_only = quality.coverage(conn, "US", holidays)
        outcome = quality.coverage(conn, "US", holidays, window)
    assert newest_only.passed  # the newest day is complete
    assert not outcome.passed
    assert outcome.metadata["worst_day"] == str(may_20)
    assert outcome.metadata["missing_count"] > 10


def test_adjustment_drift_fails_when_stored_history_is_stale(loaded):
    with psycopg.connect(loaded.warehouse_url) as conn:
        sample = quality.drift_sample(conn, "US", loaded.now.date())
        victim = sample[0][0]
        conn.execute("UPDATE eod.prices SET adjusted_close = adjusted_close * 0.5 "
                     "WHERE exchange = 'US' AND symbol = %s AND date = '2026-04-15'",
                     (victim,))
    result = loaded.materialize(price_asset_key("US"), partition_key=END,
                                tags={"eod/check_drift": "true"})
    drift = _evaluations(result)["adjustment_drift"]
    assert not drift.passed
    assert f"{victim} 2026-04-15" in drift.metadata["drifted"].value


def test_run_window_reads_the_partition_tags():
    day = dt.date(2026, 5, 29)
    assert run_window({"dagster/partition": "2026-05-29"}) == (day, day)
    assert run_window({"dagster/asset_partition_range_start": "2026-03-02",
                       "dagster/asset_partition_range_end": "2026-05-29"}) == (
        dt.date(2026, 3, 2), day)
    assert run_window({"dagster/partition": "US"}) is None  # an exchange partition
    assert run_window({}) is None


def test_a_partition_run_checks_the_dates_it_wrote_not_the_whole_history(loaded):
    with psycopg.connect(loaded.warehouse_url) as conn:
        conn.execute("UPDATE eod.prices SET high = low - 1 WHERE exchange = 'US' AND "
                     "symbol = 'BRK-B' AND date = '2026-04-15'")
    # A run of the last day: the broken row of April is not its business...
    evaluations = _evaluations(loaded.materialize(price_asset_key("US"), partition_key=END))
    assert evaluations["ohlc_consistent"].passed
    assert evaluations["no_gaps"].passed
    # ...a broken row on its own day is.
    with psycopg.connect(loaded.warehouse_url) as conn:
        conn.execute("UPDATE eod.prices SET high = low - 1 WHERE exchange = 'US' AND "
                     "symbol = 'BRK-B' AND date = %s", (END,))
        # The whole history still shows both (a check run on its own looks at it all).
        assert quality.consistency(conn, "US").metadata["bad_rows"] == 2
    evaluations = _evaluations(loaded.materialize(price_asset_key("US"), partition_key=END))
    assert not evaluations["ohlc_consistent"].passed
    assert evaluations["ohlc_consistent"].metadata["examples"].value == [f"BRK-B {END}"]


def test_the_move_check_compares_a_windows_first_day_with_the_day_before(loaded):
    april_15 = dt.date(2026, 4, 15)
    with psycopg.connect(loaded.warehouse_url) as conn:
        conn.execute("UPDATE eod.prices SET close = close * 10, high = high * 10 "
                     "WHERE exchange = 'US' AND symbol = 'BRK-B' AND date = %s", (april_15,))
        outcome = quality.suspicious_moves(conn, "US", (april_15, april_15))
        later = quality.suspicious_moves(conn, "US", (dt.date(2026, 4, 20),
                                                      dt.date(2026, 4, 24)))
    assert not outcome.passed
    assert outcome.metadata["examples"] == [outcome.metadata["examples"][0]]
    assert outcome.metadata["examples"][0].startswith("BRK-B 2026-04-15")
    assert later.passed
