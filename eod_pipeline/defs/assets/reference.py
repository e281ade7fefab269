"""Reference assets: the exchanges list, exchange calendars, and symbol lists.

Like every asset that stores rows, they return them to the warehouse I/O manager: the
calendars as a frame merged into their exchange's slice of eod.exchange_holidays, the
symbol lists as a `SymbolSnapshot`.
"""


import datetime as dt

import dagster as dg
import polars as pl

from eod_pipeline.config import PipelineConfig
from eod_pipeline.defs.io_manager import column_schema
from eod_pipeline.defs.partitions import exchange_partitions
from eod_pipeline.defs.resources import ClockResource, EodhdResource
from eod_pipeline.warehouse.symbols import SymbolSnapshot
from eod_pipeline.warehouse.tables import EXCHANGE_HOLIDAYS, EXCHANGES, SYMBOLS

OWNERS = ["team:market-data"]
KINDS = {"python", "polars", "postgres"}
#: Holidays are fetched for this window around today (the API's default is about
#: +-6 months; a wider past window lets gap checks tell holidays from missing days).
HOLIDAY_PAST = dt.timedelta(days=3 * 366)
HOLIDAY_FUTURE = dt.timedelta(days=366)


@dg.asset(
    group_name="eod_reference",
    description="EODHD's exchanges list (1 API call), upserted into eod.exchanges.",
    metadata={"eod/table": EXCHANGES.name, "dagster/table_name": EXCHANGES.qualified_name,
              "dagster/column_schema": column_schema(EXCHANGES)},
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
        metadata={"eod/table": EXCHANGE_HOLIDAYS.name, "partition_expr": "exchange",
                  "dagster/column_schema": column_schema(EXCHANGE_HOLIDAYS)},
    )
    def exchange_calendars(context: dg.AssetExecutionContext, eodhd: EodhdResource,
                           clock: ClockResource) -> pl.DataFrame:
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
        context.add_output_metadata({"timezone": details.timezone,
                                     "holidays": holidays.height,
                                     "calls_spent": usage["calls_spent"]})
        return holidays

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
        metadata={"eod/table": SYMBOLS.name, "partition_expr": "exchange",
                  "dagster/table_name": SYMBOLS.qualified_name,
                  "dagster/column_schema": column_schema(SYMBOLS)},
    )
    def symbol_lists(context: dg.AssetExecutionContext, eodhd: EodhdResource,
                     clock: ClockResource) -> SymbolSnapshot:
        code = context.partition_key
        snapshot, usage = eodhd.run(lambda client: client.all_symbols(code))
        context.add_output_metadata({"calls_spent": usage["calls_spent"]})
        return SymbolSnapshot(code, snapshot, clock.now().date())

    return [exchange_calendars, symbol_lists]
