"""Reference assets: the exchanges list, exchange calendars, and symbol lists."""


import datetime as dt

import dagster as dg
import polars as pl

from eod_pipeline.config import PipelineConfig
from eod_pipeline.defs.io_manager import column_schema
from eod_pipeline.defs.partitions import exchange_partitions
from eod_pipeline.defs.resources import ClockResource, EodhdResource, WarehouseResource
from eod_pipeline.warehouse.symbols import upsert_snapshot
from eod_pipeline.warehouse.tables import EXCHANGE_HOLIDAYS, EXCHANGES, SYMBOLS
from eod_pipeline.warehouse.writer import write_frames

OWNERS = ["team:market-data"]
KINDS = {"python", "polars", "postgres"}
#: Holidays are fetched for this window around today (the API's default is about
#: +-6 months; a wider past window lets gap checks tell holidays from missing days).
HOLIDAY_PAST = dt.timedelta(days=3 * 366)
HOLIDAY_FUTURE = dt.timedelta(days=366)


@dg.asset(
    group_name="eod_reference",
    description="EODHD's exchanges list (1 API call), upserted into eod.exchanges.",
    metadata={"eod/table": "exchanges"},
    owners=OWNERS,
    kinds=KINDS,
    pool="eodhd",
)
def exchanges(context: dg.AssetExecutionContext, eodhd: EodhdResource) -> pl.DataFrame:
    frame, usage = eodhd.run(lambda client: client.exchanges())
    context.add_output_metadata({"calls_spent": usage["calls_spent"]})
    return frame.select(EXCHANGES.column_names)


def build_reference_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    partitions = exchange_partitions(config)

    @dg.asset(
        group_name="eod_reference",
        partitions_def=partitions,
        description=(
            "Each exchange's trading calendar from EODHD's exchange-details endpoint (1 call): "
            "holidays kept in eod.exchange_holidays, used by the daily sensor, gap checks "
            "and `eod-pipeline status` so a holiday is never reported as missing data."
        ),
        owners=OWNERS,
        kinds=KINDS,
        pool="eodhd",
    )
    def exchange_calendars(context: dg.AssetExecutionContext, eodhd: EodhdResource,
                           warehouse: WarehouseResource, clock: ClockResource
                           ) -> dg.MaterializeResult:
        code = context.partition_key
        today = clock.now().date()
        details, usage = eodhd.run(
            lambda c: c.exchange_details(code, today - HOLIDAY_PAST, today + HOLIDAY_FUTURE)
        )
        holidays = (
            details.holidays.filter(pl.col("date").is_not_null())
            .unique(subset=["date"], keep="first")
            .select(pl.lit(code).alias("exchange"), "date", "holiday", "type")
        )
        with warehouse.connect() as conn:
            report = write_frames(conn, EXCHANGE_HOLIDAYS, holidays)
            conn.commit()
        return dg.MaterializeResult(
            metadata={
                "timezone": details.timezone,
                "holidays": holidays.height,
                "rows_inserted": report.inserted,
                "calls_spent": usage["calls_spent"],
                "dagster/table_name": EXCHANGE_HOLIDAYS.qualified_name,
            }
        )

    @dg.asset(
        group_name="eod_reference",
        partitions_def=partitions,
        description=(
            "A full snapshot of each exchange's symbol list, active and delisted (2 API "
            "calls), upserted into eod.symbols: first/last seen kept, symbols that vanished "
            "marked disappeared_on, never deleted. Refreshed weekly by a schedule."
        ),
        owners=OWNERS,
        kinds=KINDS,
        pool="eodhd",
        metadata={"dagster/table_name": SYMBOLS.qualified_name,
                  "dagster/column_schema": column_schema(SYMBOLS)},
    )
    def symbol_lists(context: dg.AssetExecutionContext, eodhd: EodhdResource,
                     warehouse: WarehouseResource, clock: ClockResource
                     ) -> dg.MaterializeResult:
        code = context.partition_key
        snapshot, usage = eodhd.run(lambda client: client.all_symbols(code))
        with warehouse.connect() as conn:
            report = upsert_snapshot(conn, code, snapshot, clock.now().date())
        context.log.info(
            f"{code}: {report.symbols} symbols ({report.new} new, {report.delisted} delisted, "
            f"{report.disappeared} disappeared since the last snapshot)"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": report.symbols,
                "symbols_new": report.new,
                "symbols_delisted": report.delisted,
                "symbols_disappeared": report.disappeared,
                "calls_spent": usage["calls_spent"],
            }
        )

    return [exchange_calendars, symbol_lists]
