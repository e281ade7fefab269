"""Asset checks on each exchange's prices, visible in the UI per exchange.

A freshness policy only sees that *some* partition materialized recently; these checks
look at the data itself.
"""


import dagster as dg

from eod_pipeline.config import ExchangeSetting, PipelineConfig
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.resources import ClockResource, WarehouseResource
from eod_pipeline.markets.calendar import newest_available_day
from eod_pipeline.warehouse import queries


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
