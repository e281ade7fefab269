"""`eod-pipeline demo` run as a newcomer runs it, for the browser test of the newcomer's path.

Plain helpers, no fixtures. `run_demo` starts the console script in a fresh folder with its
own EOD_HOME and free ports, waits for the console guide, parses what the guide tells the
user (the UI address, the ready-made price range, the example day) and stops everything on
exit, even when the test fails:

- the demo gets SIGINT, its Ctrl-C: it stops `dagster dev` (and with it the webserver,
  the daemon, the code servers and run workers) and the simulator, each in its own
  session; SIGTERM, which it treats the same, then SIGKILL if it hangs;
- every process group its descendants had is then ended, in case the demo died before
  its children (they live in their own sessions, so killing the demo's group misses them);
- the embedded PostgreSQL cluster, which outlives the demo by design, is stopped with
  `eod-pipeline db stop`.

The demo's children are started with SIGINT at its default: a demo inherits SIG_IGN for
SIGINT when the test runs in a background job, and would then ignore its Ctrl-C.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eod_pipeline.commands.demo import group_alive
from eod_pipeline.warehouse.embedded import EmbeddedPostgres
from eod_pipeline_tests.e2e.deployment import Deployment, Process, _bin, free_port

#: Seconds for the demo to print its guide: embedded cluster (initdb on first use),
#: simulator, `dagster dev` with its code location (the demo itself allows 180 s for
#: the webserver alone).
GUIDE_TIMEOUT_S = 240.0
#: Seconds the demo gets to stop after its Ctrl-C: it gives each child 30 s.
DEMO_STOP_S = 75.0
#: Prefixes of the settings the demo must not inherit from the developer's shell: the
#: demo chooses its own warehouse, Dagster home and API.
_INHERITED_PREFIXES = ("EOD_", "EODHD_", "DAGSTER_")

_UI = re.compile(r"^Dagster UI: (http://\S+)$", re.M)
_RANGE = re.compile(r"^price range \[(\d{4}-\d\d-\d\d)\.\.\.(\d{4}-\d\d-\d\d)\]", re.M)
_EXAMPLE_DAY = re.compile(r"one\s+day \(e\.g\. (\d{4}-\d\d-\d\d)\)")
_GUIDE = re.compile(r"^Dagster UI: .*?^Ctrl-C stops[^\n]*$", re.M | re.S)


@dataclass(frozen=True)
class Guide:
    """What the demo's console output tells a newcomer."""

    ui_url: str
    text: str
    price_range: tuple[dt.date, dt.date]
    example_day: dt.date

    @property
    def range_key(self) -> str:
        start, end = self.price_range
        return f"[{start.isoformat()}...{end.isoformat()}]"


@dataclass
class RunningDemo:
    workdir: Path
    home: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    log_path: Path
    guide: Guide
    #: GraphQL, waits and log tails against the demo's webserver (the demo is its process).
    deployment: Deployment

    @property
    def url(self) -> str:
        return self.guide.ui_url

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def graphql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.deployment.graphql(query, variables)

    def wait(self, what: str, probe: Any, timeout_s: float, interval_s: float = 1.0) -> Any:
        """Poll `probe()` until truthy; fails with the demo's output if it exits or times out."""
        return self.deployment.wait(what, probe, timeout_s, interval_s)

    def warehouse_url(self) -> str:
        url = EmbeddedPostgres(self.home).running_url()
        assert url, f"the demo's embedded warehouse in {self.home} does not answer"
        return url


def demo_environment(workdir: Path, exchanges: str) -> tuple[dict[str, str], Path]:
    """The shell a newcomer has: no project settings but EOD_HOME and EOD_EXCHANGES."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    home = workdir / ".eod_pipeline"
    env.update(EOD_HOME=str(home), EOD_EXCHANGES=exchanges)
    return env, home


def parse_guide(output: str) -> Guide | None:
    """The guide once the demo has printed all of it, else None."""
    guide = _GUIDE.search(output)
    if guide is None:
        return None
    ui, price_range, example = (_UI.search(output), _RANGE.search(output),
                                _EXAMPLE_DAY.search(guide.group(0)))
    assert ui and price_range and example, f"the guide lacks a URL, range or day:\n{output}"
    start, end = (dt.date.fromisoformat(d) for d in price_range.groups())
    return Guide(ui.group(1), guide.group(0), (start, end),
                 dt.date.fromisoformat(example.group(1)))


@contextlib.contextmanager
def run_demo(logs_dir: Path, exchanges: str) -> Iterator[RunningDemo]:
    """`eod-pipeline demo` in a fresh folder, until its guide is printed; everything it
    started (children, embedded cluster) is stopped, and the folder removed, on exit. Its
    output is kept in `logs_dir`/demo.log.

    Why not pytest's tmp_path as the folder: the embedded cluster runs as the `postgres`
    user, which must traverse every parent directory, and each pytest session (other
    test runs on the machine included) resets its base directory to mode 0700.
    """
    workdir = Path(tempfile.mkdtemp(prefix="eod_newcomer_"))
    try:
        with _demo_in(workdir, logs_dir / "demo.log", exchanges) as demo:
            yield demo
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _demo_in(workdir: Path, log_path: Path, exchanges: str) -> Iterator[RunningDemo]:
    env, home = demo_environment(workdir, exchanges)
    ui_port, sim_port = free_port(), free_port()
    log = log_path.open("w")
    proc = subprocess.Popen(
        [_bin("eod-pipeline"), "demo", "--port", str(ui_port), "--sim-port", str(sim_port)],
        cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deployment = Deployment(ui_port, home / "dagster_home", env, log_path.parent,
                            processes=[Process("eod-pipeline demo", proc, log_path, log)])
    try:
        guide = deployment.wait("the demo's console guide",
                                lambda: parse_guide(log_path.read_text(errors="replace")),
                                GUIDE_TIMEOUT_S)
        assert guide.ui_url == deployment.url, (guide.ui_url, deployment.url)
        yield RunningDemo(workdir, home, env, proc, log_path, guide, deployment)
    finally:
        try:
            stop_demo(proc, workdir, env, home)
        finally:
            log.close()


def stop_demo(proc: subprocess.Popen[bytes], workdir: Path, env: dict[str, str],
              home: Path) -> None:
    """Ctrl-C the demo, then make sure nothing it started is left (see the module doc)."""
    groups = _descendant_groups(proc.pid)
    for sig, wait_s in ((signal.SIGINT, DEMO_STOP_S), (signal.SIGTERM, 10.0),
                        (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
    groups |= _descendant_groups(proc.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        alive = [g for g in groups if group_alive(g)]
        for pgid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, sig)
        deadline = time.monotonic() + 10.0
        while any(group_alive(s) for s in alive) and time.monotonic() < deadline:
            time.sleep(0.2)
    _stop_warehouse(workdir, env, home)


def _stop_warehouse(workdir: Path, env: dict[str, str], home: Path) -> None:
    """`eod-pipeline db stop`; the postmaster gets SIGINT (fast shutdown) if that fails."""
    pid_file = home / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return
    done = subprocess.run([_bin("eod-pipeline"), "db", "stop"], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=90, check=False)
    if done.returncode != 0 or pid_file.exists():
        print(f"`eod-pipeline db stop` failed: {done.stdout}{done.stderr}")
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)


def _descendant_groups(root: int) -> set[int]:
    """Process groups of `root` and every process below it, this test's own excepted."""
    children: dict[int, list[int]] = {}
    group: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # Fields after the command (which may hold spaces) in `(...)`: state ppid pgrp sid.
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            children.setdefault(int(fields[1]), []).append(pid)
            group[pid] = int(fields[2])
    found: set[int] = set()
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in group:
            found.add(group[pid])
        todo.extend(children.get(pid, []))
    found.discard(os.getpgid(0))
    return found
