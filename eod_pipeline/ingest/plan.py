"""Choose how to fetch a range of one exchange by what it costs in API calls.

Two ways to get D trading days of an exchange with S tickers (../shared/eodhd-api.md,
"Cost arithmetic"):
- bulk by date: one `/eod-bulk-last-day` call per day, 100 calls each: 100 x D;
- per ticker: one `/eod` call per ticker over the whole range: S.
Only what is missing counts: days and tickers the fetch log already knows cost nothing
(this is what makes a re-run after a failure resume instead of paying twice), nor do
tickers whose known first/last trading dates rule out data in the range.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from eod_pipeline.eodhd.costs import ENDPOINT_COST
from eod_pipeline.eodhd.settings import DEFAULT_REQUESTS_PER_MINUTE
from eod_pipeline.ingest.coverage import Coverage, Interval, merge

#: Calls per bulk day and per ticker history, from the documented cost table.
BULK_COST = ENDPOINT_COST["eod-bulk-last-day"]
PER_TICKER_COST = ENDPOINT_COST["eod"]
#: The client's default pacing (documented 1,000/min less headroom; see eodhd/settings.py).
PLANNING_REQUESTS_PER_MINUTE = DEFAULT_REQUESTS_PER_MINUTE


class Strategy(Enum):
    BULK = "bulk_by_date"
    TICKER = "per_ticker_history"
    NOTHING = "nothing_missing"


@dataclass(frozen=True)
class TickerFetch:
    symbol: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class FetchPlan:
    exchange: str
    start: dt.date
    end: dt.date
    strategy: Strategy
    trading_days: int
    bulk_days: tuple[dt.date, ...]
    tickers: tuple[TickerFetch, ...]
    bulk_cost: int
    ticker_cost: int
    tickers_known: int
    tickers_skipped: int

    @property
    def calls(self) -> int:
        return {Strategy.BULK: self.bulk_cost, Strategy.TICKER: self.ticker_cost,
                Strategy.NOTHING: 0}[self.strategy]

    @property
    def requests(self) -> int:
        return {Strategy.BULK: len(self.bulk_days), Strategy.TICKER: len(self.tickers),
                Strategy.NOTHING: 0}[self.strategy]

    def minutes_at_rate_limit(self, rpm: float = PLANNING_REQUESTS_PER_MINUTE) -> float:
        return self.requests / rpm

    def as_metadata(self) -> dict[str, object]:
        return {
            "strategy": self.strategy.value,
            "calls_planned": self.calls,
            "bulk_cost": self.bulk_cost,
            "per_ticker_cost": self.ticker_cost,
            "trading_days": self.trading_days,
            "days_to_fetch": len(self.bulk_days),
            "tickers_to_fetch": len(self.tickers),
            "tickers_known": self.tickers_known,
            "tickers_skipped": self.tickers_skipped,
        }


def _uncovered(days: Sequence[dt.date], known: list[Interval]) -> tuple[int, int] | None:
    """Index bounds (first, last) into `days` of the days `known` does not cover."""
    if not known:
        return (0, len(days) - 1) if days else None
    first = last = None
    for i, day in enumerate(days):
        j = bisect.bisect_right(known, (day, dt.date.max)) - 1
        if not (j >= 0 and known[j][0] <= day <= known[j][1]):
            first = i if first is None else first
            last = i
    return None if first is None else (first, last)


def plan_fetch(exchange: str, start: dt.date, end: dt.date, trading_days: Sequence[dt.date],
               symbols: Sequence[str], coverage: Coverage,
               force: Strategy | None = None) -> FetchPlan:
    """The cheaper way to fetch what is missing of [start, end] (or `force`'s way)."""
    open_days = [d for d in trading_days if d not in coverage.bulk_days]
    tickers: list[TickerFetch] = []
    skipped = 0
    intersection: list[Interval] | None = None
    for symbol in symbols:
        known = coverage.known(symbol)
        gap = _uncovered(open_days, known)
        if gap is None:
            skipped += 1
        else:
            tickers.append(TickerFetch(symbol, open_days[gap[0]], open_days[gap[1]]))
        intersection = known if intersection is None else _intersect(intersection, known)
    # A day needs a bulk call unless every ticker already knows it.
    common = intersection or []
    bulk_days = tuple(d for d in open_days if not any(a <= d <= b for a, b in common)) \
        if symbols else tuple(open_days)
    bulk_cost = BULK_COST * len(bulk_days)
    ticker_cost = PER_TICKER_COST * len(tickers)
    if force is not None:
        strategy = force
    elif not bulk_days or (symbols and not tickers):
        strategy = Strategy.NOTHING
    elif not symbols:
        strategy = Strategy.BULK  # no symbol list yet: only bulk can know the tickers
    else:
        strategy = Strategy.BULK if bulk_cost <= ticker_cost else Strategy.TICKER
    return FetchPlan(
        exchange=exchange, start=start, end=end, strategy=strategy,
        trading_days=len(trading_days), bulk_days=bulk_days, tickers=tuple(tickers),
        bulk_cost=bulk_cost, ticker_cost=ticker_cost, tickers_known=len(symbols),
        tickers_skipped=skipped,
    )


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return merge(out)
