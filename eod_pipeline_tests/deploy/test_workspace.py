"""The workspaces, and the compose services' commands run for real without Docker.

`test_compose_commands_serve_the_pipeline` starts what the `code` and `webserver`
containers run (their `command:` from docker-compose.yml, with loopback addresses and free
ports) on dagster.yaml over the test PostgreSQL server, and runs each service's health
check against them; then the daemon's health check, which must load the same instance
and report that no daemon is running.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml
from dagster._core.remote_origin import (
    GrpcServerCodeLocationOrigin,
    ManagedGrpcPythonEnvCodeLocationOrigin,
)
from dagster._core.workspace.load import location_origins_from_yaml_paths

from eod_pipeline_tests.deploy import files

#: Seconds a server gets to answer its health check (a cold start imports Dagster, the
#: pipeline and polars: a few seconds on the 2-core machines).
START_TIMEOUT_S = 60.0


def test_local_workspace_loads_the_definitions_module() -> None:
    # The workspace `dagster dev` finds in the checkout. Loading the module in a separate
    # process is what the code server in the compose test below does.
    (origin,) = location_origins_from_yaml_paths([str(files.WORKSPACE_YAML)])
    assert isinstance(origin, ManagedGrpcPythonEnvCodeLocationOrigin)
    assert origin.location_name == "eod_pipeline"
    module = origin.loadable_target_origin.module_name
    assert module == "eod_pipeline.defs"
    dg.Definitions.validate_loadable(importlib.import_module(module).defs)


def test_docker_workspace_points_at_the_code_service() -> None:
    (origin,) = location_origins_from_yaml_paths([str(files.DOCKER_WORKSPACE_YAML)])
    assert isinstance(origin, GrpcServerCodeLocationOrigin)
    assert (origin.host, origin.port, origin.location_name) == ("code", 4000, "eod_pipeline")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _executable(name: str) -> str:
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        pytest.skip(f"{name} is not installed next to {sys.executable}")
    return found


def _resolve(argv: Sequence[str]) -> list[str]:
    """The command with its program looked up in this environment."""
    program = sys.executable if argv[0] == "python" else _executable(argv[0])
    return [program, *argv[1:]]


def _replace_option(argv: Sequence[str], flag: str, value: str) -> list[str]:
    out = list(argv)
    out[out.index(flag) + 1] = value
    return out


@contextlib.contextmanager
def _server(argv: list[str], env: Mapping[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Start `argv` in its own process group; kill that group (only) afterwards.

    SIGKILL, not a graceful stop: nothing here needs saving, and the group includes the
    code server's own gRPC subprocess.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def _wait_healthy(port: str, check: list[str], env: Mapping[str, str],
                  proc: subprocess.Popen, log: Path) -> None:
    """Wait for `port` to accept connections (cheap), then for `check` to pass."""
    deadline = time.monotonic() + START_TIMEOUT_S
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"{proc.args[0]} exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", int(port)), timeout=1).close()
        except OSError:
            time.sleep(0.2)
            continue
        last = subprocess.run(check, env=dict(env), capture_output=True, text=True, timeout=30)
        if last.returncode == 0:
            return
        time.sleep(0.5)
    detail = f"{last.stdout}{last.stderr}" if last else "port never opened"
    pytest.fail(f"health check {check} never passed: {detail}\n{log.read_text()[-3000:]}")


def _location_entries(web_port: str) -> list[dict[str, Any]]:
    """The webserver's code locations, as its UI sees them (GraphQL)."""
    query = ("{ workspaceOrError { __typename ... on Workspace { locationEntries { name "
             "loadStatus locationOrLoadError { __typename ... on RepositoryLocation { "
             "repositories { name } } ... on PythonError { message } } } } } }")
    request = urllib.request.Request(
        f"http://127.0.0.1:{web_port}/graphql", data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        data = json.load(answer)["data"]["workspaceOrError"]
    assert data["__typename"] == "Workspace", data
    return data["locationEntries"]


def _daemon_check(services: Mapping[str, Any], env: Mapping[str, str]
                  ) -> tuple[list[str], dict[str, str]]:
    """The daemon's CMD-SHELL health check as argv + environment (`VAR=... cmd ...`)."""
    check_env = dict(env)
    argv: list[str] = []
    for word in services["daemon"]["healthcheck"]["test"][1].split():
        if "=" in word and not argv:
            key, value = word.split("=", 1)
            check_env[key] = value
        else:
            argv.append(word)
    return _resolve(argv), check_env


def test_compose_commands_serve_the_pipeline(tmp_path: Path,
                                             dagster_pg_env: dict[str, str]) -> None:
    services: dict[str, Any] = files.compose({"EODHD_API_TOKEN": "test-token-not-real"})[
        "services"]
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(files.DAGSTER_YAML, home / "dagster.yaml")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("EOD", "DAGSTER"))}
    env = {**base, **dagster_pg_env, "DAGSTER_HOME": str(home),
           "EOD_HOME": str(tmp_path / "eod_home")}

    # daemon: its health check loads the same PostgreSQL instance and, with no daemon
    # running, must say so and fail (compose would mark the container unhealthy). Run
    # alongside the servers' start-up.
    argv, check_env = _daemon_check(services, env)
    daemon_check = subprocess.Popen(argv, env=check_env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
    try:
        _serve_code_and_ui(services, env, tmp_path)
        output, _ = daemon_check.communicate(timeout=60)
    finally:
        if daemon_check.poll() is None:
            daemon_check.kill()
            daemon_check.wait()
    assert daemon_check.returncode == 1, output
    assert "Daemon(s) not running" in output


def _serve_code_and_ui(services: Mapping[str, Any], env: Mapping[str, str],
                       tmp_path: Path) -> None:
    """Start the code server, then the webserver; both must pass their health checks and
    the UI must show the code location loaded."""
    code_env = {**env, "EODHD_API_TOKEN": "test-token-not-real"}

    # code: the gRPC code server, checked by `dagster api grpc-health-check`.
    code_port = str(_free_port())
    code = _replace_option(services["code"]["command"], "-h", "127.0.0.1")
    code = _replace_option(code, "-p", code_port)
    code_check = _replace_option(services["code"]["healthcheck"]["test"][1:], "-p", code_port)
    with _server(_resolve(code), code_env, tmp_path / "code.log") as code_proc:
        _wait_healthy(code_port, _resolve(code_check), env, code_proc, tmp_path / "code.log")

        # webserver (started once code is healthy, like depends_on): the docker
        # workspace with the code service's address replaced.
        workspace = yaml.safe_load(files.DOCKER_WORKSPACE_YAML.read_text())
        workspace["load_from"][0]["grpc_server"].update(host="127.0.0.1", port=int(code_port))
        workspace_file = tmp_path / "workspace.yaml"
        workspace_file.write_text(yaml.safe_dump(workspace))
        web_port = str(_free_port())
        web = _replace_option(services["webserver"]["command"], "-h", "127.0.0.1")
        web = _replace_option(web, "-p", web_port)
        web = _replace_option(web, "-w", str(workspace_file))
        web_check = [part.replace("127.0.0.1:3000", f"127.0.0.1:{web_port}")
                     for part in services["webserver"]["healthcheck"]["test"][1:]]
        with _server(_resolve(web), env, tmp_path / "web.log") as web_proc:
            _wait_healthy(web_port, _resolve(web_check), env, web_proc, tmp_path / "web.log")
            (entry,) = _location_entries(web_port)
            loaded = entry["locationOrLoadError"]
            assert entry["name"] == "eod_pipeline"
            assert loaded["__typename"] == "RepositoryLocation", loaded
