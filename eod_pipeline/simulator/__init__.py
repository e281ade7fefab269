"""A local EODHD API simulator: the endpoints, costs, limits, errors and data quirks of
/work/shared/eodhd-api.md, served from a deterministic universe, so the client, the
pipeline and the offline demo can run with no network and tests can predict every answer.

Typical use (tests have the `simulator` / `simulator_factory` fixtures)::

    config = SimulatorConfig(now=datetime(2026, 11, 20, 23, tzinfo=UTC))
    with SimulatorServer(config) as sim:
        ...  # point a client at sim.base_url with sim.token
        expected = sim.universe.history("US", "BRK-B", as_of=config.now)
"""

from eod_pipeline.simulator.app import SimulatorState, make_app
from eod_pipeline.simulator.calendar import ExchangeInfo, TradingCalendar
from eod_pipeline.simulator.config import DEFAULT_TOKEN, RUNTIME_FIELDS, SimulatorConfig
from eod_pipeline.simulator.server import (
    RunningSimulator,
    SimulatorServer,
    control,
    running_simulator,
    serve,
)
from eod_pipeline.simulator.universe import Dividend, Split, SymbolInfo, Universe

__all__ = [
    "DEFAULT_TOKEN",
    "RUNTIME_FIELDS",
    "Dividend",
    "ExchangeInfo",
    "RunningSimulator",
    "SimulatorConfig",
    "SimulatorServer",
    "SimulatorState",
    "Split",
    "SymbolInfo",
    "TradingCalendar",
    "Universe",
    "control",
    "make_app",
    "running_simulator",
    "serve",
]
