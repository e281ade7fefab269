"""The Dagster UI, clicked through in headless Chromium, against a real deployment.

Same deployment as the GraphQL test (webserver + daemon, simulator, fresh warehouse; see
`conftest.py`), but the price run is launched the way a user does it: the asset page's
"Materialize…" button, one partition typed into the partition dialog, "Launch 1 run".
The daemon's queued run coordinator picks the run up; the warehouse must then hold the
source's rows for that day. A screenshot of the asset's partitions view is kept as a test
artifact (EOD_TEST_ARTIFACTS, default `<repo>/test-artifacts/`).

The selectors are those of the Dagster 1.13 UI (accessible names include the icon's
label, e.g. "materialization Materialize…", hence substring matches).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline_tests.e2e.browser import screenshot, screenshot_on_failure
from eod_pipeline_tests.e2e.deployment import EXCHANGE, Deployment, expected_prices
from eod_pipeline_tests.fixtures.simulator import SIM_TOKEN
from eodhd_simulator import SimulatorServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

DAY = dt.date(2026, 11, 20)  # SIM_NOW's day: published by the simulator
ASSET_PATH = f"/assets/eod_prices/{EXCHANGE}"
SCREENSHOT = f"eod_prices_{EXCHANGE}_partitions"

RUN = """query($id: ID!) { runOrError(runId: $id) { __typename
  ... on Run { status tags { key value } assetSelection { path } }
  ... on PythonError { message } } }"""


def test_materialize_one_partition_from_the_ui(browser_page: Any, deployment: Deployment,
                                               sim: SimulatorServer, warehouse_url: str):
    with screenshot_on_failure(browser_page, "test_materialize_one_partition_from_the_ui"):
        _materialize_one_partition(deployment, sim, warehouse_url, browser_page)


def _materialize_one_partition(deployment: Deployment, sim: SimulatorServer,
                               warehouse_url: str, page: Any) -> None:
    # Setup, not under test: the symbol list and calendar the price asset reads (its
    # declared dependencies: without them the UI first asks "Are you sure?").
    for reference in ("symbol_lists", "exchange_calendars"):
        deployment.wait_run(deployment.materialize([reference], EXCHANGE))

    # The asset page's own "Materialize…" opens the partition dialog.
    page.goto(deployment.url + ASSET_PATH)
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    partitions = dialog.get_by_role("textbox")
    partitions.wait_for()
    # The dialog shows the last 90 days by the real clock; widen it to every partition
    # so the frozen simulator day stays selectable whenever the test runs.
    show_all = dialog.get_by_role("button", name="Show all partitions")
    if show_all.count():
        show_all.click()
    partitions.fill(DAY.isoformat())
    partitions.press("Enter")
    dialog.get_by_text("1 partition", exact=True).wait_for()
    dialog.get_by_role("button", name="Launch 1 run", exact=True).click()

    # The toast links the launched run: /runs/<run id>.
    view = page.get_by_role("region", name="Notifications").get_by_role("link", name="View")
    href = view.get_attribute("href")
    assert href and href.startswith("/runs/"), href
    run_id = href.removeprefix("/runs/")

    # The queued run coordinator (the daemon) dequeues it; it must succeed.
    deployment.wait_run(run_id, timeout_s=120)
    run = deployment.graphql(RUN, {"id": run_id})["runOrError"]
    assert run["__typename"] == "Run", run
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert tags.get("dagster/partition") == DAY.isoformat(), tags
    assert {"eod_prices", EXCHANGE} <= {p for a in run["assetSelection"] for p in a["path"]}

    # The warehouse holds exactly the source's rows for US on that day.
    with psycopg.connect(warehouse_url) as conn:
        stored = read_slice(conn, PRICES, TableSlice(PRICES, {"exchange": [EXCHANGE]}))
    expected = expected_prices(sim, DAY, DAY)
    assert expected.height == len(sim.universe.symbols(EXCHANGE))
    assert_frame_equal(stored, expected)

    # The run page shows the run, and not the token.
    page.goto(f"{deployment.url}/runs/{run_id}")
    page.get_by_text("RUN_SUCCESS").first.wait_for()
    assert SIM_TOKEN not in page.content()

    # The partitions view, kept as an artifact: the one materialized partition.
    page.goto(f"{deployment.url}{ASSET_PATH}?view=partitions")
    page.get_by_text("Materialized (1)").wait_for()
    # Select the partition in the list: the detail pane shows its materialization's run.
    page.get_by_text(DAY.isoformat(), exact=True).first.click()
    page.get_by_role("link", name=run_id[:8]).first.wait_for()
    assert screenshot(page, SCREENSHOT).exists()
