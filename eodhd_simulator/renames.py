"""Ticker changes in the simulated market: renames (FB -> META) and reused codes (`ABC_old`).

A rename moves a company to a new code from an effective date: the old code's bars stop
before it, the new code's start on it, and both are cut from ONE price path (the
company's), so prices continue across the change. Symbol lists follow: the old code is
listed until the date and delisted from it, the new code is listed from it. EODHD's
`/symbol-change-history` reports the change (US only, from 2022-07-22: the contract,
"More facts").

A rename onto a code a delisted company still holds reuses the code: like EODHD, the
delisted holder is renamed `ABC_old` (`ABC_old1`, ... if taken), its history unchanged
under that code (the contract, "Data quirks").

Renames are start-up facts of the universe (`SimulatorConfig.renames`), not run-time
knobs: they change symbol lists, which every cached answer and expectation depends on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eodhd_simulator.calendar import TradingCalendar
    from eodhd_simulator.paths import SymbolPath
    from eodhd_simulator.symbols import SymbolInfo

#: First effective date `/symbol-change-history` reports (the contract: "data since
#: 2022-07-22").
CHANGE_HISTORY_SINCE = date(2022, 7, 22)
#: The exchanges `/symbol-change-history` covers (the contract: "US only").
CHANGE_HISTORY_EXCHANGES = frozenset({"US"})


@dataclass(frozen=True)
class Rename:
    """`old` trades as `new` from `date` (its first day under the new code) on
    `exchange`; `name` is the company's new name (default: unchanged)."""

    exchange: str
    old: str
    new: str
    date: date
    name: str | None = None

    def __post_init__(self) -> None:
        if self.old == self.new:
            raise ValueError(f"a rename needs two different codes: {self.old!r}")


def parse_renames(items: Any) -> tuple[Rename, ...]:
    """Renames from instances or JSON objects (`date` as ISO text)."""
    out = []
    for item in items or ():
        if isinstance(item, Rename):
            out.append(item)
            continue
        if not isinstance(item, dict):
            raise TypeError(f"Rename: expected an object, got {item!r}")
        unknown = set(item) - {f.name for f in dataclasses.fields(Rename)}
        if unknown:
            raise ValueError(f"Rename: unknown keys {sorted(unknown)}")
        values = dict(item)
        if isinstance(values.get("date"), str):
            values["date"] = date.fromisoformat(values["date"])
        out.append(Rename(**values))
    return tuple(out)


@dataclass(frozen=True)
class Segment:
    """The part of a company's path one code serves: `root` is the company's symbol as
    generated (its seeds and whole life), rows from `first` (inclusive) to `until`
    (exclusive); None means unbounded."""

    root: SymbolInfo
    first: date | None = None
    until: date | None = None


@dataclass
class RenamedList:
    """An exchange's symbols after its renames, and the segment each code serves."""

    symbols: list[SymbolInfo]
    segments: dict[str, Segment]
    #: (delisted code, the `_old` code it became) for every reused code.
    reused: list[tuple[str, str]]


def _old_code(code: str, taken: set[str]) -> str:
    candidate, n = f"{code}_old", 0
    while candidate in taken:
        n += 1
        candidate = f"{code}_old{n}"
    return candidate


def apply_renames(symbols: list[SymbolInfo], renames: list[Rename], cal: TradingCalendar,
                  history_start: date) -> RenamedList:
    """`symbols` with `renames` (one exchange's, any order) applied; ValueError for a
    rename the market cannot have (unknown or inactive old code, a new code an active
    company holds, a date outside the old code's life)."""
    current = {s.code: s for s in symbols}
    order = [s.code for s in symbols]
    segments: dict[str, Segment] = {}
    reused: list[tuple[str, str]] = []
    for r in sorted(renames, key=lambda r: r.date):
        where = f"rename {r.old} -> {r.new} on {r.date} ({r.exchange})"
        old = current.get(r.old)
        if old is None:
            raise ValueError(f"{where}: no ticker {r.old}")
        if r.date <= max(old.listed_on, history_start) or not old.is_active(r.date):
            raise ValueError(f"{where}: {r.old} is not trading then")
        if not cal.between(r.date, r.date + timedelta(days=10)):
            raise ValueError(f"{where}: no trading day from then")
        holder = current.get(r.new)
        if holder is not None:
            if holder.delisted_on is None or holder.delisted_on > r.date:
                raise ValueError(f"{where}: {r.new} is held by a listed company")
            # A reused code: the delisted holder becomes ABC_old, history unchanged.
            moved = _old_code(r.new, set(current))
            current[moved] = dataclasses.replace(holder, code=moved)
            segments[moved] = segments.get(r.new, Segment(holder))
            order[order.index(r.new)] = moved
            reused.append((r.new, moved))
            del current[r.new]
        seg = segments.get(r.old, Segment(old))
        segments[r.old] = dataclasses.replace(seg, until=r.date)
        segments[r.new] = Segment(seg.root, first=r.date, until=seg.until)
        current[r.new] = dataclasses.replace(old, code=r.new, name=r.name or old.name,
                                             listed_on=r.date)
        current[r.old] = dataclasses.replace(old, delisted_on=r.date)
        order.append(r.new)
    # A root keeps its own whole life, whatever its codes' listings say.
    return RenamedList([current[c] for c in order], segments, reused)


def segment_path(root_path: SymbolPath, code: str, seg: Segment) -> SymbolPath:
    """The rows and actions of `root_path` that `code` serves."""
    from eodhd_simulator.paths import SymbolPath

    def inside(day: date) -> bool:
        return (seg.first is None or day >= seg.first) and (seg.until is None
                                                            or day < seg.until)

    frame = root_path.frame
    if seg.first is not None:
        frame = frame.filter(frame["date"] >= seg.first)
    if seg.until is not None:
        frame = frame.filter(frame["date"] < seg.until)
    return SymbolPath(
        exchange=root_path.exchange,
        code=code,
        horizon=root_path.horizon,
        frame=frame,
        splits=[s for s in root_path.splits if inside(s.date)],
        dividends=[d for d in root_path.dividends if inside(d.date)],
        events=root_path.events,
    )


__all__ = [
    "CHANGE_HISTORY_EXCHANGES",
    "CHANGE_HISTORY_SINCE",
    "Rename",
    "RenamedList",
    "Segment",
    "apply_renames",
    "parse_renames",
    "segment_path",
]
