"""What the benchmarks share: scratch databases, the machine line, process-tree memory.

Each benchmark is a script (`python benchmarks/bench_x.py`), so this module is imported
by plain name from the scripts' own folder.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing as mp
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from multiprocessing.connection import Connection
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import yaml

from eod_pipeline.commands.dagster_storage import PLANNED_EVENTS_ENV, dagster_env
from eod_pipeline.warehouse.connection import redact_url
from eod_pipeline.warehouse.migrations import StorageMode, ensure_schema
from eod_pipeline.warehouse.storage import probe_timescaledb
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.server import SimulatorServer

#: "Unthrottled": far above anything loopback can do, for the simulator's per-minute
#: window and the client's pacer alike, so neither rate limit is what is measured.
UNTHROTTLED_RPM = 10_000_000
#: The exchange the price benchmarks load; the simulator's others are kept tiny.
EXCHANGE = "US"
OTHER_EXCHANGE_SYMBOLS = 3
#: Run config lifting the client's own pacing for a benchmark run.
UNTHROTTLED_RUN_CONFIG = json.dumps(
    {"resources": {"eodhd": {"config": {"requests_per_minute": UNTHROTTLED_RPM}}}})

#: Page size for /proc/<pid>/statm, which counts pages.
_PAGE = os.sysconf("SC_PAGE_SIZE")


def machine_line() -> str:
    return (f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, polars {pl.__version__}, psycopg "
            f"{psycopg.__version__}, load average {os.getloadavg()[0]:.1f}")


def server_line(server_url: str) -> tuple[str, bool]:
    """A description of the server, and whether TimescaleDB is installable on it."""
    with psycopg.connect(server_url) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        has_ts = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone() is not None
    return (f"server: PostgreSQL {version} at {redact_url(server_url)}; timescaledb "
            f"{'available' if has_ts else 'not available (plain tables only)'}"), has_ts


def modes_to_run(server_url: str, wanted: str) -> list[StorageMode]:
    """The storage modes `--mode` asks for (both, timescaledb, plain) that the server can
    run; TimescaleDB is skipped with the reason where unusable, unless asked for alone."""
    with psycopg.connect(server_url) as conn:
        probe = probe_timescaledb(conn)
    modes = {"both": [StorageMode.TIMESCALEDB, StorageMode.POSTGRES],
             "timescaledb": [StorageMode.TIMESCALEDB], "plain": [StorageMode.POSTGRES]}[wanted]
    if StorageMode.TIMESCALEDB in modes and not probe.usable:
        if wanted == "timescaledb":
            raise SystemExit(f"--mode timescaledb: {probe.why_unusable()}")
        print(f"TimescaleDB mode skipped: {probe.why_unusable()}")
        modes.remove(StorageMode.TIMESCALEDB)
    return modes


def scratch_database(server_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"eod_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(server_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def drop_database(server_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settle(url: str) -> None:
    """Start every timed load from the same server state.

    Without it, whichever load runs second pays for the first one's checkpoint and WAL
    recycling (measured here: the same COPY took 2.5 s first and 3.6 s second). Needs
    superuser or pg_checkpoint; skipped when not granted.
    """
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
    except psycopg.Error:
        pass


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields follow the last ")".
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants now (0 once it is gone)."""
    tree = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            resident = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        total += resident * _PAGE
        todo.extend(tree.get(pid, ()))
    return total


class PeakTreeRss:
    """Samples the summed RSS of a process tree every `every_s` until stopped.

    Summing counts shared pages once per process, so the figure is an upper bound of what
    the tree holds; that is the honest side to err on for a memory target.
    """

    def __init__(self, root: int, every_s: float = 0.1) -> None:
        self.root = root
        self.every_s = every_s
        self.peak = 0
        #: Epoch seconds of the peak sample, to tell which step it fell in.
        self.peak_at = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = tree_rss(self.root)
            if rss > self.peak:
                self.peak, self.peak_at = rss, time.time()
            time.sleep(self.every_s)

    def __enter__(self) -> PeakTreeRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak / 2**20


def serve_simulator(conn: Connection, config: SimulatorConfig) -> None:
    """Child process: run the simulator, send its base URL and token, wait for "stop".

    A separate process, so the simulator does not compete with what is measured for one
    GIL (it still competes for the machine's cores, as a real network peer would not).
    """
    with SimulatorServer(config) as sim:
        conn.send((sim.base_url, sim.token))
        conn.recv()


class SimulatorProcess:
    """`with SimulatorProcess(config) as (base_url, token):` a simulator in a child process."""

    def __init__(self, config: SimulatorConfig) -> None:
        ctx = mp.get_context("spawn")
        self._parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=serve_simulator, args=(child, config), daemon=True)

    def __enter__(self) -> tuple[str, str]:
        self._proc.start()
        return self._parent.recv()

    def __exit__(self, *exc: object) -> None:
        self._parent.send("stop")
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()


#: The deployment's instance config (PostgreSQL storage, as docker compose runs it).
INSTANCE_YAML = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
#: The local default's instance config (`eod-pipeline demo`, the README's `dagster dev`).
LOCAL_INSTANCE_YAML = (Path(__file__).resolve().parents[1] / "eod_pipeline" / "templates"
                       / "dagster.local.yaml")
#: What docker compose and the demo set (README): a range run's per-partition
#: materialization events are stored in batches.
EVENT_BATCH_SIZE = "1000"
#: `--instance` choices: the local template (PostgreSQL storage on a scratch database of
#: the benchmark's server, as the demo keeps it in the embedded cluster), the deployment's
#: dagster.yaml (same storage), or the local template without its storage sections, i.e.
#: SQLite under DAGSTER_HOME with Dagster's default event batch size and per-partition
#: planned events (the local default before Dagster's storage moved to PostgreSQL). The
#: local instance gets what `eod-pipeline demo` sets (`dagster_env`): batch size 1000 and
#: one planned event per range run; export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS
#: =false to measure per-partition planned events instead.
INSTANCES = ("local", "deployment", "sqlite")


def instance_env(url: str) -> dict[str, str]:
    """The DAGSTER_PG_* settings dagster.yaml reads, for the database at `url`."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return {"DAGSTER_PG_HOST": str(info.get("host", "localhost")),
            "DAGSTER_PG_PORT": str(info.get("port", 5432)),
            "DAGSTER_PG_USER": str(info.get("user", "postgres")),
            "DAGSTER_PG_PASSWORD": str(info.get("password", "")),
            "DAGSTER_PG_DB": str(info["dbname"])}


class DagsterProject:
    """The project as deployed, for a benchmark: a DAGSTER_HOME with an instance config
    (`instance`, one of INSTANCES), runs launched with the `dagster` CLI (`dagster asset
    materialize`, the command-line twin of the UI's Materialize)."""

    def __init__(self, server_url: str, env: dict[str, str], instance: str = "local") -> None:
        self.server_url = server_url
        self.instance = instance
        #: Epoch seconds at which the last `materialize` reached its peak memory.
        self.peak_at = 0.0
        self.peak_step = ""
        self.home = Path(tempfile.mkdtemp(prefix="eod_bench_home_"))
        base = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_PG_")}
        if instance == "sqlite":
            config = yaml.safe_load(LOCAL_INSTANCE_YAML.read_text())
            for key in ("storage", "run_storage", "event_log_storage", "schedule_storage"):
                config.pop(key, None)
            (self.home / "dagster.yaml").write_text(yaml.safe_dump(config))
            self.dagster_url = None
            base.pop("DAGSTER_EVENT_BATCH_SIZE", None)
            base.pop(PLANNED_EVENTS_ENV, None)
            self.env = {**base, **env, "DAGSTER_HOME": str(self.home)}
            return
        self.dagster_url = scratch_database(server_url)
        source = LOCAL_INSTANCE_YAML if instance == "local" else INSTANCE_YAML
        shutil.copy(source, self.home / "dagster.yaml")
        self.env = {**base, **instance_env(self.dagster_url), **env,
                    "DAGSTER_HOME": str(self.home),
                    "DAGSTER_EVENT_BATCH_SIZE": os.environ.get("DAGSTER_EVENT_BATCH_SIZE",
                                                               EVENT_BATCH_SIZE)}
        if instance == "local":
            # Exactly what `eod-pipeline demo` and `db dagster-env` set for Dagster.
            self.env.update(dagster_env(self.dagster_url, base))

    def describe(self) -> str:
        if self.dagster_url is None:
            return "instance: local template without its storage (SQLite, event batch size 0)"
        name = "local template" if self.instance == "local" else "deployment dagster.yaml"
        return (f"instance: {name}, PostgreSQL storage in a scratch database, "
                f"DAGSTER_EVENT_BATCH_SIZE={self.env['DAGSTER_EVENT_BATCH_SIZE']}, "
                f"{PLANNED_EVENTS_ENV}={self.env.get(PLANNED_EVENTS_ENV, '(unset)')}")

    def close(self) -> None:
        if self.dagster_url is not None:
            drop_database(self.server_url, self.dagster_url)
        shutil.rmtree(self.home, ignore_errors=True)

    def materialize(self, select: str, *args: str, log_name: str = "run") -> tuple[float, float]:
        """Run `dagster asset materialize`; (wall seconds, peak RSS MB of its process tree).
        Exits with the run's log when it fails."""
        log_path = self.home / f"{log_name}.log"
        command = [sys.executable, "-m", "dagster", "asset", "materialize",
                   "-m", "eod_pipeline.defs", "--select", select, *args]
        with open(log_path, "w") as log:
            began = time.perf_counter()
            proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
            with PeakTreeRss(proc.pid) as peak:
                code = proc.wait()
            wall = time.perf_counter() - began
        self.peak_at = peak.peak_at
        if code != 0:
            print(self.log_lines(log_name))
            print("\n".join(log_path.read_text().splitlines()[-60:]))
            raise SystemExit(f"{' '.join(command[2:6])} {select} failed (exit {code})")
        return wall, peak.peak_mb

    def log_lines(self, log_name: str) -> str:
        """The run's own lines and step events (not the one event per partition)."""
        text = (self.home / f"{log_name}.log").read_text()
        return "\n".join(line[:300] for line in text.splitlines()
                         if "ASSET_MATERIALIZATION" not in line
                         and any(k in line for k in ("INFO", "STEP_", "ERROR", "RUN_")))

    def last_run(self, asset: dg.AssetKey) -> tuple[float, float, dict[str, float],
                                                    dict[str, object]]:
        """Start, end, step durations and `asset`'s latest materialization metadata of
        the newest run."""
        record, steps, metadata = self.last_run_record(asset)
        return record.start_time, record.end_time, steps, metadata

    def last_run_record(self, asset: dg.AssetKey) -> tuple[dg.RunRecord, dict[str, float],
                                                           dict[str, object]]:
        """The newest run's record (creation time included), step durations and `asset`'s
        latest materialization metadata."""
        previous = dict(os.environ)
        os.environ.update(self.env)
        try:
            with dg.DagsterInstance.get() as instance:
                record = instance.get_run_records(limit=1)[0]
                stats = instance.get_run_step_stats(record.dagster_run.run_id)
                steps = {s.step_key: s.end_time - s.start_time
                         for s in stats if s.start_time and s.end_time}
                self.peak_step = next(
                    (s.step_key for s in stats if s.start_time and s.end_time
                     and s.start_time <= self.peak_at <= s.end_time), "outside the steps")
                event = instance.get_latest_materialization_event(asset)
                metadata = {k: getattr(v, "value", v) for k, v in
                            event.asset_materialization.metadata.items()} if event else {}
                return record, steps, metadata
        finally:
            os.environ.clear()
            os.environ.update(previous)


def mode_project(server_url: str, url: str, base_url: str, token: str, exchange: str,
                 start: dt.date, mode: StorageMode, instance: str) -> DagsterProject:
    """A Dagster project over the scratch warehouse `url`, run in `mode`."""
    return DagsterProject(server_url, {
        "EOD_DATABASE_URL": url, "EODHD_API_TOKEN": token, "EODHD_BASE_URL": base_url,
        "EOD_EXCHANGES": f"{exchange}:{start.isoformat()}",
        "EOD_TIMESCALEDB": "auto" if mode is StorageMode.TIMESCALEDB else "off"},
        instance=instance)


def prepare_warehouse(project: DagsterProject, url: str, mode: StorageMode,
                      exchange: str) -> None:
    """Create the warehouse in `mode` (refusing another) and load `exchange`'s symbol
    list and calendar, as a deployment does before its first price run."""
    with psycopg.connect(url) as conn:
        made = ensure_schema(conn, use_timescaledb=mode is StorageMode.TIMESCALEDB)
    if made is not mode:
        raise SystemExit(f"asked for a {mode.value} warehouse, got {made.value}")
    project.materialize("symbol_lists,exchange_calendars", "--partition", exchange,
                        log_name="reference")
