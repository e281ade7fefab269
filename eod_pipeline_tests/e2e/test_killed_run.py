"""A run killed with SIGKILL mid-step does not block the `eodhd` pool.

The scenario of an OOM kill or a lost node: a range backfill run holds the one `eodhd`
pool slot, its worker is killed with SIGKILL (no Python cleanup, no slot release, no
run-failure event from the worker itself), and the same range is launched again right
away. The relaunched run must get the slot and start its EODHD step within two minutes
with nobody's help, then converge: eod.prices equals what the source serves.

Two ways to die, two mechanisms (see dagster.yaml's `run_monitoring` comments):

- Only the run worker is killed (the OOM killer picks the biggest process). The code
  server that started it marks the run failed within 0.5 s, and the daemon's run
  monitoring frees the failed run's slot after `free_slots_after_run_end_seconds`, on its
  `poll_interval_seconds` loop. Dagster's own mechanism, as the instance config ships.
- The worker dies with its code server and daemon (node loss, container restart). Nobody
  is left to report the worker, so the run would stay STARTED and hold the slot for good;
  the `dead_run_reaper` sensor (eod_pipeline/defs/reaper.py) of the restarted deployment
  finds the STARTED run whose worker pid is gone, fails it and frees the slot.

Everything is real: dagster-webserver and dagster-daemon as subprocesses on the packaged
one-machine instance config (eod_pipeline/templates/dagster.local.yaml, run monitoring as
shipped: it is what the first test proves), the DefaultRunLauncher starting run workers
from the daemon's code server, the simulator over loopback and a real PostgreSQL
warehouse.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
import yaml
from dagster._core.events import DagsterEventType
from polars.testing import assert_frame_equal

from eod_pipeline.defs.reaper import Worker, process_alive, run_worker
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline_tests.e2e.deployment import (
    EXCHANGE,
    Deployment,
    Process,
    expected_prices,
    run_deployment,
)
from eodhd_simulator import SimulatorServer

#: Two weeks of weekdays, no US holiday inside: a range backfill of ten partitions.
RANGE = (dt.date(2026, 11, 2), dt.date(2026, 11, 13))
PRICE_ASSET = ["eod_prices", EXCHANGE]
POOL = "eodhd"
#: The requirement (issue 10): the next run needing the pool starts within 2 minutes of
#: the kill. A deadline polled for, not a timing assertion.
DEADLINE_S = 120.0
#: Simulator latency while the first run is alive: every API answer takes this long, so
#: the run is certainly mid-step (holding the slot, requests in flight) when it is killed,
#: about a second after its requests arrive. Short enough that the simulator's handlers
#: of the dead run's requests finish before the test ends. Set back to 0 right after the
#: kill, so the relaunch is not slowed.
STALL_LATENCY_S = 20.0

#: The code location of the second test: the pipeline's definitions with the reaper
#: sensor (as eod_pipeline/defs/definitions.py registers it, or added here if it does not).
REAPER_LOCATION = '''
import dagster as dg
import eod_pipeline.defs
from eod_pipeline.defs.reaper import dead_run_reaper

# One Definitions object at module scope (Dagster refuses two).
if "dead_run_reaper" in {s.name for s in eod_pipeline.defs.defs.sensors or []}:
    defs = eod_pipeline.defs.defs
else:
    defs = dg.Definitions.merge(eod_pipeline.defs.defs,
                                dg.Definitions(sensors=[dead_run_reaper]))
'''


def _claimed_by(instance: dg.DagsterInstance) -> set[str]:
    """Run ids holding a slot of the `eodhd` pool right now."""
    info = instance.event_log_storage.get_concurrency_info(POOL)
    return {slot.run_id for slot in info.claimed_slots}


def _step_start(instance: dg.DagsterInstance, run_id: str) -> dg.EventLogEntry | None:
    """The run's first STEP_START event: a pool step starts only once it holds the slot
    (dagster/_core/execution/plan/active.py claims it in `get_steps_to_execute`)."""
    starts = instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
    return starts[0] if starts else None


def _parent_pid(pid: int) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ")".
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descends_from(pid: int, ancestor: int) -> bool:
    while pid > 1:
        if pid == ancestor:
            return True
        pid = _parent_pid(pid)
    return False


def _run_status(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    assert run is not None, run_id
    return run.status.value


def _failure_message(instance: dg.DagsterInstance, run_id: str) -> str:
    failures = instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE)
    assert failures, f"run {run_id} has no RUN_FAILURE event"
    engine = instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)
    return "\n".join((e.dagster_event.message or "") for e in [*engine, *failures]
                     if e.dagster_event)


def _stall_a_range_run(deployment: Deployment, instance: dg.DagsterInstance,
                       sim: SimulatorServer) -> tuple[str, Worker, Process, float]:
    """Launch a range backfill run and return once its step holds the `eodhd` slot with
    requests in flight (stalled by the simulator's latency): the run, its worker, the
    daemon process whose code server started the worker, and when the stall began."""
    daemon = next(p for p in deployment.processes if p.name.startswith("daemon"))
    deployment.wait_run(deployment.materialize(["symbol_lists"], EXCHANGE))  # plans with it
    sim.configure(latency_s=STALL_LATENCY_S)
    requests_before = sum(sim.stats()["requests"].values())
    run_id = deployment.launch_range(PRICE_ASSET, RANGE[0].isoformat(), RANGE[1].isoformat())
    deployment.wait(
        "the first run to hold the eodhd slot with requests in flight",
        lambda: (run_id in _claimed_by(instance)
                 and sum(sim.stats()["requests"].values()) > requests_before),
        90)
    stalled_at = time.monotonic()
    assert _run_status(instance, run_id) == "STARTED"
    worker = deployment.wait("the run worker's pid", lambda: run_worker(instance, run_id), 30)
    assert process_alive(worker)
    # The right process: a run worker of this deployment's daemon (the DefaultRunLauncher
    # starts it from the daemon's code server), nothing else.
    assert _descends_from(worker.pid, daemon.proc.pid), (worker, daemon.proc.pid)
    return run_id, worker, daemon, stalled_at


def _let_stalled_requests_end(stalled_at: float) -> None:
    """Wait out the dead run's requests: the simulator keeps answering them after their
    client is gone, and a handler still sleeping when the simulator stops is reported
    as a destroyed task at exit."""
    time.sleep(max(0.0, stalled_at + STALL_LATENCY_S + 1 - time.monotonic()))


def _relaunch_within_deadline(deployment: Deployment, instance: dg.DagsterInstance,
                              sim: SimulatorServer, doomed: str, killed_at: float) -> str:
    """Launch the same range again and require its step to start before the deadline;
    then it must succeed and the warehouse equal the source. The relaunched run id."""
    relaunch = deployment.launch_range(PRICE_ASSET, RANGE[0].isoformat(),
                                       RANGE[1].isoformat())
    started = deployment.wait(
        f"the relaunched run's step to start within {DEADLINE_S:.0f} s of the kill",
        lambda: _step_start(instance, relaunch),
        DEADLINE_S - (time.time() - killed_at), interval_s=0.5)
    recovery_s = started.timestamp - killed_at
    print(f"\nSIGKILL -> relaunched step started: {recovery_s:.1f} s")
    assert recovery_s < DEADLINE_S
    assert _run_status(instance, doomed) == "FAILURE"

    # The relaunch converges: the warehouse holds exactly what the source serves.
    deployment.wait_run(relaunch, timeout_s=120)
    assert _claimed_by(instance) == set(), "no slot held once both runs ended"
    return relaunch


def _assert_warehouse_equals_source(warehouse_url: str, sim: SimulatorServer) -> None:
    with psycopg.connect(warehouse_url) as conn:
        stored = read_slice(conn, PRICES, TableSlice(PRICES, {"exchange": [EXCHANGE]}))
    expected = expected_prices(sim, *RANGE)
    assert expected.height > 0
    assert_frame_equal(stored, expected)


# The e2e tests take about 40-60 s each: start-up, two short runs, and the wait for the
# slot (up to the instance's poll + grace, 40 s as shipped, for the first). Deselect with
# `-m "not e2e"`.
@pytest.mark.e2e
def test_killed_worker_releases_the_pool(deployment: Deployment, sim: SimulatorServer,
                                         warehouse_url: str) -> None:
    monitoring = yaml.safe_load((deployment.home / "dagster.yaml").read_text())[
        "run_monitoring"]
    print(f"\nrun_monitoring as shipped: {monitoring}")
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        doomed, worker, _, stalled_at = _stall_a_range_run(deployment, instance, sim)

        # SIGKILL the worker only, as the OOM killer would; it cannot clean anything up.
        os.kill(worker.pid, signal.SIGKILL)
        killed_at = time.time()
        deployment.wait("the worker to die", lambda: not process_alive(worker), 10, 0.1)
        sim.configure(latency_s=0.0)
        assert doomed in _claimed_by(instance)  # the dead run still holds the slot

        _relaunch_within_deadline(deployment, instance, sim, doomed, killed_at)
        # Dagster's code server reported the dead worker (dagster/_grpc/server.py).
        assert "SIGKILL" in _failure_message(instance, doomed)
    _assert_warehouse_equals_source(warehouse_url, sim)
    _let_stalled_requests_end(stalled_at)


@pytest.fixture
def reaper_deployment(tmp_path: Path, warehouse_url: str, sim: SimulatorServer
                      ) -> Iterator[Deployment]:
    """The deployment of `deployment`, on a code location that has the reaper sensor."""
    location = tmp_path / "reaper_location.py"
    location.write_text(REAPER_LOCATION)
    with run_deployment(tmp_path, warehouse_url, sim, code_args=["-f", str(location)]
                        ) as running:
        yield running


@pytest.mark.e2e
def test_run_killed_with_its_code_server_is_reaped(reaper_deployment: Deployment,
                                                   sim: SimulatorServer,
                                                   warehouse_url: str) -> None:
    deployment = reaper_deployment
    with dg.DagsterInstance.from_config(str(deployment.home)) as instance:
        doomed, worker, daemon, stalled_at = _stall_a_range_run(deployment, instance, sim)
        code_server = _parent_pid(worker.pid)
        assert code_server != daemon.proc.pid, "the worker's parent is a code server"

        # Node loss: the code server first (so it cannot report its dead worker), then
        # everything else the daemon started (daemon, its servers, the worker), at once.
        os.kill(code_server, signal.SIGKILL)
        os.killpg(daemon.proc.pid, signal.SIGKILL)
        killed_at = time.time()
        deployment.processes.remove(daemon)
        daemon.proc.wait(timeout=10)
        daemon.stop()  # closes its log; every process of its group is gone already
        deployment.wait("the worker to die", lambda: not process_alive(worker), 10, 0.1)
        sim.configure(latency_s=0.0)
        time.sleep(2)  # no one left to notice: the run stays STARTED and holds the slot
        assert _run_status(instance, doomed) == "STARTED"
        assert doomed in _claimed_by(instance)

        # The machine comes back: a new daemon (with new code servers) on the same home.
        deployment.start_daemon("daemon-restarted")
        _relaunch_within_deadline(deployment, instance, sim, doomed, killed_at)
        assert "dead_run_reaper" in _failure_message(instance, doomed)
    _assert_warehouse_equals_source(warehouse_url, sim)
    _let_stalled_requests_end(stalled_at)


def test_reaper_tells_a_live_worker_from_a_dead_or_reused_pid() -> None:
    # The reaper must never fail a live run: a pid is the worker only if its process
    # started before the worker reported its start; a later process reuses the pid.
    proc = subprocess.Popen(["sleep", "60"])
    try:
        assert process_alive(Worker(proc.pid, reported_at=time.time()))
        assert not process_alive(Worker(proc.pid, reported_at=time.time() - 600))
    finally:
        proc.kill()
        proc.wait()
    assert not process_alive(Worker(proc.pid, reported_at=time.time()))
