"""The simulated market: symbols, price paths, splits and dividends, all from one seed.

Everything is derived from `sha256(seed, exchange, code, purpose)` (never Python's
`hash()`, which is salted per process), so two processes with the same seed serve the same
bytes and a test can compute the exact answer the server will give.

Paths are generated prefix-consistently: the path through 2026 is the first part of the
path through 2027. That lets a symbol's path be generated only up to the end of the year
the clock is in, and extended when the clock moves on, without changing any served value.

Market events a test injects (`events.py`: halts, splits, dividends, late corrections)
are applied per ticker: halts and injected actions when the path is generated (they key
its cache), corrections as a copy of the generated path with the bars revised by the
corrections published so far. Tickers without events are served exactly as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import sys
from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import NormalDist
from typing import Any

import polars as pl

from eod_pipeline.simulator.calendar import (
    DETAILS_WINDOW,
    EXCHANGES,
    ExchangeInfo,
    TradingCalendar,
)
from eod_pipeline.simulator.config import SimulatorConfig
from eod_pipeline.simulator.events import Correction, Halt, InjectedDividend, InjectedSplit

#: Events that shape a path when it is generated (corrections are applied afterwards).
PathEvent = Halt | InjectedSplit | InjectedDividend

#: Calendars cover up to this year at least, and at least a year past both the real
#: clock's year and the configured simulator clock's year, so a clock walk near the end of
#: a year still finds the next year's trading days.
MIN_LAST_YEAR = 2030
#: Years of calendar kept past the newest clock in view (see MIN_LAST_YEAR).
CALENDAR_YEARS_AHEAD = 1
#: Share of symbols that are delisted (the brief: ~15%).
DELISTED_SHARE = 0.15
#: Share of listed-and-later-delisted symbols that died before history_start, so they
#: have no prices at all (the contract: "those delisted before about 2014 often have no
#: prices at all").
DELISTED_LONG_AGO_SHARE = 0.5
#: Latest listing/delisting date generated: keeps the default fixture clock (2026-11-20)
#: seeing recent listings and delistings, and a real clock a little after that too.
LAST_EVENT_DATE = date(2026, 11, 13)
#: Share of non-forex symbols that trade thinly: missing days and flat zero-volume days
#: (the contract: "low-volume tickers have gaps", "zero-volume flat rows exist").
ILLIQUID_SHARE = 0.1
ILLIQUID_GAP_P = 0.04
ILLIQUID_FLAT_P = 0.04
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

#: Forex pairs on the virtual FOREX exchange with a starting level.
FOREX_PAIRS: tuple[tuple[str, str, float], ...] = (
    ("EURUSD", "USD", 1.37),
    ("GBPUSD", "USD", 1.65),
    ("USDJPY", "JPY", 104.9),
    ("USDCHF", "CHF", 0.89),
    ("AUDUSD", "USD", 0.89),
    ("EURGBP", "GBP", 0.83),
    ("USDCAD", "CAD", 1.06),
    ("NZDUSD", "USD", 0.82),
)

#: Codes and names that exercise URL encoding and text handling (the contract: hyphens for
#: class shares, `&` that must be percent-encoded, codes are opaque text).
SPECIAL_SYMBOLS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "US": (
        ("BRK-B", "Berkshire Hathaway Inc. Class B", "Common Stock"),
        ("BF-B", "Brown-Forman Corporation Class B", "Common Stock"),
        ("O'REILLY", "O'Reilly Automotive, Inc.", "Common Stock"),
        ("PB&J", "Peanut Butter & Jelly Holdings Corp", "Common Stock"),
        ("BAC-PL", "Bank of America Corp 7.25% Non-Cum Perp Conv Pfd Ser L", "Preferred Stock"),
    ),
    "LSE": (
        ("M&G", "M&G plc", "Common Stock"),
        ("BT-A", "BT Group plc", "Common Stock"),
        ("L&GX", "Legal & General UK Index Trust", "FUND"),
    ),
    "XETRA": (
        ("MÜV2", "Münchener Rückversicherungs-Gesellschaft AG", "Common Stock"),
        ("SGE", "Société Générale S.A.", "Common Stock"),
        ("1COV", "Covestro AG", "Common Stock"),
    ),
}

_NAME_A = (
    "Atlantic",
    "Northern",
    "Pacific",
    "Summit",
    "Blue",
    "Silver",
    "Granite",
    "Pioneer",
    "Harbor",
    "Evergreen",
    "Liberty",
    "Crescent",
    "Sterling",
    "Meridian",
    "Apex",
    "Cedar",
    "Golden",
    "Iron",
    "Keystone",
    "Lakeside",
    "Oak",
    "Prairie",
    "Redwood",
    "Vertex",
)
_NAME_B = (
    "Energy",
    "Holdings",
    "Capital",
    "Systems",
    "Pharma",
    "Foods",
    "Logistics",
    "Mining",
    "Networks",
    "Retail",
    "Materials",
    "Robotics",
    "Bancorp",
    "Insurance",
    "Media",
    "Semiconductor",
    "Utilities",
    "Biotech",
    "Aerospace",
    "Realty",
)
_SUFFIX = {"US": "Inc", "LSE": "plc", "XETRA": "AG"}
_COUNTRY = {"US": "USA", "LSE": "UK", "XETRA": "Germany", "FOREX": "Unknown"}
_ISIN_PREFIX = {"US": "US", "LSE": "GB00", "XETRA": "DE000"}
_CURRENCY = {"US": "USD", "LSE": "GBX", "XETRA": "EUR"}
#: Decimals of raw prices: 4 (the contract), LSE pence quotes carry 2 (e.g. 1234.5).
_PRICE_DECIMALS = {"US": 4, "LSE": 2, "XETRA": 4, "FOREX": 4}
#: Typical price level in the exchange's quote unit (LSE in pence).
_PRICE_LEVEL = {"US": 40.0, "LSE": 600.0, "XETRA": 35.0}
#: Dividend schedule per exchange: (payments per year, EODHD `period` text).
_DIV_SCHEDULE = {"US": (4, "Quarterly"), "LSE": (2, "SemiAnnual"), "XETRA": (1, "Annual")}


#: 4,096 equally likely standard-normal values (quantiles at (k + 0.5) / 4096): a table
#: lookup per draw is several times faster than random.gauss, and the tails (±3.5 sd)
#: are enough for a price walk.
_NORMAL: tuple[float, ...] = tuple(NormalDist().inv_cdf((k + 0.5) / 4096) for k in range(4096))


#: Paths are a pure function of (seed, history_start, symbol, horizon), so universes in one
#: process share them: a test suite starting a fresh simulator per test generates each
#: path once. Capped so a long-lived process cannot grow without bound.
SHARED_PATHS_MAX = 4000
_SHARED_PATHS: dict[tuple[int, date, SymbolInfo, date, tuple[PathEvent, ...]], SymbolPath] = {}


def stable_seed(*parts: object) -> int:
    """A 64-bit seed from text parts, stable across processes and Python versions."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _schemas() -> Any:
    """The shared answer schemas, imported on use: `eod_pipeline.eodhd`'s package import
    pulls in the client, and the server must not depend on the client importing cleanly."""
    from eod_pipeline.eodhd import schemas

    return schemas


def _rng(*parts: object) -> random.Random:
    return random.Random(stable_seed(*parts))


def _isin(prefix: str, rng: random.Random) -> str:
    """A syntactically valid ISIN (Luhn check digit over the letter-expanded body)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    body = prefix + "".join(
        rng.choice(alphabet[:10] if prefix != "US" else alphabet) for _ in range(11 - len(prefix))
    )
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return body + str((10 - total % 10) % 10)


@dataclass(frozen=True)
class SymbolInfo:
    """One row of `/exchange-symbol-list/` plus the life span the simulator gives it."""

    code: str
    name: str
    type: str
    venue: str
    currency: str
    country: str
    isin: str | None
    listed_on: date
    delisted_on: date | None
    exchange: str = ""
    #: Thin trading: gaps and zero-volume flat days.
    illiquid: bool = False

    def is_active(self, day: date) -> bool:
        return self.listed_on <= day and (self.delisted_on is None or self.delisted_on > day)


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


#: Columns of a generated path (EOD_HISTORY without adjusted_close, which depends on
#: what is published when).
_PATH_SCHEMA = {
    "date": pl.Date,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Int64,
}


@dataclass
class SymbolPath:
    """One symbol's bars through `horizon` (a polars frame), and its corporate actions.

    `actions` are (ex-date, factor) sorted by date; adjusted closes for "the first k
    actions are known" are computed once per k and cached, with anything rendered from
    them (see `rendered`). Python-side copies of the columns (`dates`, `close`, ...) are
    made on first use, for the per-row code paths (bulk, faults, free plan).
    """

    exchange: str
    code: str
    horizon: date
    frame: pl.DataFrame
    splits: list[Split]
    dividends: list[Dividend]
    actions: list[tuple[date, float]] = field(default_factory=list)
    action_dates: list[date] = field(default_factory=list)
    _adjusted: dict[int, pl.Series] = field(default_factory=dict)
    _columns: dict[str, Any] = field(default_factory=dict)
    #: Cache of rendered answers, keyed by the renderer (see `render.py`).
    rendered: dict[Any, Any] = field(default_factory=dict)
    #: The halts and injected actions this path was generated with (part of its key).
    events: tuple[PathEvent, ...] = ()
    #: Copies of this path with corrections applied, keyed by the corrections published
    #: (see `Universe.path`): each set is built and rendered once, so a clock walk that
    #: passes a correction's publication re-renders only that ticker, once.
    variants: dict[tuple[Correction, ...], SymbolPath] = field(default_factory=dict)

    def __post_init__(self) -> None:
        acts = [(s.date, s.factor) for s in self.splits]
        acts += [(d.date, d.factor) for d in self.dividends]
        acts.sort(key=lambda a: a[0])
        self.actions = acts
        self.action_dates = [a[0] for a in acts]

    def __len__(self) -> int:
        return self.frame.height

    def _column(self, name: str) -> Any:
        col = self._columns.get(name)
        if col is None:
            values = self.frame[name].to_list()
            if name == "volume":
                col = array("q", values)
            elif name == "date":
                col = values
            else:
                col = array("d", values)
            self._columns[name] = col
        return col

    @property
    def dates(self) -> list[date]:
        return self._column("date")

    @property
    def iso(self) -> list[str]:
        col = self._columns.get("iso")
        if col is None:
            col = self._columns["iso"] = [d.isoformat() for d in self.dates]
        return col

    @property
    def open(self) -> array[float]:
        return self._column("open")

    @property
    def high(self) -> array[float]:
        return self._column("high")

    @property
    def low(self) -> array[float]:
        return self._column("low")

    @property
    def close(self) -> array[float]:
        return self._column("close")

    @property
    def volume(self) -> array[int]:
        return self._column("volume")

    def known_actions(self, through: date | None) -> int:
        """How many actions have an ex-date on or before `through` (they are published)."""
        if through is None:
            return 0
        return bisect_right(self.action_dates, through)

    def adjusted_series(self, known: int) -> pl.Series:
        """adjusted_close when the first `known` actions are published.

        CRSP-style backward adjustment as EODHD does it (the contract, "Data quirks"):
        close times the product of the factors of every known action with an ex-date
        after the row's date, rounded to 4 decimals.
        """
        cached = self._adjusted.get(known)
        if cached is not None:
            return cached
        n = self.frame.height
        factors = [1.0] * n
        if known:
            dates = self.dates
            for day, factor in self.actions[:known]:
                row = bisect_left(dates, day)
                factors[row] *= factor
        # Product of the factors of rows strictly after each row: reversed cumulative
        # product, shifted by one.
        later = (
            pl.Series(factors, dtype=pl.Float64)
            .reverse()
            .cum_prod()
            .reverse()
            .shift(-1, fill_value=1.0)
        )
        out = (self.frame["close"] * later).round(4, mode="half_away_from_zero")
        out = out.alias("adjusted_close")
        self._adjusted[known] = out
        return out

    def adjusted(self, known: int) -> array[float]:
        """`adjusted_series` as a Python array, for per-row code paths."""
        key = f"adjusted-{known}"
        col = self._columns.get(key)
        if col is None:
            col = self._columns[key] = array("d", self.adjusted_series(known).to_list())
        return col

    def span(self, start: date | None, end: date | None) -> tuple[int, int]:
        """Row index range [i, j) of dates in [start, end]."""
        dates = self.dates
        i = 0 if start is None else bisect_left(dates, start)
        j = len(dates) if end is None else bisect_right(dates, end)
        return i, max(i, j)

    def index_of(self, day: date) -> int | None:
        dates = self.dates
        i = bisect_left(dates, day)
        return i if i < len(dates) and dates[i] == day else None


def _corrected(base: SymbolPath, fixes: tuple[Correction, ...]) -> SymbolPath:
    """A copy of `base` with `fixes` applied to its bars (in order; a fix of a bar the
    path does not have changes nothing). Prices keep the exchange's decimals."""
    decimals = _PRICE_DECIMALS.get(base.exchange, 4)
    columns: dict[str, list[Any]] = {}
    for fix in fixes:
        i = base.index_of(fix.date)
        if i is None:
            continue
        col = columns.get(fix.field)
        if col is None:
            col = columns[fix.field] = base.frame[fix.field].to_list()
        new = fix.apply(col[i])
        col[i] = int(new) if fix.field == "volume" else round(new, decimals)
    frame = base.frame.with_columns(
        [pl.Series(name, values, dtype=_PATH_SCHEMA[name]) for name, values in columns.items()]
    )
    return SymbolPath(
        exchange=base.exchange,
        code=base.code,
        horizon=base.horizon,
        frame=frame,
        splits=base.splits,
        dividends=base.dividends,
        events=base.events,
    )


class Universe:
    """The deterministic simulated market for one `SimulatorConfig`.

    Public methods are what tests use to compute expected answers; the server renders
    its answers from the same objects.
    """

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.seed = self.config.seed
        self.history_start = self.config.history_start
        clock_year = (self.config.now or datetime.now(UTC)).year
        #: Last year the calendars cover; the simulator clock must stay inside it.
        self.last_year = max(
            MIN_LAST_YEAR,
            datetime.now(UTC).year + CALENDAR_YEARS_AHEAD,
            clock_year + CALENDAR_YEARS_AHEAD,
        )
        self._calendars = {
            info.code: TradingCalendar(info, self.history_start.year - 1, self.last_year)
            for info in EXCHANGES
        }
        self._symbols: dict[str, list[SymbolInfo]] = {}
        self._by_code: dict[str, dict[str, SymbolInfo]] = {}
        for info in EXCHANGES:
            syms = self._make_symbols(info.code)
            self._symbols[info.code] = syms
            self._by_code[info.code] = {s.code: s for s in syms}
        self._paths: dict[tuple[str, str], SymbolPath] = {}
        self._path_events: dict[tuple[str, str], tuple[PathEvent, ...]] = {}
        self._corrections: dict[tuple[str, str], tuple[Correction, ...]] = {}
        self.apply_events(self.config)

    # ----- injected market events ------------------------------------------------------------

    def apply_events(self, config: SimulatorConfig) -> None:
        """Take the corrections, halts and injected actions of `config` (all of them,
        replacing the previous set). Validates everything before changing anything, so a
        refused event (ValueError) leaves the market as it was.

        Only tickers named by an event are affected: their generated path is re-keyed
        (halts, actions) or overlaid (corrections) on next use; other paths and their
        rendered answers stay cached.
        """
        path_events: dict[tuple[str, str], list[PathEvent]] = {}
        for event in (*config.halts, *config.injected_splits, *config.injected_dividends):
            self._check_ticker(event.exchange, event.code)
            path_events.setdefault((event.exchange, event.code), []).append(event)
        for (exchange, code), events in path_events.items():
            self._check_path_events(exchange, code, events)
        corrections: dict[tuple[str, str], list[Correction]] = {}
        for fix in config.corrections:
            self._check_ticker(fix.exchange, fix.code)
            if fix.published_on is None:
                published = self.calendar(fix.exchange).next(fix.date)
                if published is None:
                    raise ValueError(f"no trading day after {fix.date} to publish {fix}")
                fix = dataclasses.replace(fix, published_on=published)
            corrections.setdefault((fix.exchange, fix.code), []).append(fix)
        self._path_events = {k: tuple(v) for k, v in path_events.items()}
        self._corrections = {
            # Stable sort: corrections published together apply in the order given.
            k: tuple(sorted(v, key=lambda c: c.published_on or c.date))
            for k, v in corrections.items()
        }

    def corrections(self, exchange: str, code: str) -> tuple[Correction, ...]:
        """The ticker's corrections with `published_on` resolved, in publication order."""
        return self._corrections.get((exchange, code), ())

    def _check_ticker(self, exchange: str, code: str) -> None:
        if not self.has_exchange(exchange):
            raise ValueError(f"unknown exchange {exchange!r}")
        if self.symbol(exchange, code) is None:
            raise ValueError(f"unknown ticker {code}.{exchange}")

    def _check_path_events(self, exchange: str, code: str, events: list[PathEvent]) -> None:
        """Refuse actions the walk could not place: not a trading day of the ticker, its
        first day (no previous close), inside a halt, or two actions on one day."""
        sym = self.symbol(exchange, code)
        assert sym is not None
        cal = self.calendar(exchange)
        first_day = cal.next(max(sym.listed_on, self.history_start) - timedelta(days=1))
        halts = [e for e in events if isinstance(e, Halt)]
        seen: set[date] = set()
        for event in events:
            if isinstance(event, Halt):
                continue
            day = event.date
            where = f"{type(event).__name__} of {code}.{exchange} on {day}"
            if not cal.is_trading_day(day):
                raise ValueError(f"{where}: not a trading day")
            if first_day is None or day <= first_day:
                raise ValueError(f"{where}: on or before the ticker's first trading day")
            if sym.delisted_on is not None and day > sym.delisted_on:
                raise ValueError(f"{where}: after the ticker's delisting")
            if any(h.covers(day) for h in halts):
                raise ValueError(f"{where}: inside a halt")
            if day in seen:
                raise ValueError(f"{where}: another injected action on that day")
            seen.add(day)

    # ----- exchanges and calendars -------------------------------------------------------

    def exchanges(self) -> list[ExchangeInfo]:
        """All simulated exchanges, in `/exchanges-list/` order."""
        return [cal.info for cal in self._calendars.values()]

    def exchange_info(self, code: str) -> ExchangeInfo:
        """Timezone, hours, delay, currency and holidays (`.holidays`) of one exchange."""
        return self.calendar(code).info

    def has_exchange(self, code: str) -> bool:
        return code in self._calendars

    def calendar(self, code: str) -> TradingCalendar:
        try:
            return self._calendars[code]
        except KeyError:
            raise KeyError(f"unknown exchange {code!r}") from None

    def trading_days(self, exchange: str, start: date, end: date) -> list[date]:
        """Trading days of `exchange` in [start, end]: weekdays that are not holidays."""
        return self.calendar(exchange).between(start, end)

    def holidays(self, exchange: str, start: date, end: date) -> list[tuple[date, str]]:
        """Every holiday of `exchange` in [start, end] (the full calendar)."""
        hol = self.calendar(exchange).info.holidays
        return sorted((d, n) for d, n in hol.items() if start <= d <= end)

    def details_window(self, exchange: str, now: datetime) -> tuple[date, date]:
        """The holiday window `/exchange-details/` uses without `from`/`to`: DETAILS_WINDOW
        each way around the exchange's local date at `now`. Holidays outside it are
        real (no bars) but unannounced, as on EODHD."""
        today = now.astimezone(self.exchange_info(exchange).tz).date()
        return today - DETAILS_WINDOW, today + DETAILS_WINDOW

    def available_through(self, exchange: str, now: datetime) -> date | None:
        """Newest trading day of `exchange` whose data is published at `now`."""
        return self.calendar(exchange).available_through(now)

    # ----- symbols ------------------------------------------------------------------------

    def symbols(
        self, exchange: str, *, as_of: date | None = None, delisted: bool | None = None
    ) -> list[SymbolInfo]:
        """Every symbol of `exchange`; with `as_of`, only those listed by then, split into
        active (`delisted=False`) or delisted (`delisted=True`) as the list endpoint does."""
        syms = self._symbols[exchange]
        if as_of is None:
            return list(syms)
        out = [s for s in syms if s.listed_on <= as_of]
        if delisted is None:
            return out
        return [s for s in out if (not s.is_active(as_of)) == delisted]

    def symbol(self, exchange: str, code: str) -> SymbolInfo | None:
        return self._by_code.get(exchange, {}).get(code)

    def symbol_count(self, exchange: str) -> int:
        """How many symbols `exchange` lists (before specials and delistings)."""
        return self.config.symbols_by_exchange.get(exchange, self.config.symbols_per_exchange)

    def _make_symbols(self, exchange: str) -> list[SymbolInfo]:
        if exchange == "FOREX":
            return [
                SymbolInfo(
                    code=code,
                    name=f"{code[:3]}/{code[3:]}",
                    type="Currency",
                    venue="FOREX",
                    currency=ccy,
                    country="Unknown",
                    isin=None,
                    listed_on=date(2000, 1, 3),
                    delisted_on=None,
                    exchange="FOREX",
                )
                for code, ccy, _ in FOREX_PAIRS[: max(1, min(8, self.symbol_count(exchange)))]
            ]
        rng = _rng(self.seed, "symbols", exchange)
        n = self.symbol_count(exchange)
        specials = SPECIAL_SYMBOLS.get(exchange, ())
        used: set[str] = set()
        plan: list[tuple[str, str, str]] = []
        for code, name, typ in specials[:n]:
            used.add(code)
            plan.append((code, name, typ))
        types = {
            "US": (("Common Stock", 0.66), ("ETF", 0.14), ("FUND", 0.1), ("Preferred Stock", 0.1)),
            "LSE": (("Common Stock", 0.75), ("ETF", 0.15), ("FUND", 0.1)),
            "XETRA": (("Common Stock", 0.8), ("ETF", 0.2)),
        }[exchange]
        while len(plan) < n:
            length = rng.choice((3, 4, 4) if exchange != "US" else (2, 3, 4, 4))
            code = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(length))
            u = rng.random()
            typ = types[-1][0]
            for t, share in types:
                if u < share:
                    typ = t
                    break
                u -= share
            if typ == "Preferred Stock":
                code += "-P" + rng.choice("ABCDE")
            if code in used:
                continue
            used.add(code)
            name = f"{rng.choice(_NAME_A)} {rng.choice(_NAME_B)}"
            name += {"ETF": " ETF", "FUND": " Fund", "Preferred Stock": " Pref"}.get(
                typ, f" {_SUFFIX[exchange]}"
            )
            plan.append((code, name, typ))

        out: list[SymbolInfo] = []
        span_days = (LAST_EVENT_DATE - self.history_start).days
        for idx, (code, name, typ) in enumerate(plan):
            r = _rng(self.seed, "symbol", exchange, code)
            special = idx < len(specials)
            if special or r.random() < 0.6:
                listed = self.history_start - timedelta(days=r.randint(30, 9000))
            else:
                listed = self.history_start + timedelta(days=r.randint(0, span_days - 60))
            delisted: date | None = None
            if not special and r.random() < DELISTED_SHARE:
                if r.random() < DELISTED_LONG_AGO_SHARE:
                    listed = self.history_start - timedelta(days=r.randint(2000, 7000))
                    delisted = self.history_start - timedelta(days=r.randint(10, 1500))
                else:
                    first = max(listed, self.history_start) + timedelta(days=120)
                    room = max(1, (LAST_EVENT_DATE - first).days)
                    delisted = first + timedelta(days=r.randint(0, room))
            venue = exchange
            if exchange == "US":
                venue = {
                    "ETF": r.choice(("NYSE ARCA", "NYSE ARCA", "BATS")),
                    "Preferred Stock": "NYSE",
                    "FUND": "NASDAQ",
                }.get(typ, r.choice(("NYSE", "NASDAQ", "NASDAQ")))
            currency = _CURRENCY[exchange]
            if exchange == "LSE" and typ == "ETF" and r.random() < 0.3:
                currency = "USD"  # LSE lists some ETFs in dollars (the contract: units vary)
            isin = None if (typ == "FUND" or r.random() < 0.1) else _isin(_ISIN_PREFIX[exchange], r)
            out.append(
                SymbolInfo(
                    code=code,
                    name=name,
                    type=typ,
                    venue=venue,
                    currency=currency,
                    country=_COUNTRY[exchange],
                    isin=isin,
                    listed_on=listed,
                    delisted_on=delisted,
                    exchange=exchange,
                    illiquid=(not special) and r.random() < ILLIQUID_SHARE,
                )
            )
        # A reused code: the old holder is renamed `ABC_old` (the contract).
        reusable = [s for s in out[len(specials) : -1] if s.delisted_on is None]
        if reusable and n >= 10:
            base = reusable[0]
            out[-1] = SymbolInfo(
                code=f"{base.code}_old",
                name=f"{base.name} (old)",
                type="Common Stock",
                venue=base.venue,
                currency=base.currency,
                country=base.country,
                isin=None,
                listed_on=self.history_start + timedelta(days=30),
                delisted_on=self.history_start + timedelta(days=900),
                exchange=exchange,
            )
        return out

    # ----- price paths ----------------------------------------------------------------------

    def path(self, exchange: str, code: str, through: date | None = None) -> SymbolPath:
        """The symbol's path as published through trading day `through` (default: end
        of the current real year): generated at least that far, with the corrections
        published by then applied. Callers pass the newest available day, so a bar
        revised later is served in its original form until the revision is out.

        Cached: the generated path is regenerated only when asked past its horizon or
        when the ticker's halts/injected actions change; a corrected copy is built once
        per set of published corrections."""
        if through is None:
            through = date(datetime.now(UTC).year, 12, 31)
        base = self._generated(exchange, code, through)
        fixes = self._corrections.get((exchange, code))
        if not fixes:
            return base
        visible = tuple(
            f for f in fixes if f.published_on is not None and f.published_on <= through
        )
        if not visible:
            return base
        corrected = base.variants.get(visible)
        if corrected is None:
            corrected = base.variants[visible] = _corrected(base, visible)
        return corrected

    def _generated(self, exchange: str, code: str, through: date) -> SymbolPath:
        key = (exchange, code)
        events = self._path_events.get(key, ())
        cached = self._paths.get(key)
        if cached is not None and cached.horizon >= through and cached.events == events:
            return cached
        horizon = date(through.year, 12, 31)
        sym = self.symbol(exchange, code)
        if sym is None:
            raise KeyError(f"unknown ticker {code}.{exchange}")
        shared_key = (self.seed, self.history_start, sym, horizon, events)
        path = _SHARED_PATHS.get(shared_key)
        if path is None:
            path = self._generate(sym, horizon, events)
            if len(_SHARED_PATHS) >= SHARED_PATHS_MAX:
                _SHARED_PATHS.pop(next(iter(_SHARED_PATHS)))
            _SHARED_PATHS[shared_key] = path
        self._paths[key] = path
        return path

    def _generate(
        self, sym: SymbolInfo, horizon: date, events: tuple[PathEvent, ...] = ()
    ) -> SymbolPath:
        exchange = sym.exchange
        cal = self.calendar(exchange)
        first = max(sym.listed_on, self.history_start)
        last = horizon if sym.delisted_on is None else min(horizon, sym.delisted_on)
        days = cal.between(first, last) if first <= last else []

        splits_at: dict[date, tuple[float, float]] = {}
        div_days: set[date] = set()
        div_yield = 0.0
        period = ""
        if exchange != "FOREX" and days:
            splits_at = dict(self._split_dates(sym, days[0], last, cal))
            div_days, div_yield, period = self._dividend_dates(sym, days[0], last, cal)
            div_days -= set(splits_at)
            div_days.discard(days[0])
        div_yields = dict.fromkeys(div_days, div_yield)

        # Injected events (validated by apply_events): a halt removes the ticker's bars
        # (and any generated action) over its span; an injected action replaces whatever
        # was generated on its day.
        halted_rows: list[int] = []
        injected_meta: dict[date, random.Random] = {}
        for event in events:
            if isinstance(event, Halt):
                i, j = bisect_left(days, event.start), bisect_right(days, event.end)
                halted_rows.extend(range(i, j))
                for day in days[i:j]:
                    splits_at.pop(day, None)
                    div_yields.pop(day, None)
        for event in events:
            if isinstance(event, InjectedSplit) and event.date <= last:
                splits_at[event.date] = (event.numerator, event.denominator)
                div_yields.pop(event.date, None)
            elif isinstance(event, InjectedDividend) and event.date <= last:
                div_yields[event.date] = event.fraction
                splits_at.pop(event.date, None)
                # Its own metadata draws, so the generated dividends keep theirs.
                injected_meta[event.date] = _rng(
                    self.seed, "divmeta-injected", exchange, sym.code, event.date
                )
                period = period or _DIV_SCHEDULE.get(exchange, (0, "Other"))[1]

        walk = _rng(self.seed, "walk", exchange, sym.code)
        meta = _rng(self.seed, "divmeta", exchange, sym.code)
        decimals = _PRICE_DECIMALS[exchange]
        no_volume = sym.type in ("FUND", "Currency")
        if exchange == "FOREX":
            level = next(p for c, _, p in FOREX_PAIRS if c == sym.code)
            sigma, drift = 0.004, 0.0
        else:
            level = _PRICE_LEVEL[exchange] * math.exp(walk.gauss(0.0, 0.9))
            if sym.currency == "USD" and exchange == "LSE":
                level /= 100.0
            sigma = 0.006 if sym.type == "FUND" else walk.uniform(0.01, 0.028)
            drift = walk.uniform(-0.0002, 0.0005)
        base_volume = math.exp(walk.uniform(9.0, 15.0))
        n = len(days)
        # Six 16-bit draws per day (gap, return, high, low, volume, illiquidity), taken
        # from one randbytes call: randbytes(12 * n) is a prefix of randbytes(12 * m) for
        # m > n, so the path through 2026 is a prefix of the path through 2027.
        draws = array("H")
        draws.frombytes(walk.randbytes(12 * n))
        if sys.byteorder == "big":
            draws.byteswap()
        frame, splits, dividends = self._walk(
            sym,
            cal,
            days,
            draws,
            meta,
            splits_at,
            div_yields,
            period,
            halted_rows=halted_rows,
            injected_meta=injected_meta,
            level=level,
            sigma=sigma,
            drift=drift,
            base_volume=base_volume,
            decimals=decimals,
            no_volume=no_volume,
        )
        return SymbolPath(
            exchange=exchange,
            code=sym.code,
            horizon=horizon,
            frame=frame,
            splits=splits,
            dividends=dividends,
            events=events,
        )

    @staticmethod
    def _walk(
        sym: SymbolInfo,
        cal: TradingCalendar,
        days: list[date],
        draws: array[int],
        meta: random.Random,
        splits_at: dict[date, tuple[float, float]],
        div_yields: dict[date, float],
        period: str,
        *,
        halted_rows: list[int],
        injected_meta: dict[date, random.Random],
        level: float,
        sigma: float,
        drift: float,
        base_volume: float,
        decimals: int,
        no_volume: bool,
    ) -> tuple[pl.DataFrame, list[Split], list[Dividend]]:
        """The price walk, vectorised in polars (a Python loop costs ~5 us a day, too slow
        for a path rendered on its first request).

        Log close = log(level) + cumulative sum of daily returns and action jumps: a split
        N:M multiplies the price by M/N on its ex-date, a dividend by (1 - yield). Open is
        the previous close (after the jump) with an overnight gap; high/low widen the
        open-close range. Illiquid symbols lose some days (no bar) and have flat
        zero-volume days. Halted days (`halted_rows`) have no bar and no price move.
        Everything is rounded only on output.
        """
        n = len(days)
        if n == 0:
            return pl.DataFrame(schema=_PATH_SCHEMA), [], []
        jump = [0.0] * n
        action_rows: list[int] = []
        for day in sorted({*splits_at, *div_yields}):
            i = bisect_left(days, day)
            if i == 0 or i >= n or days[i] != day:
                continue
            ratio = splits_at.get(day)
            jump[i] = math.log(ratio[1] / ratio[0] if ratio else 1.0 - div_yields[day])
            action_rows.append(i)
        # Eager Series arithmetic: each operation goes straight to Rust, while a lazy
        # query of this size spends most of its time planning.
        f0, f1, f2, f3, f4, f5 = (pl.Series(draws[k::6], dtype=pl.UInt16) % 4096 for k in range(6))
        normal = pl.Series(_NORMAL)
        steady = pl.Series([True] * n)  # action days and the first day always trade
        steady[0] = False
        if action_rows:
            steady = steady.scatter(action_rows, False)
        halted = pl.Series([False] * n)
        if halted_rows:
            halted = halted.scatter(halted_rows, True)
        if sym.illiquid:
            gap = (steady & (f5 < int(ILLIQUID_GAP_P * 4096))) | halted
            flat = steady & ~gap & (f5 < int((ILLIQUID_GAP_P + ILLIQUID_FLAT_P) * 4096))
            trading = ~(gap | flat)
        else:
            gap = halted
            trading = ~halted
        active = trading.cast(pl.Float64)
        log_level = math.log(level)
        jumps = pl.Series(jump)
        logc = (jumps + (drift + sigma * normal.gather(f1)) * active).cum_sum() + log_level
        basis = (logc.shift(1, fill_value=log_level) + jumps).exp()
        floor = 10.0 ** (-decimals + 2)

        def rnd(x: pl.Series) -> pl.Series:
            return x.clip(lower_bound=floor).round(decimals, mode="half_away_from_zero")

        opn = rnd(basis * (sigma * 0.3 * normal.gather(f0) * active).exp())
        cls = rnd(logc.exp())
        up = opn > cls
        width = sigma * 0.6 / 4096
        high = rnd(opn.zip_with(up, cls) * (1.0 + f2.cast(pl.Float64) * width * active))
        low = rnd(cls.zip_with(up, opn) * (1.0 - f3.cast(pl.Float64) * width * active))
        if no_volume:
            volume = pl.Series([0] * n, dtype=pl.Int64)
        else:
            volume = (base_volume * (0.5 * normal.gather(f4)).exp()).cast(pl.Int64) * trading.cast(
                pl.Int64
            )
        keep = ~gap
        frame = pl.DataFrame(
            {
                "date": cal.day_series(days[0], n).filter(keep),
                "open": opn.filter(keep),
                "high": high.filter(keep),
                "low": low.filter(keep),
                "close": cls.filter(keep),
                "volume": volume.filter(keep),
            }
        )
        is_action = pl.Series([False] * n)
        if action_rows:
            is_action = is_action.scatter(action_rows, True)
        kept = pl.DataFrame({"action": is_action.filter(keep)})

        # Corporate-action records, from the rows they happened on.
        splits: list[Split] = []
        dividends: list[Dividend] = []
        rows = kept["action"].arg_true().to_list()
        closes = frame["close"]
        for i, day in zip(rows, frame["date"].gather(rows).to_list(), strict=True):
            ratio = splits_at.get(day)
            if ratio is not None:
                splits.append(Split(day, float(ratio[0]), float(ratio[1])))
                continue
            prev_close = closes[i - 1]
            amount = round(prev_close * div_yields[day], 4)
            if amount > 0:
                dividends.append(
                    Universe._dividend(
                        sym, cal, injected_meta.get(day, meta), day, amount, prev_close, period
                    )
                )
        return frame, splits, dividends

    @staticmethod
    def _dividend(
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

    def _split_dates(
        self, sym: SymbolInfo, first: date, last: date, cal: TradingCalendar
    ) -> dict[date, tuple[int, int]]:
        """Split ex-dates from a Poisson process over calendar days (horizon-independent)."""
        if sym.type not in ("Common Stock", "ETF"):
            return {}
        r = _rng(self.seed, "splits", sym.exchange, sym.code)
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

    def _dividend_dates(
        self, sym: SymbolInfo, first: date, last: date, cal: TradingCalendar
    ) -> tuple[set[date], float, str]:
        """Regular ex-dates on a fixed schedule (first trading day on or after an anchor
        day of the month), so they do not depend on the horizon."""
        r = _rng(self.seed, "dividends", sym.exchange, sym.code)
        payer_share = {"Common Stock": 0.55, "ETF": 0.7, "FUND": 0.3, "Preferred Stock": 0.9}
        if r.random() >= payer_share.get(sym.type, 0.0):
            return set(), 0.0, ""
        per_year, period = _DIV_SCHEDULE[sym.exchange]
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

    def prewarm(self, now: datetime) -> int:
        """Generate every path and render its JSON history as of `now`; returns how many
        paths. Makes first requests as cheap as later ones (see SimulatorConfig.prewarm)."""
        from eod_pipeline.simulator import render

        count = 0
        for info in self.exchanges():
            avail = self.available_through(info.code, now)
            if avail is None:
                continue
            for sym in self._symbols[info.code]:
                path = self.path(info.code, sym.code, avail)
                if len(path):
                    render.eod_rendered(path, path.known_actions(avail))
                    count += 1
        return count

    # ----- answers tests compare against -----------------------------------------------------

    def _known_through(self, exchange: str, as_of: datetime | None) -> date | None:
        now = as_of or datetime.now(UTC)
        return self.available_through(exchange, now)

    def history(
        self,
        exchange: str,
        code: str,
        start: date | None = None,
        end: date | None = None,
        as_of: datetime | None = None,
    ) -> pl.DataFrame:
        """What `/eod/{code}.{exchange}?from=start&to=end` answers at `as_of` (clean data,
        no faults), with the columns and dtypes of `schemas.EOD_HISTORY`."""
        avail = self._known_through(exchange, as_of)
        if avail is None:
            return pl.DataFrame(schema=_schemas().EOD_HISTORY)
        path = self.path(exchange, code, avail)
        end = avail if end is None else min(end, avail)
        i, j = path.span(start, end)
        adj = path.adjusted_series(path.known_actions(avail))
        out = path.frame.with_columns(adj).slice(i, j - i)
        return out.select(list(_schemas().EOD_HISTORY))

    def bulk(self, exchange: str, day: date, as_of: datetime | None = None) -> pl.DataFrame:
        """What `/eod-bulk-last-day/{exchange}?date=day` answers at `as_of`
        (`schemas.EOD_BULK`)."""
        rows = list(self.bulk_rows(exchange, day, as_of))
        return pl.DataFrame(
            [
                {
                    "code": code,
                    "exchange": exchange,
                    "date": day,
                    "open": path.open[i],
                    "high": path.high[i],
                    "low": path.low[i],
                    "close": path.close[i],
                    "adjusted_close": adj,
                    "volume": path.volume[i],
                }
                for code, path, i, adj in rows
            ],
            schema=_schemas().EOD_BULK,
        )

    def bulk_rows(
        self, exchange: str, day: date, as_of: datetime | None, codes: list[str] | None = None
    ) -> list[tuple[str, SymbolPath, int, float]]:
        """(code, path, row index, adjusted_close) of each symbol with a bar on `day`."""
        avail = self._known_through(exchange, as_of)
        if avail is None or day > avail:
            return []
        syms = (
            self._symbols[exchange]
            if codes is None
            else [s for c in codes if (s := self.symbol(exchange, c)) is not None]
        )
        out = []
        for sym in syms:
            if not sym.listed_on <= day or (sym.delisted_on and sym.delisted_on < day):
                continue
            path = self.path(exchange, sym.code, avail)
            i = path.index_of(day)
            if i is None:
                continue
            out.append((sym.code, path, i, path.adjusted(path.known_actions(avail))[i]))
        return out

    def splits(self, exchange: str, code: str, as_of: datetime | None = None) -> list[Split]:
        """Published splits of a ticker at `as_of` (ex-date on or before the newest
        available trading day)."""
        avail = self._known_through(exchange, as_of)
        if avail is None:
            return []
        return [s for s in self.path(exchange, code, avail).splits if s.date <= avail]

    def dividends(self, exchange: str, code: str, as_of: datetime | None = None) -> list[Dividend]:
        """Published dividends of a ticker at `as_of`."""
        avail = self._known_through(exchange, as_of)
        if avail is None:
            return []
        return [d for d in self.path(exchange, code, avail).dividends if d.date <= avail]

    def split_adjusted_dividend(self, path: SymbolPath, div: Dividend, through: date) -> float:
        """EODHD's `value`: the dividend adjusted for later known splits (`unadjustedValue`
        is the raw amount)."""
        value = div.value
        for s in path.splits:
            if div.date < s.date <= through:
                value *= s.factor
        return round(value, 4)

    def splits_frame(self, exchange: str, code: str, as_of: datetime | None = None) -> pl.DataFrame:
        """`splits()` in the shape of `schemas.SPLITS`."""
        rows = [
            {
                "code": code,
                "date": s.date,
                "split": s.text,
                "numerator": s.numerator,
                "denominator": s.denominator,
            }
            for s in self.splits(exchange, code, as_of)
        ]
        return pl.DataFrame(rows, schema=_schemas().SPLITS)

    def dividends_frame(
        self, exchange: str, code: str, as_of: datetime | None = None
    ) -> pl.DataFrame:
        """`dividends()` in the shape of `schemas.DIVIDENDS` (value split-adjusted)."""
        avail = self._known_through(exchange, as_of)
        rows = []
        if avail is not None:
            path = self.path(exchange, code, avail)
            for d in self.dividends(exchange, code, as_of):
                rows.append(
                    {
                        "code": code,
                        "date": d.date,
                        "value": self.split_adjusted_dividend(path, d, avail),
                        "unadjusted_value": d.value,
                        "currency": d.currency,
                        "declaration_date": d.declaration_date,
                        "record_date": d.record_date,
                        "payment_date": d.payment_date,
                        "period": d.period,
                    }
                )
        return pl.DataFrame(rows, schema=_schemas().DIVIDENDS)
