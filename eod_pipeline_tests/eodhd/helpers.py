"""Helpers for the EODHD client tests.

Integration tests talk to the real simulator over loopback (fixtures `simulator` and
`simulator_factory` from eod_pipeline_tests/fixtures/simulator.py). Settings here keep
retries fast: backoffs of milliseconds, short timeouts, a limiter far above what the
tests send unless a test is about pacing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Coroutine
from typing import Any, TypeVar

from eod_pipeline.eodhd import EodhdClient, EodhdSettings
from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN
from eodhd_simulator import SimulatorServer

T = TypeVar("T")

#: The fixtures' frozen simulator clock is Friday 2026-11-20 23:00 UTC: that day is
#: published on every exchange.
SIM_DAY: dt.date = SIM_NOW.date()

#: Fast retries for tests: the behaviour under test is "retried", not "waited long".
FAST: dict[str, Any] = {
    "requests_per_minute": 1_000_000,
    "backoff_base_s": 0.01,
    "backoff_cap_s": 0.05,
    "timeout_s": 5.0,
}


def settings_for(sim: SimulatorServer, **overrides: Any) -> EodhdSettings:
    """Settings pointing at `sim`, fast retries, with overrides."""
    fields = {**FAST, "token": sim.token, "base_url": sim.base_url, **overrides}
    return EodhdSettings(**fields)


def client_for(sim: SimulatorServer, **overrides: Any) -> EodhdClient:
    """A client for `sim` whose idea of "now" is the simulator's frozen clock."""
    return EodhdClient(settings_for(sim, **overrides), clock=lambda: sim.state.now())


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion (tests are sync; the simulator has its own thread)."""
    return asyncio.run(coro)


__all__ = ["SIM_DAY", "SIM_NOW", "SIM_TOKEN", "client_for", "run", "settings_for"]
