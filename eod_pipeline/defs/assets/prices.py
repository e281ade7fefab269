"""Daily prices: one asset per configured exchange, partitioned by trading date.

A range of dates runs as ONE run (single-run backfill policy): the run plans the range by
API cost (bulk by date vs per-ticker history, counting only what the fetch log says is
missing), checks the day's quota, then streams checked rows to the warehouse I/O manager
while later requests are still in flight.
"""


import datetime as dt
from enum import Enum

import dagster as dg

from eod_pipeline.config import ExchangeSetting, PipelineConfig
from eod_pipeline.defs.frame_stream import FrameStream
from eod_pipeline.defs.io_manager import column_schema
from eod_pipeline.defs.kinds import table_kinds
from eod_pipeline.defs.partitions import trading_date_partitions, window_dates
from eod_pipeline.defs.resources import ClockResource, EodhdResource, WarehouseResource
from eod_pipeline.ingest import coverage
from eod_pipeline.ingest.plan import Strategy, plan_fetch
from eod_pipeline.ingest.stream import PriceStream
from eod_pipeline.markets.calendar import newest_available_day, trading_days
from eod_pipeline.warehouse import queries
from eod_pipeline.warehouse.tables import PRICES

PRICES_GROUP = "eod_prices"
OWNERS = ["team:market-data"]
#: Grace after the documented data delay before the UI calls an exchange late.
FRESHNESS_GRACE = dt.timedelta(hours=1)
#: Run tag (a date): days from it on are fetched again even where the fetch log knows
#: them. The daily refresh sets it to pick up the source's late corrections.
REVISE_FROM_TAG = "eod/revise_from"


class DataNotOutError(dg.Failure):
    """A run asked for a day whose data the source has not published yet."""


def revise_from(tags: dict[str, str]) -> dt.date | None:
    value = tags.get(REVISE_FROM_TAG)
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        raise ValueError(f"run tag {REVISE_FROM_TAG}={value!r} is not a date "
                         "(YYYY-MM-DD)") from None


class ForcedStrategy(Enum):
    """The strategies a run may be forced to: `Strategy` without `nothing_missing`.

    Member names equal their values because Dagster's config shows and accepts the names.
    """

    bulk_by_date = Strategy.BULK.value
    per_ticker_history = Strategy.TICKER.value


class PriceFetchConfig(dg.Config):
    """Run options, settable in the launchpad."""

    strategy: ForcedStrategy | None = None
    """Force `bulk_by_date` or `per_ticker_history` instead of the cheaper one (the
    launchpad offers the two; anything else is refused before the run starts)."""
    refetch: bool = False
    """Fetch the range again even where the fetch log says it is known (e.g. to pick up
    late corrections); by default a run spends calls only on what is missing."""
    tickers: list[str] = []
    """Only these tickers (as in the symbol list), one call each over the range: to
    backfill or, with `refetch: true`, refetch a few symbols without touching the rest."""


def chosen_tickers(code: str, wanted: list[str], listed: list[str]) -> list[str]:
    """`wanted` checked against the exchange's symbol list, or a clear error."""
    unknown = sorted(set(wanted) - set(listed))
    if unknown:
        raise dg.Failure(
            f"tickers: {', '.join(unknown)} not in {code}'s symbol list "
            f"({len(listed)} symbols). Check the spelling (EODHD codes, e.g. BRK-B), or "
            f"materialize symbol_lists/{code} if the list is old.")
    return sorted(set(wanted))


def reference_deps(code: str) -> list[dg.AssetDep]:
    """The exchange's symbol list and calendar, which every fetch plan reads: declared so
    the lineage shows them and the UI marks the assets stale when they change."""
    mapping = dg.SpecificPartitionsPartitionMapping([code])
    return [dg.AssetDep(name, partition_mapping=mapping)
            for name in ("symbol_lists", "exchange_calendars")]


def price_asset_key(code: str) -> dg.AssetKey:
    return dg.AssetKey([PRICES_GROUP, code])


def freshness_policy(setting: ExchangeSetting) -> dg.FreshnessPolicy:
    """Due every weekday at the exchange's close + data delay + grace, in its own zone."""
    info = setting.info
    due = (dt.datetime.combine(dt.date(2000, 1, 3), info.close) + info.data_delay
           + FRESHNESS_GRACE)
    return dg.FreshnessPolicy.cron(
        deadline_cron=f"{due.minute} {due.hour} * * 1-5",
        lower_bound_delta=dt.timedelta(hours=24),
        timezone=info.timezone,
    )


def build_price_asset(setting: ExchangeSetting, pipeline: PipelineConfig,
                      hypertables: set[str] | None = None) -> dg.AssetsDefinition:
    code = setting.code
    info = setting.info

    @dg.asset(
        key=price_asset_key(code),
        group_name=PRICES_GROUP,
        partitions_def=trading_date_partitions(setting),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=reference_deps(code),
        metadata={"eod/table": "prices", "partition_expr": "date", "eod/slice": {"exchange": code},
                  "exchange": code, "timezone": info.timezone, "currency": info.currency,
                  "dagster/table_name": PRICES.qualified_name,
                  "dagster/column_schema": column_schema(PRICES)},
        description=(
            f"Daily OHLCV with adjusted close of {info.name} ({code}), one partition per "
            f"trading date in {info.timezone}, from {setting.start}. Ranges run as one run "
            "that fetches the cheaper way (bulk by date: 100 calls a day; per ticker: 1 call "
            "a ticker) and only what is missing; rows stream into eod.prices."
        ),
        owners=OWNERS,
        kinds=table_kinds(hypertables, "prices"),
        pool="eodhd",
        freshness_policy=freshness_policy(setting),
    )
    def prices(context: dg.AssetExecutionContext, config: PriceFetchConfig,
               eodhd: EodhdResource, warehouse: WarehouseResource,
               clock: ClockResource) -> FrameStream:
        start, end = window_dates(context.partition_time_window)
        force = Strategy(config.strategy.value) if config.strategy else None
        revise = revise_from(context.run.tags)
        # Late corrections: days from `revise` on count as unknown unless fetched after
        # the run's last day was published (such a fetch already has the corrections).
        stale = (revise, info.available_at(end)) if revise is not None else None
        with warehouse.connect() as conn:
            holidays = queries.holidays(conn, code)
            symbols = queries.symbol_codes(conn, code)
            # A refetch plans as if nothing were known but keeps the log: should it fail,
            # what was already paid for is still known to the next run.
            known = (coverage.Coverage() if config.refetch
                     else coverage.load_coverage(conn, code, stale=stale))
        # A day fetched before the source publishes it would come back empty and be
        # logged as known: refuse it instead, with the time it becomes available.
        newest = newest_available_day(info, clock.now() - pipeline.refresh_delay, holidays)
        # Only trading days can be "not out yet": a known holiday at the range's end (the
        # day after Thanksgiving's eve, say) has no data to wait for and stores 0 rows.
        late = [d for d in trading_days(start, end, holidays) if d > newest]
        if late:
            raise DataNotOutError(
                f"{code}: the data of {late[0]} is not out yet (the newest day available "
                f"now is {newest}; {code} publishes at its close + {info.data_delay} in "
                f"{info.timezone}). Materialize {late[0]} after that, or pick dates up to "
                f"{newest}.")
        if config.tickers:
            # A few tickers: per ticker, whatever bulk would cost, since a bulk answer
            # would write every ticker of the exchange.
            symbols = chosen_tickers(code, config.tickers, symbols)
            force = Strategy.TICKER
        days = list(trading_days(start, end, holidays))
        plan = plan_fetch(code, start, end, days, symbols, known, force)
        context.log.info(
            f"{code} {start}..{end}: {len(days)} trading days, {len(symbols)} symbols; "
            f"bulk would cost {plan.bulk_cost}, per ticker {plan.ticker_cost}: "
            f"{plan.strategy.value}, {plan.calls} calls ({plan.tickers_skipped} tickers "
            f"already known" + (f"; fetching again from {revise} for late corrections"
                                if revise else "") + ")"
        )
        if plan.calls:
            user, _ = eodhd.run(lambda client: client.ensure_quota(plan.calls))
            context.log.info(f"Quota: {user.remaining} calls left today, this run needs "
                             f"{plan.calls}")
        stream = PriceStream(eodhd.settings(), plan, context.run.run_id,
                             context.log, pipeline.max_failed_share, pipeline.batch_rows,
                             clock=clock.now)

        def finish() -> dict:
            return {**stream.summary(), "revise_from": str(revise) if revise else "none",
                    "only_tickers": ", ".join(config.tickers) or "all"}

        return FrameStream(stream, finish=finish)

    return prices
