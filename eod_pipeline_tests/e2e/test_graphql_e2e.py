"""The pipeline the way the UI drives it: dagster-webserver + dagster-daemon, GraphQL only.

Everything is real and separate, as in a deployment: the webserver and the daemon are
subprocesses with their own code servers, runs go through the QueuedRunCoordinator and
the `eodhd` pool, run workers are processes launched by the daemon, and the test talks to
Dagster only over HTTP (`/graphql`), with the same mutations the UI sends. The EODHD API
is the simulator (clock frozen at SIM_NOW, a small universe), the warehouse a fresh
database. What it proves beyond the in-process tests: the code location loads from the
environment alone, partitions and ranges launched from the UI land where they should, a
range backfill becomes ONE run (single-run backfill policy), the warehouse ends up equal
to the source, and the token appears nowhere in Dagster's storage or logs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import dagster as dg
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline_tests.e2e.deployment import (
    EXCHANGE,
    TERMINAL_RUN,
    Deployment,
    expected_prices,
)
from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN
from eodhd_simulator import SimulatorServer

# Takes about 70-95 s, mostly the backfill daemon's fixed 30 s loop (it looks once to
# launch the run and once more to close the backfill): marked so it can be deselected
# with `-m "not e2e"`, but it runs in the default `pytest`.
pytestmark = pytest.mark.e2e

RANGE = (dt.date(2026, 11, 2), dt.date(2026, 11, 20))
TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED",
                     "CANCELED"}

LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) { __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on PartitionKeysNotFoundError { message }
    ... on InvalidSubsetError { message } } }"""

BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename
  ... on PartitionBackfill { status numPartitions
    runs { runId status tags { key value } } }
  ... on PythonError { message } } }"""


def test_materialize_and_backfill_through_graphql(deployment: Deployment,
                                                  sim: SimulatorServer, warehouse_url: str):
    # (a) One partition of a statically partitioned asset, as "Materialize" does.
    symbols_run = deployment.materialize(["symbol_lists"], EXCHANGE)
    deployment.wait_run(symbols_run)
    with psycopg.connect(warehouse_url) as conn:
        stored_symbols = conn.execute(
            "SELECT count(*) FROM eod.symbols WHERE exchange = %s", (EXCHANGE,)).fetchone()[0]
    assert stored_symbols == len(sim.universe.symbols(EXCHANGE, as_of=SIM_NOW.date()))

    # (b) One daily partition of the price asset.
    day_run = deployment.materialize(["eod_prices", EXCHANGE], RANGE[1].isoformat())
    deployment.wait_run(day_run)

    # (c) A range backfill, as "Launch backfill" with a date range does.
    launched = deployment.graphql(LAUNCH_BACKFILL, {"params": {
        "partitionsByAssets": [{
            "assetKey": {"path": ["eod_prices", EXCHANGE]},
            "partitions": {"ranges": [{"start": RANGE[0].isoformat(),
                                       "end": RANGE[1].isoformat()}]},
        }],
    }})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def backfill_done() -> dict[str, Any] | None:
        b = deployment.graphql(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert b["__typename"] == "PartitionBackfill", b
        done = b["status"] in TERMINAL_BACKFILL and all(
            r["status"] in TERMINAL_RUN for r in b["runs"])
        return b if done else None

    # The backfill daemon looks every 30 s: once to launch the run, once to close it.
    backfill = deployment.wait("the backfill", backfill_done, 150, interval_s=1)
    assert backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), backfill
    assert backfill["numPartitions"] == 15  # weekdays of the range: the partitions
    assert len(backfill["runs"]) == 1, backfill  # single-run backfill policy: ONE run
    (range_run,) = backfill["runs"]
    assert range_run["status"] == "SUCCESS", deployment.logs()
    tags = {t["key"]: t["value"] for t in range_run["tags"]}
    assert tags["dagster/asset_partition_range_start"] == RANGE[0].isoformat()
    assert tags["dagster/asset_partition_range_end"] == RANGE[1].isoformat()

    # The warehouse holds exactly what the source says for the range, nothing else.
    with psycopg.connect(warehouse_url) as conn:
        stored = read_slice(conn, PRICES, TableSlice(PRICES, {"exchange": [EXCHANGE]}))
    expected = expected_prices(sim, *RANGE)
    assert expected.height > 0
    assert_frame_equal(stored, expected)
    assert sum(sim.stats()["credits"].get(SIM_TOKEN, {}).values()) > 0  # the token was used

    # The token is nowhere in Dagster's records: event logs, captured logs, any file.
    run_ids = [symbols_run, day_run, range_run["runId"]]
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        for run_id in run_ids:
            entries = instance.all_logs(run_id)
            assert entries, run_id
            assert not [e for e in entries if SIM_TOKEN in repr(e)], run_id
    captured = [p for p in (deployment.home / "storage").rglob("*")
                if p.is_file() and p.suffix in (".out", ".err")]
    assert any(range_run["runId"] in str(p) for p in captured), captured
    leaks = [p for p in deployment.home.rglob("*")
             if p.is_file() and SIM_TOKEN.encode() in p.read_bytes()]
    assert not leaks
    for process in deployment.processes:
        assert SIM_TOKEN not in process.log_path.read_text(), process.name
