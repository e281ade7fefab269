"""Exchanges, their trading calendars and when a day's data becomes available.

The pipeline's scheduling depends on three facts per exchange: which days trade, when the
session closes in local time, and how long after the close EODHD publishes the day. This
module is the single source of those facts for the simulator's answers and for tests that
compute expectations, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import polars as pl

WORKING_DAYS = "Mon,Tue,Wed,Thu,Fri"


@dataclass(frozen=True)
class ExchangeInfo:
    """Static description of one simulated exchange.

    `data_delay` is the wait after the local close before EODHD serves the day (the
    contract, "When a day's data appears": NYSE/NASDAQ about 15 minutes, other exchanges
    2-3 hours).
    """

    code: str
    name: str
    operating_mic: str | None
    country: str
    currency: str
    country_iso2: str
    country_iso3: str
    timezone: str
    open_time: time
    close_time: time
    data_delay: timedelta
    #: Venues reported in the `Exchange` field of symbol rows.
    venues: tuple[str, ...]
    #: Holiday-rule names understood by `_holidays_of_year`.
    holiday_rules: tuple[str, ...]
    #: Early-close rules: (rule name, local close time).
    early_close_rules: tuple[tuple[str, time], ...] = ()
    #: Shape of `ExchangeHolidays` in `/exchange-details/`: "map" keyed "0","1",... or
    #: "list". The contract documents both, so the simulator serves both.
    holidays_shape: str = "list"
    #: Holidays by date over the simulated years, filled in by `TradingCalendar`.
    holidays: dict[date, str] = field(default_factory=dict, compare=False)
    early_closes: dict[date, tuple[str, time]] = field(default_factory=dict, compare=False)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm), for Good Friday/Easter
    Monday, which NYSE, LSE and XETRA all close for."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th `weekday` (0=Mon) of a month; n=-1 for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _rule_dates(rule: str, year: int) -> list[tuple[date, str]]:
    """Dates of one named holiday rule in a year. Fixed-date holidays falling on a
    weekend are simply not trading-day holidays (no observed substitute): simple and
    deterministic, and weekends are closed anyway."""
    easter = _easter(year)
    match rule:
        case "new_year":
            return [(date(year, 1, 1), "New Year's Day")]
        case "good_friday":
            return [(easter - timedelta(days=2), "Good Friday")]
        case "easter_monday":
            return [(easter + timedelta(days=1), "Easter Monday")]
        case "independence_day":
            return [(date(year, 7, 4), "Independence Day")]
        case "thanksgiving":
            return [(_nth_weekday(year, 11, 3, 4), "Thanksgiving Day")]
        case "early_may":
            return [(_nth_weekday(year, 5, 0, 1), "Early May Bank Holiday")]
        case "summer_bank":
            return [(_nth_weekday(year, 8, 0, -1), "Summer Bank Holiday")]
        case "labour_day":
            return [(date(year, 5, 1), "Labour Day")]
        case "christmas_eve":
            return [(date(year, 12, 24), "Christmas Eve")]
        case "christmas":
            return [(date(year, 12, 25), "Christmas Day")]
        case "boxing_day":
            return [(date(year, 12, 26), "Boxing Day")]
        case "new_years_eve":
            return [(date(year, 12, 31), "New Year's Eve")]
        case "day_after_thanksgiving":
            return [(_nth_weekday(year, 11, 3, 4) + timedelta(days=1), "Day after Thanksgiving")]
    raise ValueError(f"unknown holiday rule {rule!r}")


#: The simulated exchanges. Close times and delays follow the brief and the contract
#: ("When a day's data appears"); names, MICs and ISO codes mirror EODHD's exchanges-list.
EXCHANGES: tuple[ExchangeInfo, ...] = (
    ExchangeInfo(
        code="US",
        name="USA Stocks",
        operating_mic="XNAS, XNYS, OTCM",
        country="USA",
        currency="USD",
        country_iso2="US",
        country_iso3="USA",
        timezone="America/New_York",
        open_time=time(9, 30),
        close_time=time(16, 0),
        data_delay=timedelta(minutes=15),
        venues=("NYSE", "NASDAQ", "NYSE ARCA", "BATS"),
        holiday_rules=(
            "new_year",
            "good_friday",
            "independence_day",
            "thanksgiving",
            "christmas",
        ),
        early_close_rules=(("day_after_thanksgiving", time(13, 0)), ("christmas_eve", time(13, 0))),
        holidays_shape="map",
    ),
    ExchangeInfo(
        code="LSE",
        name="London Exchange",
        operating_mic="XLON",
        country="UK",
        currency="GBP",
        country_iso2="GB",
        country_iso3="GBR",
        timezone="Europe/London",
        open_time=time(8, 0),
        close_time=time(16, 30),
        data_delay=timedelta(hours=2),
        venues=("LSE",),
        holiday_rules=(
            "new_year",
            "good_friday",
            "easter_monday",
            "early_may",
            "summer_bank",
            "christmas",
            "boxing_day",
        ),
        early_close_rules=(("christmas_eve", time(12, 30)), ("new_years_eve", time(12, 30))),
        holidays_shape="list",
    ),
    ExchangeInfo(
        code="XETRA",
        name="XETRA Stock Exchange",
        operating_mic="XETR",
        country="Germany",
        currency="EUR",
        country_iso2="DE",
        country_iso3="DEU",
        timezone="Europe/Berlin",
        open_time=time(9, 0),
        close_time=time(17, 30),
        data_delay=timedelta(hours=2, minutes=30),
        venues=("XETRA",),
        holiday_rules=(
            "new_year",
            "good_friday",
            "easter_monday",
            "labour_day",
            "christmas_eve",
            "christmas",
            "boxing_day",
            "new_years_eve",
        ),
        holidays_shape="map",
    ),
    ExchangeInfo(
        # A virtual exchange: the contract says these have `OperatingMIC: null`.
        code="FOREX",
        name="FOREX",
        operating_mic=None,
        country="Unknown",
        currency="Unknown",
        country_iso2="",
        country_iso3="",
        timezone="Etc/UTC",
        open_time=time(0, 0),
        close_time=time(22, 0),
        data_delay=timedelta(minutes=30),
        venues=("FOREX",),
        holiday_rules=("new_year", "christmas"),
        holidays_shape="list",
    ),
)


class TradingCalendar:
    """Trading days of one exchange over [first_year, last_year].

    Precomputes the sorted list of trading days so range queries are two bisects.
    """

    def __init__(self, info: ExchangeInfo, first_year: int, last_year: int) -> None:
        # A private copy: the holiday maps are filled per calendar, never shared.
        info = dataclasses.replace(info, holidays={}, early_closes={})
        self.info = info
        self.first_year = first_year
        self.last_year = last_year
        for year in range(first_year, last_year + 1):
            for rule in info.holiday_rules:
                for day, name in _rule_dates(rule, year):
                    if day.weekday() < 5:
                        info.holidays[day] = name
            for rule, close in info.early_close_rules:
                for day, name in _rule_dates(rule, year):
                    if day.weekday() < 5 and day not in info.holidays:
                        info.early_closes[day] = (name, close)

    @cached_property
    def days(self) -> list[date]:
        start = date(self.first_year, 1, 1)
        end = date(self.last_year, 12, 31)
        out = []
        day = start
        one = timedelta(days=1)
        while day <= end:
            if day.weekday() < 5 and day not in self.info.holidays:
                out.append(day)
            day += one
        return out

    @cached_property
    def _series(self) -> pl.Series:
        return pl.Series("date", self.days, dtype=pl.Date)

    def day_series(self, first: date, n: int) -> pl.Series:
        """`n` trading days from `first` (a trading day) as a polars Date series; sliced
        from one series built per calendar, since converting Python dates is slow."""
        return self._series.slice(bisect_left(self.days, first), n)

    @cached_property
    def iso(self) -> dict[date, str]:
        """ISO text of every trading day, computed once: paths share these strings."""
        return {d: d.isoformat() for d in self.days}

    @cached_property
    def _day_set(self) -> frozenset[date]:
        return frozenset(self.days)

    def is_trading_day(self, day: date) -> bool:
        return day in self._day_set

    def between(self, start: date, end: date) -> list[date]:
        """Trading days in [start, end], both inclusive."""
        days = self.days
        return days[bisect_left(days, start) : bisect_right(days, end)]

    def previous(self, day: date) -> date | None:
        """The newest trading day on or before `day`."""
        i = bisect_right(self.days, day)
        return self.days[i - 1] if i else None

    def data_out_at(self, day: date) -> datetime:
        """When `day`'s data appears: local close + the exchange's delay. Uses the regular
        close even on early-close days, so availability is one rule a test can predict."""
        info = self.info
        return datetime.combine(day, info.close_time, tzinfo=info.tz) + info.data_delay

    def available_through(self, now: datetime) -> date | None:
        """Newest trading day whose data is out at `now` (None before the first one)."""
        local_day = now.astimezone(self.info.tz).date()
        day = self.previous(local_day)
        while day is not None and self.data_out_at(day) > now:
            day = self.previous(day - timedelta(days=1))
        return day

    def is_open(self, now: datetime) -> bool:
        """Whether a regular session is running at `now` (for `isOpen`)."""
        local = now.astimezone(self.info.tz)
        if not self.is_trading_day(local.date()):
            return False
        close = self.info.early_closes.get(local.date(), ("", self.info.close_time))[1]
        return self.info.open_time <= local.time() < close
