"""A symbol's price path: its bars as generated (see `walk.py`), its corporate actions,
and the adjusted closes for each state of "which actions are published".

A path is what every answer about a ticker is cut from: `/eod/` slices it, bulk reads one
row of each, and `render.py` caches its rows as bytes on the path itself.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from eodhd_simulator.actions import Dividend, Split
from eodhd_simulator.events import Correction, Halt, InjectedDividend, InjectedSplit

#: Events that shape a path when it is generated (corrections are applied afterwards).
PathEvent = Halt | InjectedSplit | InjectedDividend
#: Decimals of raw prices: 4 (the contract), LSE pence quotes carry 2 (e.g. 1234.5).
#: Vienna and Warsaw quote to 2 decimals in this simulation.
PRICE_DECIMALS = {"US": 4, "LSE": 2, "XETRA": 4, "FOREX": 4, "VI": 2, "WAR": 2}

#: Columns of a generated path (EOD_HISTORY without adjusted_close, which depends on
#: what is published when).
PATH_SCHEMA = {
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


def corrected(base: SymbolPath, fixes: tuple[Correction, ...]) -> SymbolPath:
    """A copy of `base` with `fixes` applied to its bars (in order; a fix of a bar the
    path does not have changes nothing). Prices keep the exchange's decimals."""
    decimals = PRICE_DECIMALS.get(base.exchange, 4)
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
        [pl.Series(name, values, dtype=PATH_SCHEMA[name]) for name, values in columns.items()]
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
