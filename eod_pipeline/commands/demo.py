"""`eod-pipeline demo`: the offline quickstart, nothing to install or configure.

It wires the real pipeline to simulated inputs: the embedded warehouse (or
EOD_DATABASE_URL), the EODHD simulator as a subprocess, a project-local DAGSTER_HOME whose
runs and event log live in a `dagster` database beside the warehouse (not SQLite, which
stores a range run's per-partition events one by one), and `dagster dev`. The pipeline
code that runs is exactly the production code; only the API it talks to is simulated,
which the first lines of output say in capitals.

Why subprocesses in their own sessions: Ctrl-C then reaches only this process, which
stops the children in order (UI first, simulator last) with one signal each, instead of
every process receiving the terminal's SIGINT at once and `dagster dev` being interrupted
again in the middle of its own shutdown.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import FrameType

import click

from eod_pipeline.commands.common import (
    database_source,
    lookup_quota,
    pipeline_config,
    shown_url,
    warehouse,
    warehouse_url,
)
from eod_pipeline.commands.dagster_storage import dagster_env, ensure_dagster_database
from eod_pipeline.config import DEFAULT_EXCHANGES, PipelineConfig
from eod_pipeline.eodhd.settings import ENV_BASE_URL, ENV_TOKEN
from eod_pipeline.markets.calendar import WEEKEND, newest_available_day
from eod_pipeline.settings import EXCHANGES_ENV, START_DATE_ENV, write_demo_settings
from eod_pipeline.warehouse.connection import DATABASE_URL_ENV
from eod_pipeline.warehouse.embedded import default_home
from eod_pipeline.warehouse.migrations import StorageMode

#: The first lines the demo prints, before anything can scroll them away.
BANNER = (
    "=" * 78,
    "SIMULATED DATA: this demo serves generated prices from a local EODHD simulator.",
    "They are NOT real market data. For real data set EODHD_API_TOKEN and run",
    "`dagster dev -m eod_pipeline.defs` (see README.md).",
    "=" * 78,
)

#: Used when the packaged template is missing (e.g. an install without package data).
#: Same meaning as eod_pipeline/templates/dagster.local.yaml: PostgreSQL storage from
#: DAGSTER_PG_* (the demo sets them), queued runs, one slot for the `eodhd` pool; run
#: limits under `concurrency:` (Dagster refuses them under run_coordinator once
#: `concurrency:` exists).
FALLBACK_DAGSTER_YAML = """\
run_storage:
  module: dagster_postgres.run_storage
  class: PostgresRunStorage
  config:
    postgres_db: &dagster_pg
      hostname: {env: DAGSTER_PG_HOST}
      port: {env: DAGSTER_PG_PORT}
      username: {env: DAGSTER_PG_USER}
      password: {env: DAGSTER_PG_PASSWORD}
      db_name: {env: DAGSTER_PG_DB}
      scheme: postgresql+psycopg2
event_log_storage:
  module: eod_pipeline.dagster_instance.event_log
  class: PostgresEventLogStorage
  config: {postgres_db: *dagster_pg}
schedule_storage:
  module: dagster_postgres.schedule_storage
  class: PostgresScheduleStorage
  config: {postgres_db: *dagster_pg}
run_coordinator:
  module: dagster._core.run_coordinator
  class: QueuedRunCoordinator
concurrency:
  pools:
    default_limit: 1
  runs:
    max_concurrent_runs: 4
telemetry:
  enabled: false
"""

#: Seconds to wait for the simulator and for the Dagster webserver to answer.
SIMULATOR_START_TIMEOUT_S = 30.0
WEBSERVER_START_TIMEOUT_S = 180.0
#: Seconds a child gets to shut down after its interrupt before its process group is
#: terminated; `dagster dev` itself waits for its webserver and daemon.
CHILD_STOP_GRACE_S = 30.0


def demo_start_date(today: dt.date) -> dt.date:
    """January 2 of last year: a year and more of history, a few minutes of fetching."""
    return dt.date(today.year - 1, 1, 2)


def dagster_yaml_text() -> str:
    """The instance config for a one-machine Dagster: the packaged template, else inline."""
    try:
        return (resources.files("eod_pipeline") / "templates" / "dagster.local.yaml").read_text()
    except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError):
        return FALLBACK_DAGSTER_YAML


def prepare_dagster_home(home: Path) -> tuple[Path, bool]:
    """`home/dagster_home` with a dagster.yaml; an existing one is kept (user edits win).

    Returns the directory and whether the file was written now.
    """
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config_file = dagster_home / "dagster.yaml"
    if config_file.exists():
        return dagster_home, False
    config_file.write_text(dagster_yaml_text())
    return dagster_home, True


def uses_postgres_storage(config_file: Path) -> bool:
    """Whether a dagster.yaml keeps Dagster's storage in PostgreSQL: a `storage:` section
    naming postgres (older demos), or a run storage from dagster_postgres (the template's
    stores named one by one); one with neither means SQLite."""
    import yaml

    try:
        config = yaml.safe_load(config_file.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return False
    if not isinstance(config, dict):
        return False
    storage, runs = config.get("storage"), config.get("run_storage")
    return ((isinstance(storage, dict) and "postgres" in storage)
            or (isinstance(runs, dict) and str(runs.get("module", "")).startswith(
                "dagster_postgres")))


def demo_environment(base: Mapping[str, str], home: Path, sim_port: int,
                     dagster_home: Path | None = None) -> dict[str, str]:
    """The environment of the demo's children: always the simulator, recent defaults.

    EODHD_BASE_URL and EODHD_API_TOKEN are overridden whatever the user exported: the demo
    never talks to the real API. EOD_EXCHANGES / EOD_START_DATE are only defaulted.
    """
    env = dict(base)
    env["EOD_HOME"] = str(home)
    env[ENV_BASE_URL] = f"http://127.0.0.1:{sim_port}/api"
    from eodhd_simulator import DEFAULT_TOKEN  # the simulator is its own package

    env[ENV_TOKEN] = DEFAULT_TOKEN
    if env.get("EOD_CONFIG"):  # the Dagster children run in DAGSTER_HOME, not here
        env["EOD_CONFIG"] = str(Path(env["EOD_CONFIG"]).absolute())
    if not env.get("EOD_EXCHANGES") and not env.get("EOD_CONFIG"):
        env["EOD_EXCHANGES"] = DEFAULT_EXCHANGES
    if not env.get("EOD_START_DATE"):
        env["EOD_START_DATE"] = demo_start_date(dt.date.today()).isoformat()
    if dagster_home is not None:
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def _check_port_free(port: int, option: str) -> None:
    with socket.socket() as s:
        # SO_REUSEADDR: a port in TIME_WAIT is usable (servers set it too); a listening
        # socket still conflicts.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise click.BadParameter(
                f"port {port} on 127.0.0.1 is already in use (choose another)",
                param_hint=option,
            ) from None


def _check_simulated(config: PipelineConfig) -> None:
    from eodhd_simulator.calendar import EXCHANGES as SIMULATED_EXCHANGES

    served = {info.code for info in SIMULATED_EXCHANGES}
    unserved = [s.code for s in config.exchanges if s.code not in served]
    if unserved:
        raise click.UsageError(
            f"EOD_EXCHANGES: the simulator serves only {', '.join(sorted(served))}; "
            f"not {', '.join(unserved)} (unset EOD_EXCHANGES for the default "
            f"{DEFAULT_EXCHANGES})"
        )


# ----- children ----------------------------------------------------------------------------


@dataclass
class Child:
    """A subprocess in its own session (so its process group can be ended as a whole)."""

    name: str
    proc: subprocess.Popen[bytes]

    @classmethod
    def spawn(cls, name: str, argv: list[str], env: Mapping[str, str],
              **kwargs: object) -> Child:
        proc = subprocess.Popen(argv, env=dict(env), start_new_session=True, **kwargs)  # type: ignore[call-overload]
        return cls(name, proc)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace_s: float = CHILD_STOP_GRACE_S) -> None:
        """SIGINT (a Ctrl-C: graceful), then SIGTERM, then SIGKILL to the whole group."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGINT)
        for sig, wait_s in ((None, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            if sig is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue
            break
        # Grandchildren (code servers, run workers) may outlive a leader that exited on the
        # first signal: they get SIGTERM, then SIGKILL if still there after a grace.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not group_alive(self.proc.pid):
                return
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            deadline = time.monotonic() + 10.0
            while group_alive(self.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)


def group_alive(pgid: int) -> bool:
    """Whether any process of group `pgid` is still alive (ours or not)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_for_http(url: str, child: Child, timeout_s: float) -> None:
    """Poll `url` until it answers 200, failing early if `child` exits."""
    deadline = time.monotonic() + timeout_s
    while True:
        if not child.alive():
            raise click.ClickException(
                f"the {child.name} exited (code {child.proc.returncode}) before it was ready; "
                "see its output above"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise click.ClickException(f"the {child.name} did not answer {url} "
                                       f"within {timeout_s:.0f} s")
        time.sleep(0.3)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (e.g. from a service manager) stops the demo like Ctrl-C does."""

    def handler(_signo: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


GUIDE = """\
Dagster UI: {url}

What to click:
  1. Assets: tick `exchanges`, `exchange_calendars` and `symbol_lists`, then
     "Materialize selected". The partition dialog opens on "Custom" with 0 partitions:
     click "All", then "Launch backfill" ("Launch 1 run" with one exchange). This loads
     exchanges, holidays and symbol lists.
  2. Open eod_prices/{exchange} and click "Materialize". Type into the partition box one
     day (e.g. {end}) or a range in Dagster's syntax, e.g. the last two months:
         {range}
     then "Launch backfill" ("Launch 1 run" for one day). The dialog lists only
     the last 90 days: for a range that starts earlier, click "Show all partitions" first
     (otherwise Dagster answers "Could not find partitions for provided range"). A
     range runs as ONE run that picks the cheaper fetch (bulk by date or per ticker) and
     streams the rows into the warehouse;
     `eod-pipeline plan --exchange {exchange} --from {start} --to {end}` shows its cost.
  3. Runs: open the run to watch it. Then `eod-pipeline status` in another shell, in this
     folder (it uses the demo's settings), shows what the warehouse holds; the
     daily_refresh sensor keeps the newest day current.

Ctrl-C stops the UI and the simulator (the warehouse keeps running: `eod-pipeline db stop`).
"""

#: Days the demo's ready-made price range spans (about two months): well inside the last
#: 90 days, which is all Dagster's partition dialog lists until "Show all partitions" is
#: clicked (RECENT_PARTITIONS_DAYS in LaunchAssetChoosePartitionsDialog.tsx).
READY_RANGE_DAYS = 60


def ready_made_range(config: PipelineConfig, now: dt.datetime) -> tuple[dt.date, dt.date]:
    """A price range that works in every exchange's partitions: from about two months back
    to the newest day whose data is out everywhere. Both ends are weekdays (the only
    partitions) and not before any exchange's configured start."""
    # The simulator's holidays (the warehouse has no calendar yet when this prints): the
    # range's end and the guide's one-day example must be trading days, not Thanksgiving.
    from eodhd_simulator.calendar import simulated_holidays

    end = min(newest_available_day(s.info, now, simulated_holidays(s.code, now.year))
              for s in config.exchanges)
    start = max(end - dt.timedelta(days=READY_RANGE_DAYS), *(s.start for s in config.exchanges))
    while start.weekday() in WEEKEND:
        start += dt.timedelta(days=1)
    return min(start, end), end


def range_key(start: dt.date, end: dt.date) -> str:
    """Dagster's partition range syntax, as typed into the Materialize dialog."""
    return f"[{start.isoformat()}...{end.isoformat()}]"


def record_demo_settings(home: Path, env: Mapping[str, str], config: PipelineConfig,
                         dagster_home: Path | None = None) -> Path:
    """Write what the demo gave the pipeline into `home` (demo.json) so that `status`,
    `plan` and `doctor` run in the same folder use it: the simulator's URL and public
    token, the exchanges with their start dates. Returns the file."""
    values = {
        ENV_BASE_URL: env[ENV_BASE_URL],
        ENV_TOKEN: env[ENV_TOKEN],
        EXCHANGES_ENV: ",".join(f"{s.code}:{s.start.isoformat()}" for s in config.exchanges),
        START_DATE_ENV: env.get(START_DATE_ENV) or demo_start_date(dt.date.today()).isoformat(),
    }
    return write_demo_settings(home, values, dagster_home)


@click.command()
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the Dagster UI.")
@click.option("--sim-port", default=8765, show_default=True, type=click.IntRange(1, 65535),
              help="Port of the EODHD simulator.")
@click.option("--no-ui", is_flag=True,
              help="Start everything but the UI, check the code location loads, and exit.")
def demo(port: int, sim_port: int, no_ui: bool) -> None:
    """Run the pipeline on SIMULATED data with the Dagster UI: no token, no setup.

    Starts the embedded warehouse (unless EOD_DATABASE_URL is set), the EODHD simulator
    (real-time clock), a project-local DAGSTER_HOME under EOD_HOME (default
    ./.eod_pipeline) and `dagster dev`. Exchanges default to US, LSE and XETRA from
    January 2 of last year.
    """
    for line in BANNER:
        click.secho(line, fg="yellow", bold=True)

    home = default_home()  # EOD_HOME or ./.eod_pipeline, as the embedded warehouse uses
    from eodhd_simulator import DEFAULT_TOKEN

    if os.environ.get(ENV_TOKEN, "").strip() not in ("", DEFAULT_TOKEN):
        click.echo(f"note: your {ENV_TOKEN} is not used: the demo talks only to the "
                   "simulator (use `dagster dev -m eod_pipeline.defs` for real data)")
    env = demo_environment(os.environ, home, sim_port)
    config = pipeline_config(env)
    _check_simulated(config)
    _check_port_free(sim_port, "'--sim-port'")
    if not no_ui:
        _check_port_free(port, "'--port'")

    # 1. Warehouse.
    # The demo is an explicit start point: it starts the embedded cluster and migrates.
    url = warehouse_url(start_embedded=True)
    with warehouse(start_embedded=True) as (_conn, mode):
        pass
    kind = "TimescaleDB" if mode is StorageMode.TIMESCALEDB else "plain PostgreSQL"
    where = (f"embedded cluster in {home}" if database_source() != DATABASE_URL_ENV
             else f"{DATABASE_URL_ENV}: simulated rows go into that database")
    click.echo(f"warehouse   {shown_url(url)} ({where}; {kind})")

    # 2. Dagster instance: its storage in a database of its own beside the warehouse.
    dagster_url = ensure_dagster_database(url)
    env.update(dagster_env(dagster_url, env))
    dagster_home, written = prepare_dagster_home(home)
    env["DAGSTER_HOME"] = str(dagster_home)
    click.echo(f"dagster     DAGSTER_HOME={dagster_home} "
               f"({'dagster.yaml written' if written else 'existing dagster.yaml kept'})")
    if uses_postgres_storage(dagster_home / "dagster.yaml"):
        click.echo(f"            runs and event log in {shown_url(dagster_url)} "
                   f"(DAGSTER_EVENT_BATCH_SIZE={env['DAGSTER_EVENT_BATCH_SIZE']})")
    else:
        click.echo("            the kept dagster.yaml has no PostgreSQL `storage:`: runs stay "
                   "in SQLite, which stores a range run's events one by one (delete it to "
                   "get the current template)")
    exchanges = ", ".join(f"{s.code} from {s.start}" for s in config.exchanges)
    click.echo(f"exchanges   {exchanges}")
    recorded = record_demo_settings(home, env, config, dagster_home)
    click.echo(f"settings    {recorded} (`eod-pipeline status`, `plan` and `doctor` run in "
               "this folder use them)")
    start, end = ready_made_range(config, dt.datetime.now(dt.UTC) - config.refresh_delay)
    click.echo(f"price range {range_key(start, end)} (the last two months: type it into "
               "an eod_prices asset's Materialize dialog)")

    children: list[Child] = []
    with _sigterm_as_interrupt():
        try:
            # 3. Simulator.
            sim = Child.spawn(
                "EODHD simulator",
                [sys.executable, "-m", "eod_pipeline.cli", "simulate", "--port", str(sim_port)],
                env,
            )
            children.append(sim)
            wait_for_http(f"http://127.0.0.1:{sim_port}/_sim/stats", sim,
                          SIMULATOR_START_TIMEOUT_S)
            click.echo(f"simulator   {env[ENV_BASE_URL]} (clock: real time; "
                       f"{ENV_BASE_URL} and {ENV_TOKEN} set for the pipeline)")
            if no_ui:
                _check_without_ui(env)
                return
            # 4. Dagster, started in its own DAGSTER_HOME: `dagster dev` warns about a
            # dagster.yaml in its working directory that is not DAGSTER_HOME's (the
            # checkout's top-level one), and reads that directory's .env.
            ui_url = f"http://127.0.0.1:{port}"
            dev = Child.spawn(
                "Dagster (dagster dev)",
                [sys.executable, "-m", "dagster", "dev", "-m", "eod_pipeline.defs",
                 "-h", "127.0.0.1", "-p", str(port)],
                env, cwd=str(dagster_home),
            )
            children.insert(0, dev)
            wait_for_http(f"{ui_url}/server_info", dev, WEBSERVER_START_TIMEOUT_S)
            click.echo("")
            click.secho(GUIDE.format(url=ui_url, exchange=config.exchanges[0].code,
                                     range=range_key(start, end), start=start, end=end),
                        bold=False)
            while dev.alive() and sim.alive():
                time.sleep(0.5)
            if not dev.alive():
                raise click.ClickException(f"dagster dev exited (code {dev.proc.returncode})")
            raise click.ClickException("the simulator exited; stopping the demo")
        except KeyboardInterrupt:
            click.echo("\nstopping the demo ...")
        finally:
            for child in children:
                child.stop()


def _check_without_ui(env: Mapping[str, str]) -> None:
    """--no-ui: the simulator answers with the demo token, and the code location loads."""
    lookup = lookup_quota(env)
    if lookup.info is None:
        raise click.ClickException(f"the simulator did not answer /user: {lookup.reason}")
    click.echo(f"api         /user answers: {lookup.info.remaining:,} calls left today")
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "eod_pipeline.defs"],
        env=dict(env), capture_output=True, text=True, check=False, cwd=env["DAGSTER_HOME"],
    )
    if done.returncode != 0:
        click.echo(done.stdout + done.stderr, err=True)
        raise click.ClickException("the Dagster code location eod_pipeline.defs does not load")
    click.echo("dagster     code location eod_pipeline.defs loads (dagster definitions validate)")
    done = subprocess.run([sys.executable, "-m", "dagster", "instance", "info"],
                          env=dict(env), capture_output=True, text=True, check=False,
                          cwd=env["DAGSTER_HOME"])
    if done.returncode != 0:
        click.echo(done.stdout + done.stderr, err=True)
        raise click.ClickException(f"the Dagster instance in {env['DAGSTER_HOME']} does not load")
    storage = next((line.split(":", 1)[1].strip() for line in done.stdout.splitlines()
                    if line.startswith("run_storage:")), "?")
    click.echo(f"dagster     instance loads (run storage: {storage})")
    click.echo("ready (--no-ui): everything but the UI works; stopping the simulator")
