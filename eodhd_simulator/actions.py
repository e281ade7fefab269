"""Corporate actions of the simulated market: splits and cash dividends, their schedules
and their records.

Ex-dates are drawn per symbol from their own seeds over calendar time, so they do not
depend on how far a path is generated; the amounts follow from the price path (see
`walk.py`), which jumps on each ex-date.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from eodhd_simulator.calendar import TradingCalendar
from eodhd_simulator.seeds import rng
from eodhd_simulator.symbols import SymbolInfo

#: Mean years between splits for stocks and ETFs.
SPLIT_MEAN_YEARS = 12.0
#: Split ratios as (new shares, old shares): 2:1, 3:1, 3:2 forward, 1:4 and 1:10 reverse.
SPLIT_RATIOS: tuple[tuple[int, int], ...] = (
    (2, 1),
    (2, 1),
    (2, 1),
    (3, 1),
    (3, 2),
    (1, 4),
    (1, 10),
)

#: Dividend schedule per exchange: (payments per year, EODHD `period` text).
DIV_SCHEDULE = {"US": (4, "Quarterly"), "LSE": (2, "SemiAnnual"), "XETRA": (1, "Annual"),
                "VI": (1, "Annual"), "WAR": (1, "Annual")}


@dataclass(frozen=True)
class Split:
    """A split of `numerator` new shares for `denominator` old ones on ex-date `date`."""

    date: date
    numerator: float
    denominator: float

    @property
    def text(self) -> str:
        """EODHD's split text, e.g. "2.000000/1.000000" (the contract)."""
        return f"{self.numerator:.6f}/{self.denominator:.6f}"

    @property
    def factor(self) -> float:
        """Backward adjustment factor for earlier prices: old/new shares."""
        return self.denominator / self.numerator


@dataclass(frozen=True)
class Dividend:
    """A cash dividend with ex-date `date`; `value` is raw (unadjusted) per share."""

    date: date
    value: float
    currency: str
    declaration_date: date | None
    record_date: date | None
    payment_date: date | None
    period: str
    #: Raw close of the trading day before the ex-date (CRSP factor denominator).
    previous_close: float

    @property
    def factor(self) -> float:
        return 1.0 - self.value / self.previous_close


def split_adjusted_value(div: Dividend, splits: list[Split], through: date) -> float:
    """EODHD's `value`: the dividend adjusted for the splits after it, up to `through`
    (`unadjustedValue` is the raw amount)."""
    value = div.value
    for s in splits:
        if div.date < s.date <= through:
            value *= s.factor
    return round(value, 4)


def split_dates(
    seed: int, sym: SymbolInfo, first: date, last: date, cal: TradingCalendar
) -> dict[date, tuple[int, int]]:
    """Split ex-dates from a Poisson process over calendar days (horizon-independent)."""
    if sym.type not in ("Common Stock", "ETF"):
        return {}
    r = rng(seed, "splits", sym.exchange, sym.code)
    out: dict[date, tuple[int, int]] = {}
    day = first
    while True:
        day = day + timedelta(days=max(30, int(r.expovariate(1.0 / (SPLIT_MEAN_YEARS * 365)))))
        ratio = r.choice(SPLIT_RATIOS)
        if day > last:
            return out
        ex = cal.between(day, day + timedelta(days=10))
        if ex and ex[0] <= last:
            out[ex[0]] = ratio


def dividend_dates(
    seed: int, sym: SymbolInfo, first: date, last: date, cal: TradingCalendar
) -> tuple[set[date], float, str]:
    """Regular ex-dates on a fixed schedule (first trading day on or after an anchor
    day of the month), so they do not depend on the horizon."""
    r = rng(seed, "dividends", sym.exchange, sym.code)
    payer_share = {"Common Stock": 0.55, "ETF": 0.7, "FUND": 0.3, "Preferred Stock": 0.9}
    if r.random() >= payer_share.get(sym.type, 0.0):
        return set(), 0.0, ""
    per_year, period = DIV_SCHEDULE[sym.exchange]
    yield_per = r.uniform(0.01, 0.06) / per_year
    month0 = r.randint(1, 12 // per_year)
    dom = r.randint(1, 26)
    out: set[date] = set()
    for year in range(first.year, last.year + 1):
        for k in range(per_year):
            month = month0 + k * (12 // per_year)
            anchor = date(year, month, dom)
            ex = cal.between(anchor, anchor + timedelta(days=10))
            if ex and first < ex[0] <= last:
                out.add(ex[0])
    return out, yield_per, period


def dividend_record(
    sym: SymbolInfo,
    cal: TradingCalendar,
    meta: random.Random,
    day: date,
    amount: float,
    prev_close: float,
    period: str,
) -> Dividend:
    """A dividend's record: about a quarter have unknown dates (EODHD sends "" or
    null for them, the contract)."""
    declared = day - timedelta(days=meta.randint(10, 35))
    record = cal.previous(day + timedelta(days=3)) or day
    paid = day + timedelta(days=meta.randint(14, 40))
    unknown = meta.random() < 0.25
    return Dividend(
        date=day,
        value=amount,
        currency=sym.currency,
        declaration_date=None if unknown else declared,
        record_date=None if unknown else record,
        payment_date=None if unknown else paid,
        period=period,
        previous_close=prev_close,
    )
