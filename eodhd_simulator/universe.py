"""The simulated market for one config: its exchanges, symbols and price paths, all from
one seed, and the market events a test injects.

This module only ties the parts together and keeps the per-universe state; each part has
its own module: `calendar.py` (exchanges and trading days), `symbols.py` (symbol lists),
`actions.py` (splits and dividends), `walk.py` (generating paths), `paths.py` (a path
and its adjusted closes), `cache.py` (paths shared across universes), `answers.py` (the
clean answers tests compare against) and `events.py` (injected events).

Market events a test injects (halts, splits, dividends, late corrections) are applied per
ticker: halts and injected actions when the path is generated (they key its cache),
corrections as a copy of the generated path with the bars revised by the corrections
published so far. Tickers without events are served exactly as before.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from eodhd_simulator import render
from eodhd_simulator.answers import Answers
from eodhd_simulator.cache import shared_path
from eodhd_simulator.calendar import (
    DETAILS_WINDOW,
    EXCHANGES,
    SimulatedExchange,
    TradingCalendar,
)
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.events import Correction, check_path_events
from eodhd_simulator.paths import PathEvent, SymbolPath
from eodhd_simulator.paths import corrected as corrected_path
from eodhd_simulator.renames import Rename, Segment, apply_renames, segment_path
from eodhd_simulator.symbols import SymbolInfo, make_symbols
from eodhd_simulator.walk import generate_path

#: Calendars cover up to this year at least, and at least a year past both the real
#: clock's year and the configured simulator clock's year, so a clock walk near the end of
#: a year still finds the next year's trading days.
MIN_LAST_YEAR = 2030
#: Years of calendar kept past the newest clock in view (see MIN_LAST_YEAR).
CALENDAR_YEARS_AHEAD = 1


class Universe(Answers):
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
        #: Codes serving part of another symbol's path (renames, reused codes).
        self._segments: dict[tuple[str, str], Segment] = {}
        #: (exchange, delisted code, the `_old` code it became) per reused code.
        self.reused_codes: list[tuple[str, str, str]] = []
        unknown = {r.exchange for r in self.config.renames} - set(self._calendars)
        if unknown:
            raise ValueError(f"renames on unknown exchanges: {sorted(unknown)}")
        for info in EXCHANGES:
            syms = make_symbols(
                self.seed, self.history_start, info.code, self.symbol_count(info.code)
            )
            renames = [r for r in self.config.renames if r.exchange == info.code]
            if renames:
                done = apply_renames(syms, renames, self._calendars[info.code],
                                     self.history_start)
                syms = done.symbols
                self._segments.update({(info.code, c): g for c, g in done.segments.items()})
                self.reused_codes += [(info.code, a, b) for a, b in done.reused]
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
        roots: dict[tuple[str, str], SymbolInfo] = {}
        for event in (*config.halts, *config.injected_splits, *config.injected_dividends):
            self._check_ticker(event.exchange, event.code)
            # Keyed by the company's path: all codes of a renamed company share it.
            root = self._root(event.exchange, event.code)
            roots[(event.exchange, root.code)] = root
            path_events.setdefault((event.exchange, root.code), []).append(event)
        for (exchange, code), events in path_events.items():
            check_path_events(events, roots[(exchange, code)], self.calendar(exchange),
                              self.history_start)
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

    def _root(self, exchange: str, code: str) -> SymbolInfo:
        """The symbol whose generated path `code` serves (itself unless renamed)."""
        seg = self._segments.get((exchange, code))
        if seg is not None:
            return seg.root
        sym = self.symbol(exchange, code)
        if sym is None:
            raise KeyError(f"unknown ticker {code}.{exchange}")
        return sym

    def renames(self, exchange: str | None = None) -> list[Rename]:
        """The ticker changes of the market (of `exchange`), by effective date."""
        return sorted((r for r in self.config.renames
                       if exchange is None or r.exchange == exchange), key=lambda r: r.date)

    def _check_ticker(self, exchange: str, code: str) -> None:
        if not self.has_exchange(exchange):
            raise ValueError(f"unknown exchange {exchange!r}")
        if self.symbol(exchange, code) is None:
            raise ValueError(f"unknown ticker {code}.{exchange}")

    # ----- exchanges and calendars -------------------------------------------------------

    def exchanges(self) -> list[SimulatedExchange]:
        """All simulated exchanges, in `/exchanges-list/` order."""
        return [cal.info for cal in self._calendars.values()]

    def exchange_info(self, code: str) -> SimulatedExchange:
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
            corrected = base.variants[visible] = corrected_path(base, visible)
        return corrected

    def _generated(self, exchange: str, code: str, through: date) -> SymbolPath:
        key = (exchange, code)
        sym = self._root(exchange, code)
        events = self._path_events.get((exchange, sym.code), ())
        cached = self._paths.get(key)
        if cached is not None and cached.horizon >= through and cached.events == events:
            return cached
        horizon = date(through.year, 12, 31)
        path = shared_path(
            (self.seed, self.history_start, sym, horizon, events),
            lambda: generate_path(
                self.seed, self.history_start, sym, self.calendar(exchange), horizon, events
            ),
        )
        seg = self._segments.get(key)
        if seg is not None:
            path = segment_path(path, code, seg)
        self._paths[key] = path
        return path

    def prewarm(self, now: datetime) -> int:
        """Generate every path and render its JSON history as of `now`; returns how many
        paths. Makes first requests as cheap as later ones (see SimulatorConfig.prewarm)."""
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
