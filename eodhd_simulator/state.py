"""The mutable state of one running simulator: config, clock, accounting, fault draws."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from eodhd_simulator.accounting import Ledger
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.events import EVENT_FIELDS
from eodhd_simulator.faults import FaultInjector
from eodhd_simulator.universe import Universe


class SimulatorState:
    """Mutable state of one running simulator: config, clock, accounting, faults."""

    def __init__(self, config: SimulatorConfig, universe: Universe | None = None) -> None:
        self.config = config
        self.universe = universe or Universe(config)
        self.ledger = Ledger()
        self.faults = FaultInjector(config.seed)
        self._auth_turn = 0

    # -- clock and knobs ------------------------------------------------------------------

    def now(self) -> datetime:
        """The simulator clock (frozen if set, else real UTC time)."""
        return self.config.now or datetime.now(UTC)

    def set_clock(self, now: datetime | None) -> None:
        """Freeze the clock at `now` (naive = UTC) or return to real time (None).

        Cheap by design, so a test can walk day by day: nothing is recomputed here, and
        answers depend on the clock only through the newest available day, which keys
        the paths' caches (see `Universe.path`). Refuses a clock past the calendars'
        last year (ValueError), which would otherwise serve a market with no days.
        """
        if now is not None and now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        if now is not None and now.year > self.universe.last_year:
            raise ValueError(
                f"clock {now.isoformat()} is past the simulated calendars "
                f"(through {self.universe.last_year}); start the simulator with that clock"
            )
        self.config = dataclasses.replace(self.config, now=now)

    def configure(self, **changes: Any) -> None:
        """Change run-time knobs; market events (corrections, halts, injected actions)
        reach the universe too, so `universe.history(..., as_of=)` matches the answers.
        A refused change (ValueError) leaves config and market as they were."""
        config = self.config.replace(**changes)
        if any(name in changes for name in EVENT_FIELDS):
            self.universe.apply_events(config)
        self.config = config

    def reset(self) -> None:
        """Forget usage, windows, counters and fault draws (not the clock or knobs)."""
        self.ledger = Ledger()
        self.faults = FaultInjector(self.config.seed)
        self._auth_turn = 0

    def stats(self) -> dict[str, Any]:
        led = self.ledger
        return {
            "requests": dict(led.requests),
            "served": dict(led.served),
            "statuses": {str(k): v for k, v in led.statuses.items()},
            "credits": led.credits_by_token(),
            "rate_limited": led.rate_limited,
            "quota_exhausted": led.quota_exhausted,
            "unauthenticated": led.unauthenticated,
            "faults": dict(self.faults.counts),
            "clock": self.now().isoformat(),
            "clock_frozen": self.config.now is not None,
        }

    def unauthenticated_status(self) -> int:
        statuses = self.config.unauthenticated_statuses or (401,)
        status = statuses[self._auth_turn % len(statuses)]
        self._auth_turn += 1
        return status

    # -- helpers for endpoints ---------------------------------------------------------------

    def local_today(self, exchange: str, now: datetime) -> date:
        return now.astimezone(self.universe.exchange_info(exchange).tz).date()


#: Where the application keeps its `SimulatorState`.
STATE_KEY: web.AppKey[SimulatorState] = web.AppKey("simulator_state")
