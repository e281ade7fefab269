"""Fixtures of the end-to-end tests: the simulator and a running Dagster deployment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eod_pipeline_tests.e2e.browser import CHROMIUM, chromium_page
from eod_pipeline_tests.e2e.deployment import SYMBOLS, Deployment, run_deployment
from eod_pipeline_tests.fixtures.simulator import SIM_NOW
from eodhd_simulator import SimulatorConfig, SimulatorServer


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    """A small simulator (SYMBOLS per exchange), clock frozen at SIM_NOW."""
    with SimulatorServer(SimulatorConfig(now=SIM_NOW, symbols_per_exchange=SYMBOLS)) as server:
        yield server


@pytest.fixture
def deployment(tmp_path: Path, warehouse_url: str, sim: SimulatorServer
               ) -> Iterator[Deployment]:
    """dagster-webserver + dagster-daemon on the warehouse and the simulator, with the
    daily_refresh sensor stopped."""
    with run_deployment(tmp_path, warehouse_url, sim) as running:
        yield running


@pytest.fixture
def browser_page() -> Iterator[Any]:
    """A page of a headless system Chromium (never downloaded). Skips, before any server
    starts when requested first, if there is none."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found: `apt-get install chromium` (CI installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with chromium_page(sync_api) as page:
        yield page
