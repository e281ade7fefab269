"""Trading days: weekdays that are not the exchange's holidays.

Holidays come from the warehouse (`eod.exchange_holidays`, filled from EODHD's
exchange-details endpoint by the `exchange_calendars` asset); the functions here take them
as a set so they stay pure and testable.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterator
from zoneinfo import ZoneInfo

from eod_pipeline.markets.registry import ExchangeInfo

#: Saturday and Sunday (date.weekday() numbers); EODHD's WorkingDays are Mon-Fri for
#: every exchange this project keeps.
WEEKEND = frozenset({5, 6})


def is_trading_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    return day.weekday() not in WEEKEND and day not in holidays


def trading_days(start: dt.date, end: dt.date,
                 holidays: Collection[dt.date] = ()) -> Iterator[dt.date]:
    """Trading days from `start` to `end`, both inclusive."""
    day = start
    while day <= end:
        if is_trading_day(day, holidays):
            yield day
        day += dt.timedelta(days=1)


def newest_available_day(info: ExchangeInfo, now: dt.datetime,
                         holidays: Collection[dt.date] = ()) -> dt.date:
    """The newest trading day whose end-of-day data should be out at `now`.

    Today counts once the exchange's close plus the data delay has passed in its own time
    zone; otherwise the previous trading day does.
    """
    local = now.astimezone(ZoneInfo(info.timezone))
    day = local.date()
    if not (is_trading_day(day, holidays) and local >= info.available_at(day)):
        day -= dt.timedelta(days=1)
        while not is_trading_day(day, holidays):
            day -= dt.timedelta(days=1)
    return day
