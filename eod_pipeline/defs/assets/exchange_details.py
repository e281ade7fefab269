"""The trading hours of every exchange of EODHD's list: what makes any of them configurable.

The 30 exchanges of the built-in registry need nothing; any other code of the list can go
into EOD_EXCHANGES once this asset has stored its time zone and session from
`/exchange-details/{EXCH}` (markets/stored.py says why stored, and where it is read).
"""

import dagster as dg
import polars as pl

from eod_pipeline.defs.io_manager import column_schema
from eod_pipeline.defs.resources import ClockResource, EodhdResource
from eod_pipeline.markets.fetch import fetch_exchange_facts
from eod_pipeline.markets.stored import write_cache
from eod_pipeline.warehouse.tables import EXCHANGE_DETAILS

OWNERS = ["team:market-data"]
KINDS = {"python", "polars", "postgres"}


@dg.asset(
    group_name="eod_reference",
    description=(
        "Time zone and trading hours of every exchange in EODHD's exchanges list, from "
        "/exchange-details/ (1 call per listed exchange, about 70 on the real API), upserted "
        "into eod.exchange_details and copied to $EOD_HOME/exchange_details.json: any listed "
        "code can then be configured in EOD_EXCHANGES, not only the 30 built-in ones."
    ),
    metadata={"eod/table": EXCHANGE_DETAILS.name,
              "dagster/column_schema": column_schema(EXCHANGE_DETAILS)},
    ins={"exchanges": dg.AssetIn()},
    owners=OWNERS,
    kinds=KINDS,
    pool="eodhd",
)
def exchange_details(context: dg.AssetExecutionContext, eodhd: EodhdResource,
                     clock: ClockResource, exchanges: pl.DataFrame) -> pl.DataFrame:
    codes = exchanges["code"].drop_nulls().to_list()
    if not codes:
        raise dg.Failure("eod.exchanges is empty: materialize the `exchanges` asset first")
    today = clock.now().date()
    facts, usage = eodhd.run(lambda client: fetch_exchange_facts(client, codes, today,
                                                                  exchanges))
    for code, why in sorted(facts.failures.items()):
        context.log.warning(f"{code}: trading hours not stored: {why}")
    path = write_cache(exchanges, facts.details)
    context.add_output_metadata({
        "exchanges": facts.details.height,
        "failed": len(facts.failures),
        "failures": ", ".join(sorted(facts.failures)[:20]),
        "cache_file": str(path),
        "calls_spent": usage["calls_spent"],
    })
    return facts.details
