"""Small value objects for the non-tabular EODHD answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class ExchangeDetails:
    """`/exchange-details/{EXCH}`: what a trading calendar needs to know about a venue.

    Times are as the API gives them: `open_local`/`close_local` in `timezone` (IANA),
    `open_utc`/`close_utc` in UTC. `holidays` and `early_close_days` are HOLIDAYS frames
    for the requested window (the API's default is about +-6 months).
    """

    code: str
    name: str
    operating_mic: str | None
    country: str | None
    currency: str | None
    timezone: str
    is_open: bool | None
    open_local: dt.time | None
    close_local: dt.time | None
    open_utc: dt.time | None
    close_utc: dt.time | None
    working_days: tuple[str, ...]
    holidays: pl.DataFrame = field(repr=False)
    early_close_days: pl.DataFrame = field(repr=False)
    active_tickers: int | None = None


@dataclass(frozen=True)
class UserInfo:
    """`/user`: today's standing against the daily budget.

    `requests_today` is in API calls (the budget's unit, not HTTP requests); `remaining`
    includes any purchased `extra_limit`; `resets_at` is the next midnight GMT.
    """

    name: str
    subscription_type: str
    requests_today: int
    daily_limit: int
    remaining: int
    resets_at: dt.datetime
    requests_date: dt.date | None = None
    extra_limit: int = 0
    email: str = field(default="", repr=False)  # personal data: kept out of logs/reprs
