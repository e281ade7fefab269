"""A local EODHD API simulator: the endpoints, costs, limits, errors and data quirks of
/work/shared/eodhd-api.md, served from a deterministic universe, so the client, the
pipeline and the offline demo can run with no network and tests can predict every answer.

Typical use (tests have the `simulator` / `simulator_factory` fixtures)::

    config = SimulatorConfig(now=datetime(2026, 11, 20, 23, tzinfo=UTC))
    with SimulatorServer(config) as sim:
        ...  # point a client at sim.base_url with sim.token
        expected = sim.universe.history("US", "BRK-B", as_of=config.now)

Market events a test places exactly (see `events.py`), at start-up or while it runs::

    sim.configure(corrections=[Correction("US", "BRK-B", date(2026, 11, 19), "volume",
                                          factor=1.1)])   # published with 2026-11-20
    sim.configure(halts=[Halt("US", "BF-B", date(2026, 11, 2), date(2026, 11, 6))])
    sim.set_clock(universe.calendar("US").data_out_at(day) + timedelta(minutes=1))
"""

from eod_pipeline.markets.registry import ExchangeInfo
from eodhd_simulator.actions import Dividend, Split
from eodhd_simulator.app import make_app
from eodhd_simulator.calendar import SimulatedExchange, TradingCalendar
from eodhd_simulator.config import DEFAULT_TOKEN, RUNTIME_FIELDS, SimulatorConfig
from eodhd_simulator.events import Correction, Halt, InjectedDividend, InjectedSplit
from eodhd_simulator.server import (
    RunningSimulator,
    SimulatorServer,
    control,
    running_simulator,
    serve,
)
from eodhd_simulator.state import SimulatorState
from eodhd_simulator.symbols import SymbolInfo
from eodhd_simulator.universe import Universe

__all__ = [
    "DEFAULT_TOKEN",
    "RUNTIME_FIELDS",
    "Correction",
    "Dividend",
    "ExchangeInfo",
    "Halt",
    "InjectedDividend",
    "InjectedSplit",
    "RunningSimulator",
    "SimulatedExchange",
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
