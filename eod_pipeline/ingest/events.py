"""Fetch corporate actions (splits, dividends) of a plan into warehouse-shaped frames.

Events are sparse (a few per ticker per year), so a whole range fits in memory and is
written as one frame; what matters is spending calls the cheap way, which `plan_fetch`
decides exactly as for prices (bulk by date at 100 calls a day vs 1 call a ticker).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.eodhd.errors import AuthenticationError, EodhdError, QuotaExhaustedError
from eod_pipeline.eodhd.settings import EodhdSettings
from eod_pipeline.ingest.plan import FetchPlan, Strategy
from eod_pipeline.warehouse.tables import DIVIDENDS, SPLITS, TableSpec

#: Requests kept waiting for the client's in-flight bound (it paces itself).
_CONCURRENT_TASKS = 16


@dataclass(frozen=True)
class EventKind:
    name: str  # the fetch-log dataset and asset group suffix
    table: TableSpec
    bulk: Callable[[EodhdClient, str, Any], Awaitable[pl.DataFrame]]
    ticker: Callable[[EodhdClient, str, str, Any, Any], Awaitable[pl.DataFrame]]


SPLIT_EVENTS = EventKind(
    "splits", SPLITS,
    lambda c, x, d: c.bulk_splits(x, d),
    lambda c, x, s, a, b: c.splits(x, s, a, b),
)
DIVIDEND_EVENTS = EventKind(
    "dividends", DIVIDENDS,
    lambda c, x, d: c.bulk_dividends(x, d),
    lambda c, x, s, a, b: c.dividends(x, s, a, b),
)


@dataclass
class EventFetch:
    frame: pl.DataFrame
    #: key (date or ticker) -> rows, for the fetch log
    fetched: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)


def to_table(kind: EventKind, exchange: str, frame: pl.DataFrame, symbol: str | None = None
             ) -> pl.DataFrame:
    """The client's frame (with `code`) as rows of the event table."""
    code = pl.lit(symbol) if symbol is not None else pl.col("code")
    cols = [c for c in kind.table.column_names if c not in ("exchange", "symbol")]
    return frame.select(pl.lit(exchange).alias("exchange"), code.alias("symbol"), *cols)


async def _fetch(settings: EodhdSettings, kind: EventKind, plan: FetchPlan) -> EventFetch:
    result = EventFetch(frame=pl.DataFrame(schema=kind.table.polars_schema))
    frames: list[pl.DataFrame] = []
    gate = asyncio.Semaphore(_CONCURRENT_TASKS)
    async with EodhdClient(settings) as client:

        async def one(key: str, call: Callable[[], Awaitable[pl.DataFrame]],
                      symbol: str | None) -> None:
            async with gate:
                try:
                    got = await call()
                except (QuotaExhaustedError, AuthenticationError):
                    raise
                except EodhdError as exc:
                    result.failures[key] = str(exc)
                    return
            rows = to_table(kind, plan.exchange, got, symbol)
            rows = rows.filter(pl.col("date").is_between(plan.start, plan.end))
            frames.append(rows)
            result.fetched[key] = rows.height

        try:
            async with asyncio.TaskGroup() as group:
                if plan.strategy is Strategy.BULK:
                    for d in plan.bulk_days:
                        group.create_task(one(d.isoformat(),
                                              lambda d=d: kind.bulk(client, plan.exchange, d),
                                              None))
                elif plan.strategy is Strategy.TICKER:
                    for t in plan.tickers:
                        group.create_task(one(
                            t.symbol,
                            lambda t=t: kind.ticker(client, plan.exchange, t.symbol,
                                                    t.start, t.end),
                            t.symbol))
        except BaseExceptionGroup as group_error:
            raise group_error.exceptions[0] from None
        finally:
            result.usage = client.usage.as_dict()
    if frames:
        result.frame = pl.concat(frames).unique(subset=["exchange", "symbol", "date"],
                                                keep="last")
    return result


def fetch_events(settings: EodhdSettings, kind: EventKind, plan: FetchPlan) -> EventFetch:
    return asyncio.run(_fetch(settings, kind, plan))
