"""What each EODHD request costs against the daily budget, and when that budget resets.

Source: /work/shared/eodhd-api.md, "Endpoints used by this project" (cost column) and
"Limits and errors". The daily budget (100,000 calls on paid plans) is counted in these
units, not in HTTP requests, so the client accounts every answer here.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

#: Documented cost of one successful request per endpoint (eodhd-api.md, cost column).
ENDPOINT_COST: Final[dict[str, int]] = {
    "exchanges-list": 1,
    "exchange-symbol-list": 1,
    # One EODHD page says 5; the OpenAPI description and the other pages say 1. We count 1
    # and say so here: it is called a few times per run, so the difference is noise.
    "exchange-details": 1,
    # "1 per request, whatever the range": a 10-year history costs the same as one day.
    "eod": 1,
    # Bulk: 100, or 100 + N when `symbols=` names N tickers (see `bulk_cost`).
    "eod-bulk-last-day": 100,
    "splits": 1,
    "div": 1,
    # Ticker changes (US only, since 2022-07-22): "5 API calls a request" (eodhd-api.md,
    # More facts), whatever the date range.
    "symbol-change-history": 5,
    # The account endpoint is free.
    "user": 0,
}

#: A 404 `Ticker Not Found` "still costs a call" (eodhd-api.md, Limits and errors).
NOT_FOUND_COST: Final[int] = 1


def bulk_cost(n_symbols: int | None) -> int:
    """Cost of one `/eod-bulk-last-day` request: 100, plus N with `symbols=` of N tickers."""
    base = ENDPOINT_COST["eod-bulk-last-day"]
    return base + n_symbols if n_symbols else base


def request_cost(endpoint: str, status: int, *, n_symbols: int | None = None) -> int:
    """Credits an answer with `status` on `endpoint` consumed, per the documented table.

    Everything but 2xx and 404 counts 0: 429 is a rejection before any work, 401/403 never
    reach an account, 402 means the budget is already empty. 5xx and transport faults are
    not documented; we count them as 0 (the server failed to deliver), and the usage
    counters keep them visible through `requests` vs `calls_spent`.
    """
    if 200 <= status < 300:
        if endpoint == "eod-bulk-last-day":
            return bulk_cost(n_symbols)
        return ENDPOINT_COST.get(endpoint, 1)
    if status == 404:
        return NOT_FOUND_COST
    return 0


def next_reset(now: dt.datetime | None = None) -> dt.datetime:
    """The next midnight GMT after `now` (aware UTC): when the daily budget resets."""
    if now is None:
        now = dt.datetime.now(dt.UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    now = now.astimezone(dt.UTC)
    tomorrow = now.date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(0, 0), tzinfo=dt.UTC)


def plan_history_cost(n_tickers: int) -> int:
    """Cost of fetching full histories of `n_tickers` tickers: one call each."""
    return n_tickers * ENDPOINT_COST["eod"]


def plan_bulk_cost(n_days: int, n_symbols: int | None = None) -> int:
    """Cost of `n_days` bulk calls (optionally restricted to `n_symbols` tickers each)."""
    return n_days * bulk_cost(n_symbols)
