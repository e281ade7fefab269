"""Exchanges, their trading calendars and when a day's data becomes available.

The pipeline's scheduling depends on three facts per exchange: which days trade, when the
session closes in local time, and how long after the close EODHD publishes the day. The
closes and delays are the shared registry's (`eod_pipeline.markets.registry`), which the
pipeline schedules by; this module adds the trading days, and is what the simulator's
answers and the tests that compute expectations read, so the two cannot drift apart.

Which days trade comes from the `exchange_calendars` library (maintained against the
exchanges' own notices), not from hand-written rules: hand rules silently missed MLK Day,
Presidents' Day, Memorial Day, Juneteenth and Labor Day, and served bars on them, so the
simulator could never show the pipeline a holiday it had not been told about.
"""

from __future__ import annotations

import dataclasses
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from eod_pipeline.markets.registry import ExchangeInfo, builtin_exchange
from eod_pipeline.markets.stored import DEFAULT_DATA_DELAY

WORKING_DAYS = "Mon,Tue,Wed,Thu,Fri"

#: Holiday window of `/exchange-details/` when `from`/`to` are absent. The contract
#: (../shared/eodhd-api.md, "More facts"): "lists holidays in a window around today (about
#: 6 months each way by default; `from`/`to` widen it)". 183 days is half a year rounded
#: up, so a holiday exactly six calendar months away is still listed.
DETAILS_WINDOW = timedelta(days=183)

#: Name given to a closed weekday the library lists without a name (its ad-hoc closures,
#: e.g. NYSE's national days of mourning on 2018-12-05 and 2025-01-09).
UNNAMED_CLOSURE = "Special Closure"
#: Name given to an early close whose rule the library does not name.
UNNAMED_EARLY_CLOSE = "Early Close"


@dataclass(frozen=True)
class SimulatedExchange(ExchangeInfo):
    """An exchange of the shared registry (`eod_pipeline.markets.registry`) as the
    simulator serves it: the registry's facts plus what only the simulator needs.

    `data_delay` is the wait after the local close before EODHD serves the day (the
    contract, "When a day's data appears": NYSE/NASDAQ about 15 minutes, other exchanges
    2-3 hours).
    """

    #: `exchange_calendars` name of the calendar whose sessions are this exchange's
    #: trading days (the ISO 10383 MIC of its main venue), or None for weekdays only.
    calendar_code: str | None = None
    #: Shape of `ExchangeHolidays` in `/exchange-details/`: "map" keyed "0","1",... or
    #: "list". The contract documents both, so the simulator serves both.
    holidays_shape: str = "list"
    #: Holidays by date over the simulated years, filled in by `TradingCalendar`.
    holidays: dict[date, str] = field(default_factory=dict, compare=False)
    #: Early closes by date: (name, local close time), filled in by `TradingCalendar`.
    early_closes: dict[date, tuple[str, time]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.open is None:
            raise ValueError(f"{self.code}: the simulator needs the opening time")

    @classmethod
    def of(cls, code: str, **simulated: Any) -> SimulatedExchange:
        """The registry's `code` with the simulator-only fields `simulated`."""
        shared = builtin_exchange(code)
        if shared is None:
            raise ValueError(f"{code} has no built-in registry record: use beyond_registry")
        facts = {f.name: getattr(shared, f.name) for f in dataclasses.fields(shared)}
        return cls(**facts, **simulated)

    @classmethod
    def beyond_registry(cls, code: str, name: str, tz: str, opens: str, close: str,
                        currency: str, **listing: Any) -> SimulatedExchange:
        """A real EODHD exchange the pipeline's registry does not have: the pipeline
        learns its zone and hours from `/exchange-details/` like on EODHD, and assumes
        its data delay (`markets.stored.DEFAULT_DATA_DELAY`), which the simulator
        therefore serves by, so the two agree on when a day is out."""
        hh, mm = opens.split(":")
        ch, cm = close.split(":")
        return cls(code=code, name=name, timezone=tz, close=time(int(ch), int(cm)),
                   data_delay=DEFAULT_DATA_DELAY, currency=currency,
                   open=time(int(hh), int(mm)), venues=(code,), **listing)

    @property
    def open_time(self) -> time:
        """Local opening time (`TradingHours.Open`)."""
        assert self.open is not None
        return self.open

    @property
    def close_time(self) -> time:
        """Local regular close (`TradingHours.Close`)."""
        return self.close


#: The simulated exchanges, in `/exchanges-list/` order.
EXCHANGES: tuple[SimulatedExchange, ...] = (
    # NYSE and NASDAQ close on the same days; XNYS is the library's reference for both.
    SimulatedExchange.of("US", calendar_code="XNYS", holidays_shape="map"),
    SimulatedExchange.of("LSE", calendar_code="XLON", holidays_shape="list"),
    SimulatedExchange.of("XETRA", calendar_code="XETR", holidays_shape="map"),
    # The interbank market has no exchange calendar (the library's "24/5" is exactly
    # "every weekday"): weekdays only, no holidays, so loading it would buy nothing.
    SimulatedExchange.of("FOREX", calendar_code=None, holidays_shape="list"),
    # Beyond the pipeline's 30 built-in exchanges (issue 14: any EODHD code can be
    # configured): real EODHD codes, names, MICs and hours (EODHD's exchanges list and
    # exchange details), with real `exchange_calendars` calendars.
    SimulatedExchange.beyond_registry(
        "VI", "Vienna Exchange", "Europe/Vienna", "09:00", "17:30", "EUR",
        operating_mic="XWBO", country="Austria", country_iso2="AT", country_iso3="AUT",
        calendar_code="XWBO", holidays_shape="list"),
    SimulatedExchange.beyond_registry(
        "WAR", "Warsaw Stock Exchange", "Europe/Warsaw", "09:00", "17:00", "PLN",
        operating_mic="XWAR", country="Poland", country_iso2="PL", country_iso3="POL",
        calendar_code="XWAR", holidays_shape="map"),
)


def simulated_exchange(code: str) -> SimulatedExchange:
    """The static record of a simulated exchange (KeyError for others)."""
    for info in EXCHANGES:
        if info.code == code:
            return info
    raise KeyError(f"unknown exchange {code!r}")


def simulated_holidays(code: str, year: int) -> set[date]:
    """The weekday holidays the simulator keeps for `code` in `year` and the year before
    (what a caller needs to find the newest trading day before a date in `year`)."""
    info = simulated_exchange(code)
    data = calendar_data(info.calendar_code, info.timezone, year - 1, year)
    return set(data.holidays)


@dataclass(frozen=True)
class CalendarData:
    """Trading days, holidays and early closes of one calendar over a span of years, as
    plain Python values (built once per process, shared read-only by every universe)."""

    days: list[date]
    holidays: dict[date, str]
    early_closes: dict[date, tuple[str, time]]


_DATA: dict[tuple[str | None, str, int, int], CalendarData] = {}
_DATA_LOCK = threading.Lock()


def calendar_data(
    calendar_code: str | None, timezone: str, first_year: int, last_year: int
) -> CalendarData:
    """The calendar over [first_year-01-01, last_year-12-31], cached per process.

    Building an `exchange_calendars` calendar costs about 0.05-0.1 s, plus about 0.35 s
    to import the library (pandas) the first time; a test suite starts hundreds of
    simulators, so each calendar is built once per process, and only when an exchange's
    days are first needed (the import is deferred too, so importing the simulator stays
    cheap for code that only wants `EXCHANGES`).
    """
    key = (calendar_code, timezone, first_year, last_year)
    with _DATA_LOCK:
        data = _DATA.get(key)
        if data is None:
            data = _DATA[key] = _build(calendar_code, timezone, first_year, last_year)
    return data


def _weekdays(first: date, last: date) -> list[date]:
    one = timedelta(days=1)
    out = []
    day = first
    while day <= last:
        if day.weekday() < 5:
            out.append(day)
        day += one
    return out


def _build(
    calendar_code: str | None, timezone: str, first_year: int, last_year: int
) -> CalendarData:
    first, last = date(first_year, 1, 1), date(last_year, 12, 31)
    weekdays = _weekdays(first, last)
    if calendar_code is None:
        return CalendarData(weekdays, {}, {})

    import exchange_calendars as xcals
    import pandas as pd

    # Explicit bounds: a calendar's default span is about 20 years back to 1 year ahead
    # of the real date, which would neither reach history_start reliably nor cover a
    # simulator clock set a few years ahead.
    cal: Any = xcals.get_calendar(calendar_code, start=first.isoformat(), end=last.isoformat())
    days = [ts.date() for ts in cal.sessions]
    sessions = set(days)
    lo, hi = pd.Timestamp(first), pd.Timestamp(last)

    names: dict[date, str] = {}
    if cal.regular_holidays is not None:
        named = cal.regular_holidays.holidays(lo, hi, return_name=True)
        names = {ts.date(): str(name) for ts, name in named.items()}
    # Holidays are weekdays that are not sessions: this includes the library's ad-hoc
    # closures, which no rule names.
    holidays = {d: names.get(d, UNNAMED_CLOSURE) for d in weekdays if d not in sessions}

    close_names: dict[date, str] = {}
    for _, rules in cal.special_closes:
        if hasattr(rules, "holidays"):
            named = rules.holidays(lo, hi, return_name=True)
            close_names.update({ts.date(): str(name) for ts, name in named.items()})
    tz = ZoneInfo(timezone)
    early: dict[date, tuple[str, time]] = {}
    for ts in cal.early_closes:
        close_utc = cal.closes[ts].to_pydatetime()
        early[ts.date()] = (
            close_names.get(ts.date(), UNNAMED_EARLY_CLOSE),
            close_utc.astimezone(tz).time(),
        )
    return CalendarData(days, holidays, early)


class TradingCalendar:
    """Trading days of one exchange over [first_year, last_year].

    Holds the sorted list of trading days so range queries are two bisects. The days come
    from `calendar_data`, loaded on first use: a universe builds a `TradingCalendar` for
    every exchange, and a test that touches one exchange should not pay for the others.
    """

    def __init__(self, info: SimulatedExchange, first_year: int, last_year: int) -> None:
        self._static = info
        self.code = info.code
        self.first_year = first_year
        self.last_year = last_year

    @cached_property
    def data(self) -> CalendarData:
        info = self._static
        return calendar_data(info.calendar_code, info.timezone, self.first_year, self.last_year)

    @cached_property
    def info(self) -> SimulatedExchange:
        """The exchange with its holidays and early closes over the calendar's years (a
        private copy per calendar, so no caller can edit another universe's maps)."""
        data = self.data
        return dataclasses.replace(
            self._static, holidays=dict(data.holidays), early_closes=dict(data.early_closes)
        )

    @property
    def days(self) -> list[date]:
        """Every trading day, ascending (shared: do not modify)."""
        return self.data.days

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

    def next(self, day: date) -> date | None:
        """The first trading day strictly after `day` (None past the calendar's end)."""
        i = bisect_right(self.days, day)
        return self.days[i] if i < len(self.days) else None

    def data_out_at(self, day: date) -> datetime:
        """When `day`'s data appears: local close + the exchange's delay. Uses the regular
        close even on early-close days, so availability is one rule a test can predict."""
        return self._static.available_at(day)

    def available_through(self, now: datetime) -> date | None:
        """Newest trading day whose data is out at `now` (None before the first one)."""
        local_day = now.astimezone(self._static.tz).date()
        day = self.previous(local_day)
        while day is not None and self.data_out_at(day) > now:
            day = self.previous(day - timedelta(days=1))
        return day

    def is_open(self, now: datetime) -> bool:
        """Whether a regular session is running at `now` (for `isOpen`)."""
        info = self._static
        local = now.astimezone(info.tz)
        if not self.is_trading_day(local.date()):
            return False
        close = self.data.early_closes.get(local.date(), ("", info.close_time))[1]
        return info.open_time <= local.time() < close
