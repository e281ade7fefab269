"""Splits and dividends per exchange, and the re-adjustment of prices they cause.

Both event assets are partitioned like the exchange's prices and planned by API cost the
same way (bulk by date for a day's refresh, per-ticker history for long backfills). A new
split or dividend changes `adjusted_close` for every earlier date of that ticker, so the
`eod_adjustments` asset refetches the stored history of exactly the tickers with an
action in its dates (one call a ticker) and merges it into `eod.prices`.
"""

import datetime as dt

import dagster as dg
import polars as pl

from eod_pipeline.config import DEFAULT_MAX_FAILED_SHARE, ExchangeSetting, PipelineConfig
from eod_pipeline.defs.assets.prices import OWNERS, price_asset_key, reference_deps
from eod_pipeline.defs.frame_stream import FrameStream
from eod_pipeline.defs.io_manager import column_schema
from eod_pipeline.defs.kinds import table_kinds
from eod_pipeline.defs.partitions import trading_date_partitions, window_dates
from eod_pipeline.defs.resources import EodhdResource, WarehouseResource
from eod_pipeline.ingest import coverage
from eod_pipeline.ingest.events import DIVIDEND_EVENTS, SPLIT_EVENTS, EventKind, fetch_events
from eod_pipeline.ingest.plan import FetchPlan, Strategy, TickerFetch, plan_fetch
from eod_pipeline.ingest.stream import PriceStream, TooManyFailuresError
from eod_pipeline.markets.calendar import trading_days
from eod_pipeline.warehouse import actions, queries
from eod_pipeline.warehouse.batches import LoggedBatch
from eod_pipeline.warehouse.tables import FETCH_LOG, PRICES

ACTIONS_GROUP = "eod_corporate_actions"


def event_asset_key(kind: EventKind, code: str) -> dg.AssetKey:
    return dg.AssetKey([f"eod_{kind.name}", code])


def adjustments_asset_key(code: str) -> dg.AssetKey:
    return dg.AssetKey(["eod_adjustments", code])


def _required_present(kind: EventKind, frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Drop rows missing a NOT NULL value (a malformed answer); return how many."""
    required = [c.name for c in kind.table.columns if not c.nullable]
    ok = frame.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in required))
    return ok, frame.height - ok.height


def build_event_asset(setting: ExchangeSetting, kind: EventKind,
                      max_failed_share: float = DEFAULT_MAX_FAILED_SHARE,
                      hypertables: set[str] | None = None) -> dg.AssetsDefinition:
    code = setting.code

    @dg.asset(
        key=event_asset_key(kind, code),
        group_name=ACTIONS_GROUP,
        partitions_def=trading_date_partitions(setting),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=reference_deps(code),
        metadata={"eod/table": kind.table.name, "partition_expr": "date",
                  "dagster/table_name": kind.table.qualified_name,
                  "dagster/column_schema": column_schema(kind.table),
                  "eod/slice": {"exchange": code}},
        description=(
            f"{kind.name.capitalize()} of {setting.info.name} ({code}) by ex-date, into "
            f"{kind.table.qualified_name} with their source fields; fetched bulk by date "
            "(100 calls a day) or per ticker (1 call), whichever costs less."
        ),
        owners=OWNERS,
        kinds=table_kinds(hypertables, kind.table.name),
        pool="eodhd",
    )
    def events(context: dg.AssetExecutionContext, eodhd: EodhdResource,
               warehouse: WarehouseResource) -> FrameStream:
        start, end = window_dates(context.partition_time_window)
        with warehouse.connect() as conn:
            holidays = queries.holidays(conn, code)
            symbols = queries.symbol_codes(conn, code)
            known = coverage.load_coverage(conn, code, kind.name)
        plan = plan_fetch(code, start, end, list(trading_days(start, end, holidays)),
                          symbols, known)
        context.log.info(f"{code} {kind.name} {start}..{end}: {plan.strategy.value}, "
                         f"{plan.calls} calls")
        fetched = fetch_events(eodhd.settings(), kind, plan)
        frame, invalid = _required_present(kind, fetched.frame)

        # The events and the fetch-log entries of the requests that found them commit
        # together: the log never claims events that are not stored.
        if plan.strategy is Strategy.BULK:
            entries = [(None, dt.date.fromisoformat(k), dt.date.fromisoformat(k), n, 0,
                        None, None) for k, n in fetched.fetched.items()]
        else:
            spans = {t.symbol: t for t in plan.tickers}
            entries = [(s, spans[s].start, spans[s].end, n, 0, None, None)
                       for s, n in fetched.fetched.items()]
        batch = LoggedBatch(frame, ((FETCH_LOG, coverage.log_frame(
            code, kind.name, context.run.run_id, entries)),))

        def finish() -> dict:
            md = {
                **plan.as_metadata(),
                "calls_spent": int(fetched.usage.get("calls_spent", 0)),
                "retries": int(fetched.usage.get("retries", 0)),
                "events": frame.height,
                "rows_invalid_dropped": invalid,
                "failed": len(fetched.failures),
                "failures": dict(list(sorted(fetched.failures.items()))[:20]),
            }
            # Like prices: a partition missing more than the tolerated share of its
            # requests is not complete, so it must not be marked materialized (the daily
            # refresh would then never ask for it again). What was fetched is stored.
            share = len(fetched.failures) / plan.requests if plan.requests else 0.0
            if share > max_failed_share:
                raise TooManyFailuresError(
                    f"{code} {kind.name}: {len(fetched.failures)} of {plan.requests} requests "
                    f"failed ({share:.1%} > {max_failed_share:.1%} allowed by "
                    "EOD_MAX_FAILED_SHARE); what was fetched is stored and a re-run fetches "
                    f"only the rest. First failures: {md['failures']}", md)
            return md

        return FrameStream([batch], finish=finish)

    return events


def build_adjustments_asset(setting: ExchangeSetting, pipeline: PipelineConfig,
                            hypertables: set[str] | None = None) -> dg.AssetsDefinition:
    code = setting.code

    @dg.asset(
        key=adjustments_asset_key(code),
        group_name=ACTIONS_GROUP,
        partitions_def=trading_date_partitions(setting),
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[price_asset_key(code), event_asset_key(SPLIT_EVENTS, code),
              event_asset_key(DIVIDEND_EVENTS, code)],
        metadata={"eod/table": "prices", "eod/slice": {"exchange": code},
                  "eod/partition_slice": False, "dagster/table_name": PRICES.qualified_name},
        description=(
            f"Keeps adjusted_close of {code} current: for every ticker with a split or "
            "dividend in these dates, refetches its stored history through the run's last "
            "date (1 call a ticker) and merges it into eod.prices, so earlier adjusted "
            "closes equal the source's again; every changed row is kept in "
            "eod.price_revisions."
        ),
        owners=OWNERS,
        kinds=table_kinds(hypertables, "prices"),
        pool="eodhd",
    )
    def adjustments(context: dg.AssetExecutionContext, eodhd: EodhdResource,
                    warehouse: WarehouseResource) -> FrameStream | None:
        start, end = window_dates(context.partition_time_window)
        with warehouse.connect() as conn:
            affected = actions.tickers_to_readjust(conn, code, start, end)
        tickers = tuple(TickerFetch(s, first, last) for s, first, last in affected)
        context.log.info(f"{code}: {len(tickers)} tickers to re-adjust "
                         f"({', '.join(t.symbol for t in tickers[:10])})")
        if not tickers:
            context.add_output_metadata({"tickers_readjusted": 0, "calls_spent": 0,
                                         "tickers": ""})
            return None
        lo = min(t.start for t in tickers)
        hi = max(t.end for t in tickers)
        plan = FetchPlan(
            exchange=code, start=lo, end=hi, strategy=Strategy.TICKER, trading_days=0,
            bulk_days=(), tickers=tickers, bulk_cost=0, ticker_cost=len(tickers),
            tickers_known=len(tickers), tickers_skipped=0,
        )
        stream = PriceStream(eodhd.settings(), plan, context.run.run_id,
                             context.log, pipeline.max_failed_share, pipeline.batch_rows,
                             dataset="adjustments")

        def finish() -> dict:
            md = stream.summary()
            md["tickers_readjusted"] = md.pop("fetched")
            md["tickers"] = ", ".join(t.symbol for t in tickers[:50])
            return md

        return FrameStream(stream, finish=finish)

    return adjustments
