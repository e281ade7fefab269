"""The `dead_run_reaper` sensor: a STARTED run whose worker process is gone is failed.

Why it exists. Under the DefaultRunLauncher (`dagster dev`, docker compose) a run worker
is a child process of the code server that launched it, and Dagster notices a dead worker
in one place only: that code server's cleanup thread (dagster/_grpc/server.py,
`_check_for_orphaned_runs`). When the code server dies with its worker (node loss, the
`code` container restarted or OOM-killed, `dagster dev` killed), nobody is left to notice:
run monitoring cannot ask the DefaultRunLauncher about worker health
(`supports_check_run_worker_health` is False, so `monitor_started_run` in
dagster/_daemon/monitoring/run_monitoring.py only checks the max runtime), and the
run stays STARTED for good, holding its `eodhd` pool slot, which Dagster frees only for
runs that have ended (dagster/_daemon/monitoring/concurrency.py). Every later price run
then waits forever.

What it does. Every `REAPER_INTERVAL_S` it looks at this code location's STARTED runs,
takes each run worker's pid from the "Started process for run (pid: N)" event the worker
writes when it starts, and checks that process on this machine. If the process is gone
(or the pid now belongs to a process started after the worker, i.e. it was reused after
a restart), the run is marked failed and its pool slots are freed at once: the worker is
proven dead, so no step of it can still be calling the API, and the grace of
`free_slots_after_run_end_seconds` (meant for workers that may still be finishing) buys
nothing.

Where it may act. Only when this instance launches runs with the DefaultRunLauncher, and
only on runs of the code location the sensor is evaluated in: exactly the runs whose
workers this code server's machine (or container) started, so "no such pid here" means
dead. Under DockerRunLauncher / K8sRunLauncher the workers run elsewhere, and Dagster's
run monitoring asks the launcher about them instead; the sensor then does nothing.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEventType, JobFailureData, RunFailureReason
from dagster._core.launcher import DefaultRunLauncher

#: How often the sensor daemon evaluates the reaper. The requirement is that a killed
#: run's pool slot is usable again within 2 minutes; 15 s of detection latency leaves most
#: of that for the queue and the next worker's start. A tick costs one query for STARTED
#: runs and one event-log read per such run (a handful at most: 4 runs in flight).
REAPER_INTERVAL_S = 15
#: The message of the engine event a run worker writes first, with its pid in the event's
#: metadata (dagster/_grpc/impl.py and dagster/_cli/api.py: "Started process for run
#: (pid: N)." / "Started process for resuming job (pid: N).").
_WORKER_STARTED = "Started process for"
#: A pid's process may have started up to this long after the worker's start event was
#: written and still be the worker (clock granularity of /proc, event timestamps taken
#: after the process began). A reused pid belongs to a process started much later.
_START_SLACK_S = 5.0
#: Before acting on a dead worker, give its code server (if it is alive) this long to
#: report the death itself: it checks every 0.5 s (CLEANUP_TICK in
#: dagster/_grpc/server.py) and its report says how the worker died (e.g. SIGKILL).
_CODE_SERVER_GRACE_S = 2.0


@dataclass(frozen=True)
class Worker:
    pid: int
    #: When the worker reported its start (event timestamp, seconds since the epoch).
    reported_at: float


def run_worker(instance: dg.DagsterInstance, run_id: str) -> Worker | None:
    """The run's newest worker (a resumed run has several), or None before it started."""
    found = None
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        if event is None or not (event.message or "").startswith(_WORKER_STARTED):
            continue
        pid = event.engine_event_data.metadata.get("pid")
        if pid is not None:
            found = Worker(int(str(pid.value)), entry.timestamp)
    return found


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def process_alive(worker: Worker) -> bool:
    """Is the worker's process still running on this machine?

    With /proc (Linux): the pid exists, is not a zombie, and its process started no later
    than the worker reported its start (otherwise the pid was reused). Without /proc
    (macOS): the pid exists.
    """
    stat_path = Path(f"/proc/{worker.pid}/stat")
    if not Path("/proc/stat").exists():
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else
        return True
    try:
        # "pid (comm) state ppid ... starttime(field 22) ...": comm may hold spaces.
        fields = stat_path.read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return False
    if fields[0] in ("Z", "X"):  # exited; only its parent has not reaped it
        return False
    started = _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return started <= worker.reported_at + _START_SLACK_S


def _location(context: dg.SensorEvaluationContext) -> str | None:
    origin = context.code_location_origin
    return origin.location_name if origin is not None else None


def reap_dead_runs(instance: dg.DagsterInstance, location: str | None,
                   log: logging.Logger | None = None) -> list[str]:
    """Fail the STARTED runs (of `location`, if given) whose worker is dead, free their
    pool slots, and return their run ids."""
    if not isinstance(instance.run_launcher, DefaultRunLauncher):
        return []
    reaped = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    for record in records:
        run = record.dagster_run
        origin = run.remote_job_origin
        if location is not None and (origin is None or origin.location_name != location):
            continue
        worker = run_worker(instance, run.run_id)
        if worker is None or process_alive(worker):
            continue
        time.sleep(_CODE_SERVER_GRACE_S)
        current = instance.get_run_by_id(run.run_id)
        if current is None or current.status != dg.DagsterRunStatus.STARTED:
            continue  # ended meanwhile (finished, or its code server reported the crash)
        message = (f"dead_run_reaper: the run worker (pid {worker.pid}) is gone while the "
                   "run was STARTED (killed together with its code server?); marking the "
                   "run failed and freeing its pool slots. Launch it again to resume.")
        instance.report_run_failed(current, message, JobFailureData(
            error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION))
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        if log is not None:
            log.warning("%s Run %s.", message, run.run_id)
        reaped.append(run.run_id)
    return reaped


@dg.sensor(
    name="dead_run_reaper",
    minimum_interval_seconds=REAPER_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed a STARTED run whose worker process is gone (e.g. killed together "
        "with its code server, which would otherwise have reported it) and frees its "
        "`eodhd` pool slot at once, so later runs do not wait forever. Acts only under "
        "the DefaultRunLauncher, on this code location's runs; requests no runs."
    ),
)
def dead_run_reaper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    reaped = reap_dead_runs(context.instance, _location(context), context.log)
    if reaped:
        return dg.SkipReason(f"failed {len(reaped)} dead run(s): {', '.join(reaped)}")
    return dg.SkipReason("no STARTED run with a dead worker")
