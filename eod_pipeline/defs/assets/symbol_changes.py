"""EODHD's ticker changes (FB -> META), stored in eod.symbol_changes.

A rename ends one code's bars and starts another's for the same company; without the
change list the warehouse holds two unrelated tickers, one "delisted". EODHD's
`/symbol-change-history` says which old code became which new one and from when. It
covers the US only, from 2022-07-22, and costs 5 calls a request whatever the range
(../shared/eodhd-api.md, More facts): so one unpartitioned asset asks for the whole
window in one request and upserts it (rows are never deleted: a change the source stops
listing stays known).
"""

import datetime as dt
from typing import Final

import dagster as dg
import polars as pl

from eod_pipeline.config import PipelineConfig
from eod_pipeline.defs.io_manager import column_schema
from eod_pipeline.defs.resources import ClockResource, EodhdResource
from eod_pipeline.warehouse.tables import SYMBOL_CHANGES

#: The exchange the endpoint covers (the contract: "US only").
EXCHANGE: Final[str] = "US"
#: First effective date the endpoint has (the contract: "data since 2022-07-22").
SINCE: Final[dt.date] = dt.date(2022, 7, 22)
ASSET_NAME: Final[str] = "eod_symbol_changes"


@dg.asset(
    name=ASSET_NAME,
    group_name="eod_reference",
    description=(
        "EODHD's ticker changes for the US (old code, new code, effective date; e.g. FB -> "
        "META) since 2022-07-22, from /symbol-change-history (one request, 5 calls), "
        "upserted into eod.symbol_changes. Refetches the whole window: a change listed late "
        "is picked up on the next materialization."
    ),
    metadata={"eod/table": SYMBOL_CHANGES.name,
              "dagster/column_schema": column_schema(SYMBOL_CHANGES)},
    owners=["team:market-data"],
    kinds={"python", "polars", "postgres"},
    pool="eodhd",
)
def eod_symbol_changes(context: dg.AssetExecutionContext, eodhd: EodhdResource,
                       clock: ClockResource) -> pl.DataFrame:
    today = clock.now().date()
    frame, usage = eodhd.run(lambda client: client.symbol_changes(SINCE, today))
    frame = frame.with_columns(pl.col("exchange").fill_null(EXCHANGE))
    complete = pl.all_horizontal(pl.col(c).is_not_null()
                                 for c in ("old_symbol", "new_symbol", "date"))
    rejected = frame.filter(~complete)
    if rejected.height:
        context.log.warning(f"{rejected.height} symbol changes without old code, new code or "
                            f"date were not stored: {rejected.head(5).to_dicts()}")
    kept = frame.filter(complete).unique(subset=["exchange", "old_symbol", "date"],
                                         keep="last", maintain_order=True)
    context.add_output_metadata({
        "window": f"{SINCE} .. {today}",
        "changes": kept.height,
        "rows_rejected": rejected.height,
        "calls_spent": usage["calls_spent"],
    })
    return kept.select(SYMBOL_CHANGES.column_names)


def build_symbol_changes_assets(config: PipelineConfig) -> list[dg.AssetsDefinition]:
    """The asset when the US is configured (the endpoint covers nothing else)."""
    return [eod_symbol_changes] if any(s.code == EXCHANGE for s in config.exchanges) else []
