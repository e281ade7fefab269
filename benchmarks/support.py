"""What the benchmarks share: scratch databases, the machine line, process-tree memory.

Each benchmark is a script (`python benchmarks/bench_x.py`), so this module is imported
by plain name from the scripts' own folder.
"""

from __future__ import annotations

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

from eod_pipeline.simulator.config import SimulatorConfig
from eod_pipeline.simulator.server import SimulatorServer
from eod_pipeline.warehouse.connection import redact_url

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
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.root))
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
INSTANCE_YAML = Path(__file__).resolve().parents[1] / "dagster.yaml"
#: What docker compose sets (README): a range run's per-partition materialization events
#: are stored in batches.
EVENT_BATCH_SIZE = "1000"


def instance_env(url: str) -> dict[str, str]:
    """The DAGSTER_PG_* settings dagster.yaml reads, for the database at `url`."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return {"DAGSTER_PG_HOST": str(info.get("host", "localhost")),
            "DAGSTER_PG_PORT": str(info.get("port", 5432)),
            "DAGSTER_PG_USER": str(info.get("user", "postgres")),
            "DAGSTER_PG_PASSWORD": str(info.get("password", "")),
            "DAGSTER_PG_DB": str(info["dbname"])}


class DagsterProject:
    """The project as deployed, for a benchmark: a DAGSTER_HOME with the deployment's
    dagster.yaml on a scratch PostgreSQL database, runs launched with the `dagster` CLI
    (`dagster asset materialize`, the command-line twin of the UI's Materialize)."""

    def __init__(self, server_url: str, env: dict[str, str]) -> None:
        self.server_url = server_url
        self.dagster_url = scratch_database(server_url)
        self.home = Path(tempfile.mkdtemp(prefix="eod_bench_home_"))
        shutil.copy(INSTANCE_YAML, self.home / "dagster.yaml")
        self.env = {**os.environ, **instance_env(self.dagster_url), **env,
                    "DAGSTER_HOME": str(self.home),
                    "DAGSTER_EVENT_BATCH_SIZE": os.environ.get("DAGSTER_EVENT_BATCH_SIZE",
                                                               EVENT_BATCH_SIZE)}

    def close(self) -> None:
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
        if code != 0:
            print(self.log_lines(log_name))
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
        previous = dict(os.environ)
        os.environ.update(self.env)
        try:
            with dg.DagsterInstance.get() as instance:
                record = instance.get_run_records(limit=1)[0]
                steps = {s.step_key: s.end_time - s.start_time
                         for s in instance.get_run_step_stats(record.dagster_run.run_id)
                         if s.start_time and s.end_time}
                event = instance.get_latest_materialization_event(asset)
                metadata = {k: getattr(v, "value", v) for k, v in
                            event.asset_materialization.metadata.items()} if event else {}
                return record.start_time, record.end_time, steps, metadata
        finally:
            os.environ.clear()
            os.environ.update(previous)
