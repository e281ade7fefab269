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

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dagster as dg
import polars as pl
import psycopg
import pytest
import yaml
from dagster_graphql import DagsterGraphQLClient
from polars.testing import assert_frame_equal

from eod_pipeline.commands.demo import dagster_yaml_text
from eod_pipeline.simulator import SimulatorConfig, SimulatorServer
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN

# Takes about 70-95 s, mostly the backfill daemon's fixed 30 s loop (it looks once to
# launch the run and once more to close the backfill): marked so it can be deselected
# with `-m "not e2e"`, but it runs in the default `pytest`.
pytestmark = pytest.mark.e2e

EXCHANGE = "US"
SYMBOLS = 8
RANGE = (dt.date(2026, 11, 2), dt.date(2026, 11, 20))
ASSET_JOB = "__ASSET_JOB"
#: Launchpad run config for the price runs. The default (multiprocess) executor starts a
#: process per step, ~3 s each, and a price run has the asset plus its checks: in-process
#: saves ~15 s a run. Run (a) keeps the default executor, so both paths are exercised.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED",
                     "CANCELED"}
#: Settings the subprocesses must not inherit from the developer's shell.
_SETTINGS = ("EOD_CONFIG", "EOD_EXCHANGES", "EOD_START_DATE", "EOD_MAX_FAILED_SHARE",
             "EOD_REFRESH_DELAY_MINUTES", "EOD_DATABASE_URL", "EODHD_API_TOKEN",
             "EODHD_BASE_URL", "EODHD_REQUESTS_PER_MINUTE", "DAGSTER_HOME")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    """A console script of this venv (the test may run without the venv on PATH)."""
    path = Path(sys.executable).parent / name
    return str(path) if path.exists() else name


@dataclass
class Process:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    log: TextIO

    def stop(self) -> None:
        """SIGTERM to the whole session (code servers, run workers), then SIGKILL."""
        for sig, wait_s in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait_s)
                except subprocess.TimeoutExpired:
                    continue
        # Children that outlived their leader (same session, same process group).
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@dataclass
class Deployment:
    """A running webserver + daemon on one DAGSTER_HOME, and how to talk to them."""

    port: int
    home: Path
    env: dict[str, str]
    logs_dir: Path
    processes: list[Process] = field(default_factory=list)
    location: str = ""
    repository: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, name: str, argv: list[str]) -> Process:
        log_path = self.logs_dir / f"{name}.log"
        log = log_path.open("w")
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        process = Process(name, proc, log_path, log)
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} -----\n{p.log_path.read_text()[-6000:]}"
                         for p in self.processes)

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """POST /graphql like the UI; GraphQL-level errors fail the test with the logs."""
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        request = urllib.request.Request(f"{self.url}/graphql", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as resp:
            answer = json.loads(resp.read())
        assert not answer.get("errors"), answer["errors"]
        return answer["data"]

    def wait(self, what: str, probe: Any, timeout_s: float, interval_s: float = 0.5) -> Any:
        """Poll `probe()` until it returns something truthy; fail with the logs if not."""
        deadline = time.monotonic() + timeout_s
        while True:
            for p in self.processes:
                assert p.proc.poll() is None, f"{p.name} exited\n{self.logs()}"
            if result := probe():
                return result
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{self.logs()}"
            time.sleep(interval_s)


def _server_info(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


WORKSPACE = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename
    ... on RepositoryLocation { repositories { name } }
    ... on PythonError { message } } } } } }"""

SENSOR_STATE = """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { id status } } ... on PythonError { message } } }"""

STOP_SENSOR = """mutation($id: String!) { stopSensor(id: $id) { __typename
  ... on StopSensorMutationResult { instigationState { status } }
  ... on PythonError { message } } }"""

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


def _location_loaded(deployment: Deployment) -> tuple[str, str] | None:
    data = deployment.graphql(WORKSPACE)["workspaceOrError"]
    for entry in data.get("locationEntries", []):
        if entry["loadStatus"] != "LOADED":
            return None
        loaded = entry["locationOrLoadError"]
        assert loaded["__typename"] == "RepositoryLocation", loaded
        return entry["name"], loaded["repositories"][0]["name"]
    return None


def _instance_yaml() -> str:
    """The packaged one-machine instance config, with a faster queue for the test.

    The template (SQLite storage, QueuedRunCoordinator, `eodhd` pool of 1, run limits
    under `concurrency:`) is what the demo uses, so the test checks that file works with a
    real daemon; only the dequeue interval is shortened (5 s -> 1 s) to save test time.
    """
    config = yaml.safe_load(dagster_yaml_text())
    coordinator = config.setdefault("run_coordinator", {
        "module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator"})
    coordinator.setdefault("config", {})["dequeue_interval_seconds"] = 1
    return yaml.safe_dump(config)


@pytest.fixture
def sim() -> Iterator[SimulatorServer]:
    with SimulatorServer(SimulatorConfig(now=SIM_NOW, symbols_per_exchange=SYMBOLS)) as server:
        yield server


@pytest.fixture
def deployment(tmp_path: Path, warehouse_url: str, sim: SimulatorServer
               ) -> Iterator[Deployment]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(_instance_yaml())
    logs_dir = tmp_path / "logs"
    logs_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env.update(
        DAGSTER_HOME=str(home),
        EOD_HOME=str(tmp_path / "eod_home"),
        EOD_DATABASE_URL=warehouse_url,
        EODHD_BASE_URL=sim.base_url,
        EODHD_API_TOKEN=SIM_TOKEN,
        EOD_EXCHANGES=f"{EXCHANGE}:2026-06-01",
    )
    deployment = Deployment(_free_port(), home, env, logs_dir)
    try:
        deployment.start("webserver", [_bin("dagster-webserver"), "-m", "eod_pipeline.defs",
                                       "-h", "127.0.0.1", "-p", str(deployment.port)])
        deployment.wait("/server_info", lambda: _server_info(deployment.url), 90)
        deployment.location, deployment.repository = deployment.wait(
            "the code location", lambda: _location_loaded(deployment), 90)
        # The daily_refresh sensor is RUNNING by default and would request the newest
        # day by the real clock; switch it off first, as a user would in the UI, so the
        # daemon only runs what this test launches.
        state = deployment.graphql(SENSOR_STATE, {"selector": {
            "repositoryLocationName": deployment.location,
            "repositoryName": deployment.repository, "sensorName": "daily_refresh"}})
        sensor_id = state["sensorOrError"]["sensorState"]["id"]
        stopped = deployment.graphql(STOP_SENSOR, {"id": sensor_id})["stopSensor"]
        assert stopped["instigationState"]["status"] == "STOPPED", stopped
        deployment.start("daemon", [_bin("dagster-daemon"), "run", "-m", "eod_pipeline.defs"])
        yield deployment
    finally:
        for process in reversed(deployment.processes):
            process.stop()


def _wait_run(deployment: Deployment, client: DagsterGraphQLClient, run_id: str,
              timeout_s: float = 90) -> str:
    status = deployment.wait(
        f"run {run_id}",
        lambda: (s := client.get_run_status(run_id).value) in TERMINAL_RUN and s, timeout_s)
    assert status == "SUCCESS", f"run {run_id} ended {status}\n{deployment.logs()}"
    return status


def _expected(sim: SimulatorServer, start: dt.date, end: dt.date) -> pl.DataFrame:
    """What the source says for the range, as harness.expected computes it."""
    frames = [
        sim.universe.history(EXCHANGE, s.code, start, end, as_of=SIM_NOW).select(
            pl.lit(EXCHANGE).alias("exchange"), pl.lit(s.code).alias("symbol"), pl.all())
        for s in sim.universe.symbols(EXCHANGE)
    ]
    return pl.concat(frames).sort("exchange", "symbol", "date")


def test_materialize_and_backfill_through_graphql(deployment: Deployment,
                                                  sim: SimulatorServer, warehouse_url: str):
    client = DagsterGraphQLClient("127.0.0.1", port_number=deployment.port)
    where = {"repository_location_name": deployment.location,
             "repository_name": deployment.repository}

    # (a) One partition of a statically partitioned asset, as "Materialize" does.
    symbols_run = client.submit_job_execution(
        ASSET_JOB, **where, asset_selection=[dg.AssetKey("symbol_lists")],
        tags={"dagster/partition": EXCHANGE})
    _wait_run(deployment, client, symbols_run)
    with psycopg.connect(warehouse_url) as conn:
        stored_symbols = conn.execute(
            "SELECT count(*) FROM eod.symbols WHERE exchange = %s", (EXCHANGE,)).fetchone()[0]
    assert stored_symbols == len(sim.universe.symbols(EXCHANGE, as_of=SIM_NOW.date()))

    # (b) One daily partition of the price asset.
    day_run = client.submit_job_execution(
        ASSET_JOB, **where, asset_selection=[dg.AssetKey(["eod_prices", EXCHANGE])],
        tags={"dagster/partition": RANGE[1].isoformat()}, run_config=IN_PROCESS)
    _wait_run(deployment, client, day_run)

    # (c) A range backfill, as "Launch backfill" with a date range does.
    launched = deployment.graphql(LAUNCH_BACKFILL, {"params": {
        "partitionsByAssets": [{
            "assetKey": {"path": ["eod_prices", EXCHANGE]},
            "partitions": {"ranges": [{"start": RANGE[0].isoformat(),
                                       "end": RANGE[1].isoformat()}]},
        }],
        "runConfigData": IN_PROCESS,
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
    expected = _expected(sim, *RANGE)
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
