"""What to do about a check that is not green: the next step, in words a person can act on.

A red or yellow check in the UI should not send anyone to the README: its `what_to_do`
names the dates, the tickers and the asset partition, run config or command that
repairs it (or says when nothing needs doing). The checks in `quality.checks` fill it in
from their own findings; the asset names here are the code location's asset keys as the
UI prints them (a test walks the definitions to keep them the same).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

#: Asset key prefixes, one asset per exchange (defs/assets: prices, corporate_actions).
PRICES = "eod_prices"
SPLITS = "eod_splits"
DIVIDENDS = "eod_dividends"
ADJUSTMENTS = "eod_adjustments"
#: Reference assets, partitioned by exchange code.
CALENDARS = "exchange_calendars"
SYMBOL_LISTS = "symbol_lists"
#: Most tickers a suggested run config names (one call each); beyond that it names none,
#: i.e. the whole exchange, which the planner fetches the cheaper way (bulk by date).
TICKERS_NAMED = 20


def count(n: int, noun: str, plural: str = "") -> str:
    """'1 ticker', '2 tickers'."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {plural or noun + 's'}"


def minutes(delay: dt.timedelta) -> str:
    return f"{round(delay.total_seconds() / 60)} min"


def asset(prefix: str, exchange: str) -> str:
    """An exchange's asset as the UI shows its key, e.g. eod_prices/US."""
    return f"{prefix}/{exchange}"


def partitions(lo: dt.date, hi: dt.date) -> str:
    """Daily partitions as the launchpad's range field takes them."""
    return f"partition {lo}" if lo == hi else f"partitions {lo}...{hi}"


def price_run_config(exchange: str, tickers: Sequence[str] = (), refetch: bool = True) -> str:
    """The launchpad run config of a price run over `tickers` (all of them if empty or
    more than TICKERS_NAMED), fetching known ranges again if `refetch`."""
    config: dict[str, object] = {"refetch": refetch}
    named = sorted(set(tickers))
    if 0 < len(named) <= TICKERS_NAMED:
        config["tickers"] = named
    return json.dumps({"ops": {f"{PRICES}__{exchange}": {"config": config}}})


def refetch(exchange: str, lo: dt.date, hi: dt.date, tickers: Sequence[str] = ()) -> str:
    """The run that fetches `tickers` (all if empty) again over [lo, hi]."""
    return (f"materialize {asset(PRICES, exchange)} {partitions(lo, hi)} with run config "
            f"{price_run_config(exchange, tickers)}")


def acknowledge(exchange: str, symbol: str, start: dt.date, end: dt.date) -> str:
    return (f"eod-pipeline acknowledge --exchange {exchange} --symbol {symbol} "
            f"--from {start} --to {end} --reason \"...\"")
