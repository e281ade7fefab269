"""Generating price paths: a seeded random walk per symbol, with jumps on its corporate
actions, gaps for thin trading and halts.

Paths are generated prefix-consistently: the path through 2026 is the first part of the
path through 2027. That lets a symbol's path be generated only up to the end of the year
the clock is in, and extended when the clock moves on, without changing any served value.
"""

from __future__ import annotations

import math
import random
import sys
from array import array
from bisect import bisect_left, bisect_right
from datetime import date
from statistics import NormalDist

import polars as pl

from eodhd_simulator.actions import (
    DIV_SCHEDULE,
    Dividend,
    Split,
    dividend_dates,
    dividend_record,
    split_dates,
)
from eodhd_simulator.calendar import TradingCalendar
from eodhd_simulator.events import Halt, InjectedDividend, InjectedSplit
from eodhd_simulator.paths import PATH_SCHEMA, PRICE_DECIMALS, PathEvent, SymbolPath
from eodhd_simulator.seeds import rng
from eodhd_simulator.symbols import FOREX_PAIRS, SymbolInfo

#: Thin trading (see `SymbolInfo.illiquid`): chance of a missing day and of a flat
#: zero-volume day.
ILLIQUID_GAP_P = 0.04
ILLIQUID_FLAT_P = 0.04
#: Typical price level in the exchange's quote unit (LSE in pence).
_PRICE_LEVEL = {"US": 40.0, "LSE": 600.0, "XETRA": 35.0, "VI": 30.0, "WAR": 60.0}


#: 4,096 equally likely standard-normal values (quantiles at (k + 0.5) / 4096): a table
#: lookup per draw is several times faster than random.gauss, and the tails (±3.5 sd)
#: are enough for a price walk.
_NORMAL: tuple[float, ...] = tuple(NormalDist().inv_cdf((k + 0.5) / 4096) for k in range(4096))


def generate_path(
    seed: int,
    history_start: date,
    sym: SymbolInfo,
    cal: TradingCalendar,
    horizon: date,
    events: tuple[PathEvent, ...] = (),
) -> SymbolPath:
    """`sym`'s path through `horizon` on its exchange's calendar `cal`, shaped by the
    halts and injected actions `events` (validated beforehand, see `events.py`)."""
    exchange = sym.exchange
    first = max(sym.listed_on, history_start)
    last = horizon if sym.delisted_on is None else min(horizon, sym.delisted_on)
    days = cal.between(first, last) if first <= last else []

    splits_at: dict[date, tuple[float, float]] = {}
    div_days: set[date] = set()
    div_yield = 0.0
    period = ""
    if exchange != "FOREX" and days:
        splits_at = dict(split_dates(seed, sym, days[0], last, cal))
        div_days, div_yield, period = dividend_dates(seed, sym, days[0], last, cal)
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
            injected_meta[event.date] = rng(
                seed, "divmeta-injected", exchange, sym.code, event.date
            )
            period = period or DIV_SCHEDULE.get(exchange, (0, "Other"))[1]

    walk = rng(seed, "walk", exchange, sym.code)
    meta = rng(seed, "divmeta", exchange, sym.code)
    decimals = PRICE_DECIMALS[exchange]
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
    frame, splits, dividends = _walk(
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
        return pl.DataFrame(schema=PATH_SCHEMA), [], []
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
                dividend_record(
                    sym, cal, injected_meta.get(day, meta), day, amount, prev_close, period
                )
            )
    return frame, splits, dividends
