"""Each quality check passes on clean data and fails on data made bad on purpose."""

import asyncio
import datetime as dt
import json
import re

import dagster as dg
import psycopg
import pytest
from dagster._core.loader import LoadingContextForTest
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionResolvedStatus as Status,
)

from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.checks import DESCRIPTIONS, DRIFT_TAG, WHAT_TO_DO, run_window
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
                                "no_suspicious_moves", "source_drift",
                                "newest_trading_day_present"}
    # No splits or dividends fetched: the warehouse cannot adjust, so local vs vendor
    # does not run (skipped, not green).
    assert "adjustment_drift" not in evaluations
    failed = {n: e.metadata for n, e in evaluations.items() if not e.passed}
    # The simulated universe is clean; the newest-day check looks at the clock's day
    # (2026-11-20), which this backfill does not cover.
    assert set(failed) == {"newest_trading_day_present"}
    drift = evaluations["source_drift"].metadata
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


def test_a_ticker_that_stops_is_missing_until_the_symbol_list_says_delisted(loaded):
    """A ticker whose rows stop mid-window is a hole on every later day, named; once the
    symbol list calls it delisted it stops counting (the per-ticker spans' join with
    eod.symbols, `quality_reads.ticker_spans`)."""
    window = (dt.date(2026, 3, 2), dt.date(2026, 5, 29))
    with psycopg.connect(loaded.warehouse_url) as conn:
        holidays = queries.holidays(conn, "US")
        # The simulator's thinly traded tickers have days without a bar of their own.
        before = quality.coverage(conn, "US", holidays, window)
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND symbol = 'BRK-B' "
                     "AND date >= '2026-05-20'")
        stopped = quality.coverage(conn, "US", holidays, window)
        conn.execute("UPDATE eod.symbols SET delisted = true "
                     "WHERE exchange = 'US' AND code = 'BRK-B'")
        delisted = quality.coverage(conn, "US", holidays, window)
    assert "BRK-B" not in before.metadata["missing"]
    assert "BRK-B" in stopped.metadata["missing"]
    assert stopped.metadata["coverage"] < before.metadata["coverage"]
    # Delisted: not active after its last row, so that day has one ticker less to have
    # and one less missing.
    assert "BRK-B" not in delisted.metadata["missing"]
    assert delisted.metadata["worst_day"] == stopped.metadata["worst_day"] == "2026-05-20"
    assert delisted.metadata["active_symbols"] == stopped.metadata["active_symbols"] - 1
    assert delisted.metadata["missing_count"] == stopped.metadata["missing_count"] - 1


def test_source_drift_fails_when_stored_history_is_stale(loaded):
    with psycopg.connect(loaded.warehouse_url) as conn:
        sample = quality.drift_sample(conn, "US", loaded.now.date())
        victim = sample[0][0]
        conn.execute("UPDATE eod.prices SET adjusted_close = adjusted_close * 0.5 "
                     "WHERE exchange = 'US' AND symbol = %s AND date = '2026-04-15'",
                     (victim,))
    result = loaded.materialize(price_asset_key("US"), partition_key=END,
                                tags={"eod/check_drift": "true"})
    drift = _evaluations(result)["source_drift"]
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


def _statuses(instance: dg.DagsterInstance) -> dict[str, Status]:
    """Each US price check's latest execution status, resolved the way the UI resolves it
    (a planned check whose run finished without a result is SKIPPED)."""
    keys = [dg.AssetCheckKey(price_asset_key("US"), name) for name in DESCRIPTIONS]
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    loading = LoadingContextForTest(instance)
    return {key.name: asyncio.run(records[key].resolve_status(loading))
            for key in keys if key in records}


def _checks_alone(h, tags: dict[str, str] | None = None) -> dg.ExecuteInProcessResult:
    """A run of the US price checks without the asset (they look at everything stored)."""
    key = price_asset_key("US")
    job = h.defs().resolve_implicit_job_def_def_for_assets([key]).get_subset(
        asset_selection=set(),
        asset_check_selection={dg.AssetCheckKey(key, name) for name in DESCRIPTIONS})
    return job.execute_in_process(instance=h.instance, tags=tags)


def test_a_check_that_does_not_run_is_skipped_not_succeeded(loaded):
    key = price_asset_key("US")
    # Not a daily refresh and not tagged: the drift check spends no calls and reports
    # nothing, so Dagster records it as skipped, never as a green success.
    result = loaded.materialize(key, partition_key=END)
    assert result.success
    assert "source_drift" not in _evaluations(result)
    statuses = _statuses(loaded.instance)
    assert statuses["source_drift"] is Status.SKIPPED
    assert statuses["coverage"] is Status.SUCCEEDED
    assert statuses["newest_trading_day_present"] is Status.FAILED
    # Tagged, it runs and its status is its verdict.
    assert loaded.materialize(key, partition_key=END, tags={DRIFT_TAG: "true"}).success
    assert _statuses(loaded.instance)["source_drift"] is Status.SUCCEEDED


def test_checks_with_nothing_to_judge_are_skipped(harness):
    harness.load_reference("US")
    result = _checks_alone(harness, tags={DRIFT_TAG: "true"})
    assert result.success
    statuses = _statuses(harness.instance)
    # No prices stored: no gaps to look for, no day to count, no ticker to sample.
    assert {n for n, s in statuses.items() if s is Status.SKIPPED} == {
        "no_gaps", "coverage", "adjustment_drift", "source_drift"}
    assert statuses["newest_trading_day_present"] is Status.FAILED


def _assets_named(text: str) -> set[str]:
    """Asset keys a text names (eod_x/CODE, or a reference asset); not op names like
    eod_prices__US in a run config."""
    return set(re.findall(r"\b(eod_[a-z]+/\w+|exchange_calendars|symbol_lists)\b", text))


def _follow(h, what_to_do: str) -> dg.ExecuteInProcessResult:
    """Run what a check's what_to_do says: materialize eod_prices/US over the partitions
    it names with the run config it gives."""
    found = re.search(r"materialize eod_prices/US partitions? (\S+?)(?:\.\.\.(\S+))? "
                      r"with run config (\{.*?\}\}\}\})", what_to_do)
    assert found, what_to_do
    first, last, config = found.groups()
    return h.backfill("US", first, last or first, run_config=json.loads(config))


def test_every_check_that_is_not_green_says_what_to_do(loaded):
    sample = None
    with psycopg.connect(loaded.warehouse_url) as conn:
        sample = quality.drift_sample(conn, "US", loaded.now.date())
        victim = sample[0][0]
        others = [s for s in queries.symbol_codes(conn, "US")
                  if s not in {"BRK-B", victim}][:3]
        # Never fetched (no fetch-log entry covers it): a hole.
        conn.execute("DELETE FROM eod.fetch_log WHERE exchange = 'US' AND symbol = 'BRK-B'")
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND symbol = 'BRK-B' "
                     "AND date BETWEEN '2026-04-14' AND '2026-04-15'")
        # Fetched, then lost: the fetch log disagrees, and the stretch looks like a halt.
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND symbol = %s "
                     "AND date BETWEEN '2026-04-20' AND '2026-04-22'", (others[0],))
        conn.execute("UPDATE eod.prices SET high = low - 1 WHERE exchange = 'US' AND "
                     "symbol = %s AND date = '2026-05-05'", (others[1],))
        conn.execute("UPDATE eod.prices SET close = close * 10, high = high * 10 WHERE "
                     "exchange = 'US' AND symbol = %s AND date = '2026-05-12'", (others[2],))
        conn.execute("UPDATE eod.prices SET adjusted_close = adjusted_close * 0.5 "
                     "WHERE exchange = 'US' AND symbol = %s AND date = '2026-04-15'",
                     (victim,))
        # The newest stored day (what coverage looks at when run alone) loses most rows.
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND date = %s AND symbol "
                     "NOT IN ('BRK-B', %s)", (END, victim))
    result = _checks_alone(loaded, tags={DRIFT_TAG: "true"})
    evaluations = _evaluations(result)
    # Local vs vendor needs fetched splits and dividends (see its own test).
    assert set(evaluations) == set(DESCRIPTIONS) - {"adjustment_drift"}
    assert not any(e.passed for e in evaluations.values())
    asset_keys = {k.to_user_string() for k in loaded.defs().resolve_all_asset_keys()}
    for name, evaluation in evaluations.items():
        what_to_do = evaluation.metadata[WHAT_TO_DO].value
        assert what_to_do, name
        assert _assets_named(what_to_do) <= asset_keys | {"exchange_calendars",
                                                           "symbol_lists"}, name
    gaps = evaluations["no_gaps"].metadata[WHAT_TO_DO].value
    assert "materialize eod_prices/US partitions 2026-04-14...2026-04-15" in gaps
    assert f"--symbol {others[0]} --from 2026-04-20 --to 2026-04-22" in gaps
    assert victim in evaluations["source_drift"].metadata[WHAT_TO_DO].value
    # Doing what the gap check says stores the missing rows (and spends calls only on them).
    assert _follow(loaded, gaps).success
    with psycopg.connect(loaded.warehouse_url) as conn:
        missing = quality.gaps(conn, "US", queries.holidays(conn, "US")).metadata
    assert missing["missing_rows"] == 0
    # So does what the fetch-log check says for the rows lost after logging.
    assert _follow(loaded, evaluations["fetch_log_agrees"].metadata[WHAT_TO_DO].value).success
    with psycopg.connect(loaded.warehouse_url) as conn:
        assert quality.fetch_log_agrees(conn, "US", (dt.date(2026, 4, 1),
                                                     dt.date(2026, 4, 30))).passed


def test_newest_day_red_after_a_backfill_of_past_dates_says_it_is_expected(harness):
    harness.load_reference("US")
    result = harness.backfill("US", START, END)
    newest = _evaluations(result)["newest_trading_day_present"]
    assert not newest.passed
    expected_day = newest.metadata["expected_day"].value
    assert newest.metadata["expected_after_this_run"].value is True
    assert newest.description.startswith(f"Expected after this run: it materialized "
                                         f"{START}..{END}")
    what_to_do = newest.metadata[WHAT_TO_DO].value
    assert "the daily_refresh sensor requests it once its data is out, after " in what_to_do
    assert "America/New_York" in what_to_do
    assert what_to_do.endswith(f"materialize eod_prices/US partition {expected_day}")
    # The run it names makes the check green.
    after = harness.materialize(price_asset_key("US"), partition_key=expected_day)
    newest = _evaluations(after)["newest_trading_day_present"]
    assert newest.passed
    assert WHAT_TO_DO not in newest.metadata


def test_adjustment_drift_compares_local_adjustments_with_the_vendor(harness_factory):
    """Local vs vendor: green when the stored splits and dividends reproduce the vendor's
    adjusted_close; red, naming the ticker and the asset to materialize, when an action
    is missing from the warehouse or the stored vendor history is stale."""
    from eod_pipeline.defs.assets.corporate_actions import event_asset_key
    from eod_pipeline.ingest.events import DIVIDEND_EVENTS, SPLIT_EVENTS
    from eodhd_simulator.events import InjectedDividend, InjectedSplit

    h = harness_factory(
        injected_splits=(InjectedSplit("US", "BRK-B", dt.date(2026, 10, 14), numerator=2),),
        injected_dividends=(InjectedDividend("US", "KSGV", dt.date(2026, 10, 7),
                                             fraction=0.03),))
    h.load_reference("US")
    first, last = "2026-09-01", h.now.date().isoformat()
    assert h.backfill("US", first, last).success
    tags = {"dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last}
    for kind in (SPLIT_EVENTS, DIVIDEND_EVENTS):
        assert h.materialize(event_asset_key(kind, "US"), tags=tags).success

    clean = _evaluations(_checks_alone(h))["adjustment_drift"]
    assert clean.passed, clean.metadata
    assert clean.metadata["rows_differing"].value == 0

    with psycopg.connect(h.warehouse_url) as conn:
        # The warehouse loses the dividend: its own adjustment no longer matches.
        conn.execute("DELETE FROM eod.dividends WHERE exchange = 'US' AND symbol = 'KSGV' "
                     "AND date = '2026-10-07'")
        # A stale vendor value on another ticker (as if fetched before the split).
        conn.execute("UPDATE eod.prices SET adjusted_close = close WHERE exchange = 'US' "
                     "AND symbol = 'BRK-B' AND date = '2026-10-01'")
    red = _evaluations(_checks_alone(h))["adjustment_drift"]
    assert not red.passed
    assert red.metadata["tickers"].value.startswith("BRK-B (1 rows, 2026-10-01..2026-10-01)")
    assert "KSGV" in red.metadata["tickers"].value
    what_to_do = red.metadata[WHAT_TO_DO].value
    assert "BRK-B, KSGV" in what_to_do
    assert {"eod_dividends/US", "eod_adjustments/US"} <= _assets_named(what_to_do)
