"""A real Dagster deployment for the end-to-end tests: dagster-webserver + dagster-daemon.

Plain helpers, no fixtures (those are in `conftest.py`): `Deployment` starts the
webserver and the daemon as subprocesses on one DAGSTER_HOME and talks to them over HTTP
(`/graphql`), like the UI. `run_deployment` brings one up against a warehouse database and
an EODHD simulator, with the `daily_refresh` sensor switched off so the daemon only runs
what a test launches. The GraphQL tests and the browser tests share it.
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
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dagster as dg
import polars as pl
import yaml
from dagster_graphql import DagsterGraphQLClient

from eod_pipeline.commands.dagster_storage import dagster_env
from eod_pipeline.commands.demo import dagster_yaml_text
from eod_pipeline.warehouse.databases import ensure_database
from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN
from eodhd_simulator import SimulatorServer

EXCHANGE = "US"
#: Symbols per exchange of the e2e simulator: small, so runs are quick.
SYMBOLS = 8
ASSET_JOB = "__ASSET_JOB"
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
#: Settings the subprocesses must not inherit from the developer's shell.
_SETTINGS = ("EOD_CONFIG", "EOD_EXCHANGES", "EOD_START_DATE", "EOD_MAX_FAILED_SHARE",
             "EOD_REFRESH_DELAY_MINUTES", "EOD_DATABASE_URL", "EODHD_API_TOKEN",
             "EODHD_BASE_URL", "EODHD_REQUESTS_PER_MINUTE", "DAGSTER_HOME")

WORKSPACE = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename
    ... on RepositoryLocation { repositories { name } }
    ... on PythonError { message } } } } } }"""

SENSOR_STATE = """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { id status } } ... on PythonError { message } } }"""

STOP_SENSOR = """mutation($id: String!) { stopSensor(id: $id) { __typename
  ... on StopSensorMutationResult { instigationState { status } }
  ... on PythonError { message } } }"""


def free_port() -> int:
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
    #: How the webserver and the daemon load the code location (their `-m`/`-f` args).
    code_args: list[str] = field(default_factory=lambda: ["-m", "eod_pipeline.defs"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient("127.0.0.1", port_number=self.port)

    @property
    def where(self) -> dict[str, str]:
        """The code location, as DagsterGraphQLClient's keyword arguments."""
        return {"repository_location_name": self.location,
                "repository_name": self.repository}

    def start(self, name: str, argv: list[str]) -> Process:
        log_path = self.logs_dir / f"{name}.log"
        log = log_path.open("w")
        proc = subprocess.Popen(argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        process = Process(name, proc, log_path, log)
        self.processes.append(process)
        return process

    def start_daemon(self, name: str = "daemon") -> Process:
        """Start a dagster-daemon on this deployment's home and code location."""
        return self.start(name, [_bin("dagster-daemon"), "run", *self.code_args])

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

    def stop_sensor(self, name: str) -> None:
        """Switch a sensor off, as the UI's toggle does."""
        state = self.graphql(SENSOR_STATE, {"selector": {
            "repositoryLocationName": self.location,
            "repositoryName": self.repository, "sensorName": name}})
        sensor_id = state["sensorOrError"]["sensorState"]["id"]
        stopped = self.graphql(STOP_SENSOR, {"id": sensor_id})["stopSensor"]
        assert stopped["instigationState"]["status"] == "STOPPED", stopped

    def materialize(self, asset_key: list[str], partition: str,
                    run_config: dict[str, Any] | None = None) -> str:
        """Launch one partition of one asset, as "Materialize" does; the run id."""
        return self.client.submit_job_execution(
            ASSET_JOB, **self.where, asset_selection=[dg.AssetKey(asset_key)],
            tags={"dagster/partition": partition}, run_config=run_config)

    def launch_range(self, asset_key: list[str], start: str, end: str,
                     run_config: dict[str, Any] | None = None) -> str:
        """Launch one run over a partition range; the run id.

        It is the run a range backfill of a single-run asset launches (the backfill
        daemon tags it with the range the same way), without the backfill daemon's 30 s
        loop in between.
        """
        return self.client.submit_job_execution(
            ASSET_JOB, **self.where, asset_selection=[dg.AssetKey(asset_key)],
            tags={"dagster/asset_partition_range_start": start,
                  "dagster/asset_partition_range_end": end},
            run_config=run_config)

    def wait_run(self, run_id: str, timeout_s: float = 90) -> str:
        """Wait for a run to end; it must succeed."""
        client = self.client
        status = self.wait(
            f"run {run_id}",
            lambda: (s := client.get_run_status(run_id).value) in TERMINAL_RUN and s,
            timeout_s)
        assert status == "SUCCESS", f"run {run_id} ended {status}\n{self.logs()}"
        return status


def _server_info(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _location_loaded(deployment: Deployment) -> tuple[str, str] | None:
    data = deployment.graphql(WORKSPACE)["workspaceOrError"]
    for entry in data.get("locationEntries", []):
        if entry["loadStatus"] != "LOADED":
            return None
        loaded = entry["locationOrLoadError"]
        assert loaded["__typename"] == "RepositoryLocation", loaded
        return entry["name"], loaded["repositories"][0]["name"]
    return None


def instance_yaml() -> str:
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


@contextlib.contextmanager
def run_deployment(tmp_path: Path, warehouse_url: str, sim: SimulatorServer,
                   code_args: list[str] | None = None) -> Iterator[Deployment]:
    """Webserver + daemon on a fresh DAGSTER_HOME under `tmp_path`, for exchange US.

    The environment alone configures the code location (warehouse, simulator URL and
    token). `code_args` loads another code location than `-m eod_pipeline.defs` (e.g.
    `["-f", path]`). Stops every process (and their children) on exit.
    """
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml())
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
    # The packaged template keeps Dagster's storage in PostgreSQL (DAGSTER_PG_*): a
    # database of this deployment's own beside the test warehouse.
    dagster_db = ensure_database(warehouse_url, f"dagster_{uuid.uuid4().hex[:10]}")
    storage_env = dagster_env(dagster_db, {})
    env.update(storage_env)
    deployment = Deployment(free_port(), home, env, logs_dir)
    if code_args is not None:
        deployment.code_args = code_args
    # The test itself opens the instance (DagsterInstance.from_config) to read runs and
    # events: it needs the same storage variables for as long as the deployment runs.
    saved = {name: os.environ.get(name) for name in storage_env}
    os.environ.update(storage_env)
    try:
        deployment.start("webserver", [_bin("dagster-webserver"), *deployment.code_args,
                                       "-h", "127.0.0.1", "-p", str(deployment.port)])
        deployment.wait("/server_info", lambda: _server_info(deployment.url), 90)
        deployment.location, deployment.repository = deployment.wait(
            "the code location", lambda: _location_loaded(deployment), 90)
        # The daily_refresh sensor is RUNNING by default and would request the newest
        # day by the real clock; switch it off first, as a user would in the UI, so the
        # daemon only runs what this test launches.
        deployment.stop_sensor("daily_refresh")
        deployment.start_daemon()
        yield deployment
    finally:
        for process in reversed(deployment.processes):
            process.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def expected_prices(sim: SimulatorServer, start: dt.date, end: dt.date) -> pl.DataFrame:
    """What the source says for the range, as harness.expected computes it."""
    frames = [
        sim.universe.history(EXCHANGE, s.code, start, end, as_of=SIM_NOW).select(
            pl.lit(EXCHANGE).alias("exchange"), pl.lit(s.code).alias("symbol"), pl.all())
        for s in sim.universe.symbols(EXCHANGE)
    ]
    return pl.concat(frames).sort("exchange", "symbol", "date")
