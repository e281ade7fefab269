import datetime as dt

import dagster as dg
import pytest

from eod_pipeline_tests.defs.harness import Harness, make_pipeline
from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN
from eodhd_simulator import SimulatorConfig, SimulatorServer


@pytest.fixture
def harness_factory(warehouse_url, monkeypatch):
    monkeypatch.setenv("EODHD_API_TOKEN", SIM_TOKEN)
    sims: list[SimulatorServer] = []
    with dg.instance_for_test() as instance:

        def make(spec: str = "US:2025-01-02", now: dt.datetime = SIM_NOW,
                 pipeline: dict | None = None, eodhd: dict | None = None, **sim_fields):
            # The client paces itself to the server's advertised limit; the real one
            # (1,000/min) would make these tests wait on pacing, not on the code tested.
            sim_fields.setdefault("per_minute_limit", 100_000)
            sim = SimulatorServer(SimulatorConfig(now=now, **sim_fields)).start()
            sims.append(sim)
            return Harness(sim, warehouse_url, instance,
                           make_pipeline(spec, now.date(), **(pipeline or {})), now, eodhd)

        yield make
    for sim in sims:
        sim.stop()


@pytest.fixture
def harness(harness_factory) -> Harness:
    return harness_factory()
