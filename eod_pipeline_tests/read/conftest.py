"""A pipeline over the simulator for the reader's tests, on a hypertable (TimescaleDB
mode, the suite's template) or a plain-table warehouse."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import dagster as dg
import psycopg
import pytest

from eod_pipeline.warehouse.migrations import StorageMode, ensure_schema
from eod_pipeline_tests.defs.harness import Harness, make_pipeline
from eod_pipeline_tests.fixtures.postgres import create_database, drop_database
from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN
from eodhd_simulator import SimulatorConfig, SimulatorServer

HarnessFactory = Callable[..., Harness]


@pytest.fixture
def plain_warehouse_url(pg_server_url: str) -> Iterator[str]:
    """A fresh warehouse created with plain tables (no hypertables)."""
    url = create_database(pg_server_url)
    with psycopg.connect(url) as conn:
        assert ensure_schema(conn, use_timescaledb=False) is StorageMode.POSTGRES
    try:
        yield url
    finally:
        drop_database(pg_server_url, url)


@pytest.fixture
def make_harness(monkeypatch) -> Iterator[HarnessFactory]:
    """`make_harness(url, spec, now, **simulator_fields)`: the simulator over loopback and
    a Dagster instance writing into the warehouse at `url`."""
    monkeypatch.setenv("EODHD_API_TOKEN", SIM_TOKEN)
    sims: list[SimulatorServer] = []
    with dg.instance_for_test() as instance:

        def make(url: str, spec: str = "US:2026-06-01", now: dt.datetime = SIM_NOW,
                 **sim_fields) -> Harness:
            sim_fields.setdefault("per_minute_limit", 100_000)
            sim = SimulatorServer(SimulatorConfig(now=now, **sim_fields)).start()
            sims.append(sim)
            return Harness(sim, url, instance, make_pipeline(spec, now.date()), now)

        yield make
    for sim in sims:
        sim.stop()
