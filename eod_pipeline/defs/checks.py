"""Asset checks on each exchange's prices, visible in the UI per exchange.

A freshness policy only sees that *some* partition materialized recently; these checks
look at the data itself.
"""


import asyncio

import dagster as dg
import polars as pl

from eod_pipeline.config import ExchangeSetting, PipelineConfig
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.resources import ClockResource, EodhdResource, WarehouseResource
from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.markets.calendar import newest_available_day
from eod_pipeline.quality import checks as quality
from eod_pipeline.warehouse import queries
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES


def build_newest_day_check(setting: ExchangeSetting, pipeline: PipelineConfig
                           ) -> dg.AssetChecksDefinition:
    code = setting.code

    @dg.asset_check(
        asset=price_asset_key(code),
        name="newest_trading_day_present",
        description=(
            "Fails when the newest trading day whose data should be out by now (close + "
            "data delay, holidays and weekends skipped) has no rows in eod.prices."
        ),
    )
    def newest_trading_day_present(warehouse: WarehouseResource, clock: ClockResource
                                   ) -> dg.AssetCheckResult:
        now = clock.now() - pipeline.refresh_delay
        with warehouse.connect() as conn:
            holidays = queries.holidays(conn, code)
            expected = newest_available_day(setting.info, now, holidays)
            rows = queries.rows_on(conn, code, expected)
            newest = queries.newest_date(conn, code)
        if expected < setting.start:
            return dg.AssetCheckResult(passed=True, metadata={"expected_day": str(expected),
                                                              "note": "before the start date"})
        return dg.AssetCheckResult(
            passed=rows > 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "expected_day": str(expected),
                "rows_on_expected_day": rows,
                "newest_stored_day": str(newest) if newest else "none",
            },
        )

    return newest_trading_day_present


#: Run tag that makes the drift check spend its calls outside the daily refresh.
DRIFT_TAG = "eod/check_drift"


def _result(outcome: quality.CheckOutcome) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.WARN if outcome.warn and outcome.passed else (
        dg.AssetCheckSeverity.ERROR)
    return dg.AssetCheckResult(passed=outcome.passed and not outcome.warn, severity=severity,
                               metadata=outcome.metadata)


def build_quality_checks(setting: ExchangeSetting) -> list[dg.AssetChecksDefinition]:
    """Coverage, gaps, consistency, suspicious moves and adjustment drift of one exchange."""
    code = setting.code
    key = price_asset_key(code)

    @dg.asset_check(asset=key, name="coverage", description=(
        "Share of the newest day's active symbols with a row: warns below "
        f"{quality.COVERAGE_WARN:.0%}, fails below {quality.COVERAGE_ERROR:.0%}."))
    def coverage(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return _result(quality.coverage(conn, code))

    @dg.asset_check(asset=key, name="no_gaps", description=(
        "Trading days (weekdays that are not the exchange's holidays) between the first "
        "and last stored date with no rows at all."))
    def no_gaps(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return _result(quality.gaps(conn, code, queries.holidays(conn, code)))

    @dg.asset_check(asset=key, name="ohlc_consistent", description=(
        "Stored rows keep low <= open, close <= high and non-negative values."))
    def ohlc_consistent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return _result(quality.consistency(conn, code))

    @dg.asset_check(asset=key, name="no_suspicious_moves", description=(
        f"Warns on day-over-day close changes beyond {quality.SUSPICIOUS_FACTOR:g}x with "
        "no split that day to explain them."))
    def no_suspicious_moves(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        with warehouse.connect() as conn:
            return _result(quality.suspicious_moves(conn, code))

    @dg.asset_check(asset=key, name="adjustment_drift", description=(
        f"Re-fetches {quality.DRIFT_SAMPLE} tickers' history (1 API call each, rotating "
        "daily) and fails where the stored adjusted_close disagrees with the source. Spends "
        f"calls only in daily-refresh runs or runs tagged {DRIFT_TAG}=true, so a resumed "
        "backfill still spends nothing it does not need."))
    def adjustment_drift(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource,
                         eodhd: EodhdResource, clock: ClockResource) -> dg.AssetCheckResult:
        tags = context.run.tags
        if tags.get("eod/trigger") != "daily_refresh" and tags.get(DRIFT_TAG) != "true":
            return dg.AssetCheckResult(passed=True, metadata={
                "skipped": f"not a daily refresh; tag the run {DRIFT_TAG}=true to sample",
                "calls_spent": 0})
        with warehouse.connect() as conn:
            sample = quality.drift_sample(conn, code, clock.now().date())
            stored = {s: read_slice(conn, PRICES, TableSlice(
                PRICES, {"exchange": [code], "symbol": [s]}), ["date", "adjusted_close"])
                for s, _, _ in sample}

        async def fetch(client: EodhdClient) -> dict[str, pl.DataFrame]:
            got = await asyncio.gather(*(client.eod_history(code, s, a, b) for s, a, b in sample))
            return {s: g for (s, _, _), g in zip(sample, got, strict=True)}

        fresh, usage = eodhd.run(fetch) if sample else ({}, {"calls_spent": 0})
        drifted: list[str] = []
        for symbol, frame in fresh.items():
            joined = stored[symbol].join(frame.select("date", "adjusted_close"), on="date",
                                         suffix="_src")
            bad = joined.filter((pl.col("adjusted_close") - pl.col("adjusted_close_src")).abs()
                                > quality.DRIFT_TOLERANCE)
            drifted += [f"{symbol} {d}" for d in bad["date"].head(3).to_list()]
            if bad.height:
                drifted.append(f"{symbol}: {bad.height} dates")
        return dg.AssetCheckResult(
            passed=not drifted, severity=dg.AssetCheckSeverity.ERROR,
            metadata={"sampled": ", ".join(s for s, _, _ in sample),
                      "drifted": drifted[:quality.SHOWN],
                      "calls_spent": int(usage.get("calls_spent", 0))},
        )

    return [coverage, no_gaps, ohlc_consistent, no_suspicious_moves, adjustment_drift]
