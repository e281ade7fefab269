"""Market events a test injects into the simulated market: late corrections, trading
halts, and extra splits and dividends on chosen days.

The generated universe is a pure function of the seed; these events are the few things a
test needs to place exactly (issue 10's "Proof": a volume correction published the day
after a bar, a halted ticker, a split on day X and a dividend on day Y). They are frozen
dataclasses so they can key caches, and each parses from JSON so `POST /_sim/config` can
set them on a running server.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from eodhd_simulator.calendar import TradingCalendar
    from eodhd_simulator.symbols import SymbolInfo

#: Bar fields a correction may revise. adjusted_close is derived from close and the
#: published actions, so it follows a close correction and cannot be set on its own.
CORRECTABLE_FIELDS = frozenset({"open", "high", "low", "close", "volume"})


@dataclass(frozen=True)
class Correction:
    """EODHD revising one field of one bar after first publication.

    Until `published_on`'s data is out (see `TradingCalendar.data_out_at`) the original
    bar is served; from then on, the revised one, by `/eod/` and `/eod-bulk-last-day/`
    alike. `published_on=None` means the next trading day of the exchange after `date`:
    US volumes are revised from the consolidated feed after the first release (the
    contract, "More facts"), i.e. by the time the next day is out.

    Give exactly one of `value` (the new value) or `factor` (multiplies the original).
    A volume is rounded to an integer. A correction of a bar that does not exist (halt,
    thin-trading gap, outside the ticker's life) changes nothing. Several corrections of
    one field apply in publication order. A revised price is not checked against the
    bar's other fields: a test may make high < low on purpose.
    """

    exchange: str
    code: str
    date: date
    field: str
    value: float | None = None
    factor: float | None = None
    published_on: date | None = None

    def __post_init__(self) -> None:
        if self.field not in CORRECTABLE_FIELDS:
            raise ValueError(
                f"correction field must be one of {sorted(CORRECTABLE_FIELDS)}: {self.field!r}"
            )
        if (self.value is None) == (self.factor is None):
            raise ValueError("a correction needs exactly one of value= or factor=")
        if self.published_on is not None and self.published_on < self.date:
            raise ValueError("a correction cannot be published before its bar")

    def apply(self, original: float) -> float:
        new = original * self.factor if self.factor is not None else float(self.value)  # type: ignore[arg-type]
        return float(round(new)) if self.field == "volume" else new


@dataclass(frozen=True)
class Halt:
    """A trading halt: the ticker has no bars on any trading day in [start, end] while the
    rest of its exchange trades. Its price does not move during the halt (the next bar
    opens near the last close). A generated split or dividend inside the span is dropped;
    an injected one there is refused."""

    exchange: str
    code: str
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a halt must end on or after its start")

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class InjectedSplit:
    """A split of `numerator` new shares for `denominator` old ones with ex-date `date`
    (a trading day of the ticker, not its first). The raw price path jumps by
    denominator/numerator on that day, as for generated splits; earlier adjusted closes
    change once the day is published. Replaces any generated action on that day."""

    exchange: str
    code: str
    date: date
    numerator: float = 2.0
    denominator: float = 1.0

    def __post_init__(self) -> None:
        if self.numerator <= 0 or self.denominator <= 0:
            raise ValueError("split ratio terms must be positive")


@dataclass(frozen=True)
class InjectedDividend:
    """A cash dividend with ex-date `date` (a trading day of the ticker, not its first),
    of `fraction` times the previous raw close (rounded to 4 decimals, as generated
    dividends are): the price path drops by that fraction on the ex-date, and earlier
    adjusted closes change by `1 - value / previous close` once the day is published
    (the contract's CRSP method). Replaces any generated action on that day."""

    exchange: str
    code: str
    date: date
    fraction: float = 0.02

    def __post_init__(self) -> None:
        if not 0.0 < self.fraction < 1.0:
            raise ValueError("a dividend's fraction of the previous close must be in (0, 1)")


Event = Correction | Halt | InjectedSplit | InjectedDividend
E = TypeVar("E", Correction, Halt, InjectedSplit, InjectedDividend)

#: Config field name -> event class, for parsing `POST /_sim/config` payloads.
EVENT_FIELDS: dict[str, type] = {
    "corrections": Correction,
    "halts": Halt,
    "injected_splits": InjectedSplit,
    "injected_dividends": InjectedDividend,
}


def _parse(cls: type[E], item: E | dict[str, Any]) -> E:
    if isinstance(item, cls):
        return item
    if not isinstance(item, dict):
        raise TypeError(f"{cls.__name__}: expected an object, got {item!r}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(item) - names
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {sorted(unknown)}")
    values = dict(item)
    for f in dataclasses.fields(cls):
        raw = values.get(f.name)
        if isinstance(raw, str) and f.name in ("date", "start", "end", "published_on"):
            values[f.name] = date.fromisoformat(raw)
    return cls(**values)


def parse_events(field_name: str, items: Any) -> tuple[Any, ...]:
    """A config field's events from instances or JSON objects (ISO date strings)."""
    cls = EVENT_FIELDS[field_name]
    if items is None:
        return ()
    return tuple(_parse(cls, item) for item in items)


def check_path_events(
    events: list[Halt | InjectedSplit | InjectedDividend],
    sym: SymbolInfo,
    cal: TradingCalendar,
    history_start: date,
) -> None:
    """Refuse actions the walk could not place on `sym`'s path: not a trading day of the
    ticker, its first day (no previous close), inside a halt, or two actions on one day
    (ValueError)."""
    code, exchange = sym.code, sym.exchange
    first_day = cal.next(max(sym.listed_on, history_start) - timedelta(days=1))
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


def events_json(events: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Events as JSON objects (dates as ISO text), the form `parse_events` reads back."""
    out = []
    for event in events:
        row = dataclasses.asdict(event)
        out.append({k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()})
    return out


__all__ = [
    "CORRECTABLE_FIELDS",
    "EVENT_FIELDS",
    "Correction",
    "Event",
    "Halt",
    "InjectedDividend",
    "InjectedSplit",
    "check_path_events",
    "events_json",
    "parse_events",
]
