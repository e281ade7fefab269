"""Asset checks on each exchange's prices, visible in the UI per exchange.

A freshness policy only sees that *some* partition materialized recently; these checks
look at the data itself. They run as ONE step per exchange (a multi-asset check): as six
steps under the multiprocess executor they made a one-day refresh take ~25 s for well
under 1 s of work.

When the run materializes prices, the row-level checks (gaps, OHLC, moves) look at the
dates it wrote, not the whole history: a daily refresh of a ten-year exchange checks one
day, not ten years. A check run on its own looks at everything stored.

A check with nothing to judge (the source-drift check outside a daily refresh, an exchange with
no prices yet) reports no result: Dagster then shows it as skipped, never as a green
success. A check that warns or fails says what to do in its `what_to_do` metadata.
"""

import asyncio
import datetime as dt
from collections.abc import Callable, Iterator, Mapping

import dagster as dg
import polars as pl
import psycopg

from eod_pipeline.config import ExchangeSetting, PipelineConfig
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.resources import ClockResource, EodhdResource, WarehouseResource
from eod_pipeline.defs.sensors import SENSOR_INTERVAL_S
from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.markets.calendar import newest_available_day
from eod_pipeline.quality import advice
from eod_pipeline.quality import checks as quality
from eod_pipeline.warehouse import queries
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES

#: Dagster's run tags naming the partitions a run materializes.
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
#: Run tag that makes the source-drift check spend its calls outside the daily refresh.
DRIFT_TAG = "eod/check_drift"
#: The metadata key of a warning or failing check's next step.
WHAT_TO_DO = "what_to_do"

DESCRIPTIONS = {
    "newest_trading_day_present": (
        "Fails when the newest trading day whose data should be out by now (close + data "
        "delay, holidays and weekends skipped) has no rows in eod.prices."),
    "coverage": (
        "Per trading day of the run's dates (the newest stored day when run alone), the "
        "share of active symbols with a row: warns below "
        f"{quality.COVERAGE_WARN:.0%}, fails below {quality.COVERAGE_ERROR:.0%}; names the "
        "worst day and its missing tickers."),
    "no_gaps": (
        "Fails on any ticker's trading day with no row, between its first and last stored "
        "row, that the fetch log does not prove the source was asked for (names tickers "
        "and dates). Warns on answered stretches of "
        f"{quality.HALT_MIN_DAYS}+ days (possible halts) until acknowledged in "
        "eod.gap_acknowledgements, and on weekdays the source had no rows at all."),
    "fetch_log_agrees": (
        "Fails where the fetch log says more rows were stored for a request than "
        "eod.prices holds."),
    "ohlc_consistent": "Stored rows keep low <= open, close <= high and non-negative values.",
    "no_suspicious_moves": (
        f"Warns on day-over-day close changes beyond {quality.SUSPICIOUS_FACTOR:g}x with no "
        "split that day to explain them."),
    "adjustment_drift": (
        "Local vs vendor: fails where the total-return close the warehouse computes from raw "
        "closes and the stored splits and dividends (EODHD's method) differs from the "
        "vendor's stored adjusted_close by more than its 4-decimal rounding, on the run's "
        "dates and the whole history of tickers with an action in them; names the tickers. "
        "Spends no API call; skipped until splits and dividends have been fetched."),
    "source_drift": (
        f"Re-fetches {quality.DRIFT_SAMPLE} tickers' history (1 API call each, rotating daily) "
        "and fails where the stored adjusted_close disagrees with the source. Spends calls "
        f"only in daily-refresh runs or runs tagged {DRIFT_TAG}=true, so a resumed backfill "
        "still spends nothing it does not need; in other runs it does not run (skipped)."),
}


def run_window(tags: Mapping[str, str]) -> quality.Window:
    """The dates the run materializes, from its partition tags; None when it is not a
    partition run (then the checks look at everything stored)."""
    start = tags.get(RANGE_START_TAG)
    end = tags.get(RANGE_END_TAG)
    if not (start and end):
        start = end = tags.get(PARTITION_TAG)
    try:
        return (dt.date.fromisoformat(start), dt.date.fromisoformat(end)) if start and end \
            else None
    except ValueError:  # not a date partition (e.g. an exchange code)
        return None


def check_result(key: dg.AssetKey, name: str, outcome: quality.CheckOutcome
                 ) -> dg.AssetCheckResult | None:
    """The check's result, or None when it did not run (Dagster: skipped, not passed)."""
    if outcome.skipped:
        return None
    severity = dg.AssetCheckSeverity.WARN if outcome.warn and outcome.passed else (
        dg.AssetCheckSeverity.ERROR)
    metadata = dict(outcome.metadata)
    if not outcome.green:
        metadata[WHAT_TO_DO] = outcome.what_to_do
    return dg.AssetCheckResult(asset_key=key, check_name=name, passed=outcome.green,
                               severity=severity, metadata=metadata,
                               description=outcome.description or None)


def _newest_day(conn: psycopg.Connection, setting: ExchangeSetting, pipeline: PipelineConfig,
                clock: ClockResource, window: quality.Window) -> quality.CheckOutcome:
    code = setting.code
    now = clock.now() - pipeline.refresh_delay
    expected = newest_available_day(setting.info, now, queries.holidays(conn, code))
    if expected < setting.start:
        return quality.CheckOutcome(True, skipped=(
            f"the newest trading day whose data is out, {expected}, is before {code}'s "
            f"start date {setting.start}"))
    rows = queries.rows_on(conn, code, expected)
    newest = queries.newest_date(conn, code)
    before_newest = window is not None and window[1] < expected
    metadata = {"expected_day": str(expected), "rows_on_expected_day": rows,
                "newest_stored_day": str(newest) if newest else "none",
                "run_dates": f"{window[0]}..{window[1]}" if window else "none (run alone)",
                "expected_after_this_run": before_newest}
    if rows:
        return quality.CheckOutcome(True, metadata=metadata)
    info = setting.info
    due = info.available_at(expected) + pipeline.refresh_delay
    delay = (f" + EOD_REFRESH_DELAY_MINUTES {advice.minutes(pipeline.refresh_delay)}"
             if pipeline.refresh_delay else "")
    what_to_do = (
        f"newest day {expected} missing: the daily_refresh sensor requests it once its data "
        f"is out, after {due:%Y-%m-%d %H:%M} {info.timezone} ({due.astimezone(dt.UTC):%H:%M} "
        f"UTC: close {info.close:%H:%M} + {advice.minutes(info.data_delay)} data delay{delay}), "
        f"looking every {SENSOR_INTERVAL_S // 60} minutes. If that was a while ago, see the "
        f"sensor's latest tick (is it running?) and the newest run tagged eod/exchange={code}; "
        "or materialize "
        f"{advice.asset(advice.PRICES, code)} {advice.partitions(expected, expected)}")
    if before_newest:
        description = (
            f"Expected after this run: it materialized {window[0]}..{window[1]}, which ends "
            f"before the newest day whose data is out, {expected}; the daily refresh (or a run "
            f"of partition {expected}) stores that day.")
    elif window is not None and window[0] <= expected:
        description = (
            f"Not expected: this run materialized {expected} but no row of that day is "
            "stored; see the run's fetch metadata (calls failed, rows rejected), or the "
            "source had not published the day yet.")
    else:
        description = (f"The newest day whose data should be out, {expected}, has no rows "
                       f"(newest stored: {metadata['newest_stored_day']}).")
    return quality.CheckOutcome(False, metadata=metadata, what_to_do=what_to_do,
                                description=description)


def _drift(context: dg.AssetCheckExecutionContext, conn: psycopg.Connection, code: str,
           eodhd: EodhdResource, clock: ClockResource) -> quality.CheckOutcome:
    tags = context.run.tags
    if tags.get("eod/trigger") != "daily_refresh" and tags.get(DRIFT_TAG) != "true":
        return quality.CheckOutcome(True, skipped=(
            f"not a daily refresh; tag the run {DRIFT_TAG}=true to sample (spends "
            f"{quality.DRIFT_SAMPLE} API calls)"))
    sample = quality.drift_sample(conn, code, clock.now().date())
    if not sample:
        return quality.CheckOutcome(True, skipped=quality.NOTHING_STORED)
    stored = {s: read_slice(conn, PRICES, TableSlice(PRICES, {"exchange": [code], "symbol": [s]}),
                            ["date", "adjusted_close"])
              for s, _, _ in sample}

    async def fetch(client: EodhdClient) -> dict[str, pl.DataFrame]:
        got = await asyncio.gather(*(client.eod_history(code, s, a, b) for s, a, b in sample))
        return {s: g for (s, _, _), g in zip(sample, got, strict=True)}

    fresh, usage = eodhd.run(fetch)
    drifted: list[str] = []
    stale: list[tuple[str, dt.date, dt.date]] = []
    for symbol, first, last in sample:
        joined = stored[symbol].join(fresh[symbol].select("date", "adjusted_close"), on="date",
                                     suffix="_src")
        bad = joined.filter((pl.col("adjusted_close") - pl.col("adjusted_close_src")).abs()
                            > quality.DRIFT_TOLERANCE)
        drifted += [f"{symbol} {d}" for d in bad["date"].head(3).to_list()]
        if bad.height:
            drifted.append(f"{symbol}: {bad.height} dates")
            stale.append((symbol, first, last))
    what_to_do = "" if not stale else (
        "the stored adjusted history of " + ", ".join(s for s, _, _ in stale) + " is stale "
        "(a split or dividend the pipeline missed, or a correction): fetch it again, "
        + advice.refetch(code, min(a for _, a, _ in stale), max(b for _, _, b in stale),
                         [s for s, _, _ in stale]))
    return quality.CheckOutcome(
        not drifted, what_to_do=what_to_do,
        metadata={"sampled": ", ".join(s for s, _, _ in sample),
                  "drifted": drifted[:quality.SHOWN],
                  "calls_spent": int(usage.get("calls_spent", 0))})


def build_price_checks(setting: ExchangeSetting, pipeline: PipelineConfig
                       ) -> dg.AssetChecksDefinition:
    """All checks of one exchange's prices, as one subsettable step."""
    code = setting.code
    key = price_asset_key(code)

    @dg.multi_asset_check(
        name=f"price_checks_{code}",
        specs=[dg.AssetCheckSpec(name, asset=key, description=text)
               for name, text in DESCRIPTIONS.items()],
        can_subset=True,
        # The source-drift check spends EODHD calls: like every such step it holds the one
        # `eodhd` slot, so the in-process rate limiter of one step at a time holds.
        pool="eodhd",
    )
    def price_checks(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                     eodhd: EodhdResource, clock: ClockResource
                     ) -> Iterator[dg.AssetCheckResult]:
        selected = {k.name for k in context.selected_asset_check_keys}
        window = run_window(context.run.tags)
        with warehouse.connect() as conn:
            holidays = queries.holidays(conn, code)
            evaluations: dict[str, Callable[[], quality.CheckOutcome]] = {
                "newest_trading_day_present": lambda: _newest_day(conn, setting, pipeline,
                                                                  clock, window),
                "coverage": lambda: quality.coverage(conn, code, holidays, window),
                "fetch_log_agrees": lambda: quality.fetch_log_agrees(conn, code, window),
                "no_gaps": lambda: quality.gaps(conn, code, holidays, window),
                "ohlc_consistent": lambda: quality.consistency(conn, code, window),
                "no_suspicious_moves": lambda: quality.suspicious_moves(conn, code, window),
                "adjustment_drift": lambda: quality.local_vs_vendor(conn, code, window),
                "source_drift": lambda: _drift(context, conn, code, eodhd, clock),
            }
            for name, evaluate in evaluations.items():
                if name not in selected:
                    continue
                outcome = evaluate()
                result = check_result(key, name, outcome)
                if result is None:
                    # No result for a selected check: Dagster records it as skipped.
                    context.log.info(f"{name} not executed: {outcome.skipped}")
                else:
                    yield result

    return price_checks
