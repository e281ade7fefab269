"""docker-compose.yml, Dockerfile and .dockerignore, checked without Docker.

No Docker engine runs on the development machines or in CI, so these tests read the files
the way compose and the image build would: variables substituted, anchors merged, paths
mapped from the container to the checkout. Each test names the mistake it guards against.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import re
from importlib.metadata import entry_points
from pathlib import PurePosixPath
from typing import Any

import click
import psycopg
import pytest
import yaml

from eod_pipeline.config import load_config
from eod_pipeline.eodhd.settings import (
    ENV_BASE_URL,
    ENV_REQUESTS_PER_MINUTE,
    ENV_TOKEN,
    EodhdSettings,
)
from eod_pipeline.warehouse.connection import DATABASE_URL_ENV
from eod_pipeline_tests.deploy import files
from eod_pipeline_tests.deploy.files import MissingVariable, environment

#: A token for substituting the file; never a real one.
FAKE_TOKEN = "test-token-not-real"
DAGSTER_SERVICES = ("code", "webserver", "daemon")
DATABASE_SERVICES = ("timescaledb", "dagster-db")
#: One-shot services: they run a command to completion at deployment start (migrations)
#: and the services that need them wait for `service_completed_successfully`.
ONE_SHOT_SERVICES = ("migrate",)
#: Settings the code reads that a container does not need: the embedded warehouse's
#: (compose runs TimescaleDB) and the optional TOML file (mount one to use it).
NOT_FOR_CONTAINERS = {"EOD_HOME", "EOD_PG_BIN", "EOD_CONFIG"}

@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    """The compose file as compose sees it with only the token exported."""
    return files.compose({ENV_TOKEN: FAKE_TOKEN})


@pytest.fixture(scope="module")
def services(stack: dict[str, Any]) -> dict[str, Any]:
    return stack["services"]


def dagster_yaml_env_vars() -> set[str]:
    """Names dagster.yaml reads with `env:`."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load(files.DAGSTER_YAML.read_text()))
    return found


def test_compose_has_the_six_services(services: dict[str, Any]) -> None:
    assert set(services) == {*DATABASE_SERVICES, *DAGSTER_SERVICES, *ONE_SHOT_SERVICES}


def test_migrations_run_once_before_the_code_server_without_the_token(
        services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["eod-pipeline", "db", "migrate"]
    _assert_options_exist("eod-pipeline", migrate["command"][1:])
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"timescaledb": {"condition": "service_healthy"}}
    assert services["code"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"}
    env = environment(migrate)
    assert ENV_TOKEN not in env
    assert env[DATABASE_URL_ENV] == environment(services["code"])[DATABASE_URL_ENV]


def test_every_image_is_pinned(services: dict[str, Any]) -> None:
    # A moving tag (latest, latest-pg17, 16) changes the stack under a running deployment.
    for name, service in services.items():
        image = service.get("image")
        assert image, f"{name}: no image (built services are tagged with the version too)"
        repository, _, tag = image.rpartition(":")
        assert repository and "/" not in tag, f"{name}: {image!r} has no tag"
        assert "latest" not in tag, f"{name}: {image!r} is a moving tag"
        assert re.search(r"\d+\.\d+", tag), f"{name}: {image!r} is not a specific version"


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name, service in services.items():
        if name in ONE_SHOT_SERVICES:
            continue  # it exits when done; its dependants wait for its success instead
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name}: no healthcheck"
        test = check["test"]
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, (
            f"{name}: healthcheck test must be [CMD, ...] or [CMD-SHELL, ...]: {test}"
        )
        for key in ("interval", "timeout", "retries", "start_period"):
            assert key in check, f"{name}: healthcheck has no {key}"


def test_databases_are_checked_over_tcp_with_pg_isready(services: dict[str, Any]) -> None:
    # Over the socket, pg_isready says "ready" during the image's first-run init server.
    for name in DATABASE_SERVICES:
        command = " ".join(services[name]["healthcheck"]["test"][1:])
        assert "pg_isready" in command and "-h 127.0.0.1" in command, name


def test_dependencies_wait_for_health(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on as a list waits for nothing"
        for dependency, spec in depends.items():
            assert dependency in services, f"{name}: depends on unknown {dependency}"
            wanted = ("service_completed_successfully" if dependency in ONE_SHOT_SERVICES
                      else "service_healthy")
            assert spec == {"condition": wanted}, f"{name} -> {dependency}: {spec}"
    assert set(services["code"]["depends_on"]) == {*DATABASE_SERVICES, *ONE_SHOT_SERVICES}
    for name in ("webserver", "daemon"):
        assert set(services[name]["depends_on"]) == {"dagster-db", "code"}


def test_token_is_required_and_has_no_default() -> None:
    # Without the token compose must refuse to start, not run with an empty or fake one.
    with pytest.raises(MissingVariable, match="EODHD token"):
        files.compose({})
    with pytest.raises(MissingVariable):
        files.compose({ENV_TOKEN: ""})
    for path in (files.COMPOSE_FILE, files.DOCKERFILE, files.DAGSTER_YAML,
                 files.LOCAL_DAGSTER_YAML):
        text = path.read_text()
        assert not re.search(rf"{ENV_TOKEN}:-", text), f"{path.name}: a default token"
        assert not re.search(rf"ENV\s+{ENV_TOKEN}|ARG\s+{ENV_TOKEN}", text), path.name
    assert environment(files.compose_raw()["services"]["code"])[ENV_TOKEN].startswith(
        f"${{{ENV_TOKEN}:?"
    )


def test_token_reaches_only_the_code_server(services: dict[str, Any]) -> None:
    # Sensors, checks and runs (DefaultRunLauncher) execute in the code server; the
    # webserver and daemon have no use for the secret.
    assert environment(services["code"])[ENV_TOKEN] == FAKE_TOKEN
    for name in ("webserver", "daemon", *DATABASE_SERVICES, *ONE_SHOT_SERVICES):
        assert ENV_TOKEN not in environment(services[name]), name


def test_code_server_gets_every_pipeline_setting(services: dict[str, Any]) -> None:
    # Every EOD_*/EODHD_* variable the package reads is settable through compose, so a
    # deployment can change any setting without editing the file.
    read = files.settings_read()
    assert {ENV_TOKEN, ENV_BASE_URL, ENV_REQUESTS_PER_MINUTE, DATABASE_URL_ENV,
            "EOD_EXCHANGES", "EOD_START_DATE"} <= read, "the scan of the code found too little"
    env = environment(services["code"])
    missing = sorted(read - NOT_FOR_CONTAINERS - set(env))
    assert not missing, f"the code service does not pass {missing}"
    raw = environment(files.compose_raw()["services"]["code"])
    for name in read - NOT_FOR_CONTAINERS - {DATABASE_URL_ENV}:
        assert raw[name].startswith(f"${{{name}:"), f"{name} is not taken from the environment"


def test_defaults_are_valid_pipeline_settings(services: dict[str, Any]) -> None:
    # An empty default (e.g. EOD_MAX_FAILED_SHARE="") would fail the code location load.
    env = environment(services["code"])
    config = load_config(env)
    assert config.exchanges
    settings = EodhdSettings.from_env(env)
    assert settings.token == FAKE_TOKEN
    assert settings.base_url == "https://eodhd.com/api"


def test_warehouse_url_points_at_the_timescaledb_service(services: dict[str, Any]) -> None:
    for env in ({ENV_TOKEN: FAKE_TOKEN},
                {ENV_TOKEN: FAKE_TOKEN, "EOD_DB_USER": "u", "EOD_DB_PASSWORD": "pw",
                 "EOD_DB_NAME": "warehouse"}):
        stack = files.compose(env)["services"]
        url = environment(stack["code"])[DATABASE_URL_ENV]
        info = psycopg.conninfo.conninfo_to_dict(url)
        db = environment(stack["timescaledb"])
        assert info["host"] == "timescaledb"
        assert str(info["port"]) == "5432"
        assert info["user"] == db["POSTGRES_USER"]
        assert info["password"] == db["POSTGRES_PASSWORD"]
        assert info["dbname"] == db["POSTGRES_DB"]


def test_dagster_services_share_one_instance(services: dict[str, Any]) -> None:
    # dagster.yaml reads DAGSTER_PG_* with `env:`; every Dagster process (and the runs the
    # code server starts) must resolve them to the dagster-db service.
    needed = dagster_yaml_env_vars()
    assert needed == {"DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER",
                      "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"}
    db = environment(services["dagster-db"])
    home = files.dockerfile_env()["DAGSTER_HOME"]
    for name in DAGSTER_SERVICES:
        env = environment(services[name])
        assert needed <= set(env), f"{name} lacks {needed - set(env)}"
        assert env["DAGSTER_PG_HOST"] == "dagster-db"
        assert env["DAGSTER_PG_PORT"] == "5432"
        assert env["DAGSTER_PG_USER"] == db["POSTGRES_USER"]
        assert env["DAGSTER_PG_PASSWORD"] == db["POSTGRES_PASSWORD"]
        assert env["DAGSTER_PG_DB"] == db["POSTGRES_DB"]
        assert env["DAGSTER_HOME"] == home


def test_dagster_services_share_the_compute_log_volume(stack: dict[str, Any]) -> None:
    # Runs execute in the code container; the webserver shows their stdout/stderr only if
    # DAGSTER_HOME/storage is the same volume in both.
    storage = f"{files.dockerfile_env()['DAGSTER_HOME']}/storage"
    mounts = {name: set(stack["services"][name].get("volumes", []))
              for name in DAGSTER_SERVICES}
    shared = set.intersection(*mounts.values())
    assert any(m.split(":")[1] == storage for m in shared), mounts
    declared = set(stack["volumes"])
    for service in stack["services"].values():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            assert source in declared, f"undeclared volume {source}"


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def _in_checkout(container_path: str) -> PurePosixPath:
    workdir = next(i.args for i in files.dockerfile() if i.keyword == "WORKDIR")
    return PurePosixPath(container_path).relative_to(workdir)


def _click_command(script: str, *path: str) -> click.Command:
    # The console scripts are `main()` wrappers around a module-level click `cli`.
    (entry,) = [ep for ep in entry_points(group="console_scripts") if ep.name == script]
    command = importlib.import_module(entry.module).cli
    ctx = click.Context(command)
    for name in path:
        assert isinstance(command, click.Group), f"{script} {name}: not a group"
        sub = command.get_command(ctx, name)
        assert sub is not None, f"`{script} {' '.join(path)}` does not exist"
        command = sub
    return command


def _assert_options_exist(script: str, argv: list[str]) -> None:
    """`argv` (after the script) names an existing subcommand and only its options."""
    words = [a for a in argv if not a.startswith("-")]
    flags = [a for a in argv if a.startswith("-")]
    group = _click_command(script)
    path: list[str] = []
    while isinstance(group, click.Group) and words and words[0] in group.list_commands(
        click.Context(group)
    ):
        path.append(words.pop(0))
        group = _click_command(script, *path)
    assert not isinstance(group, click.Group), (
        f"`{script} {' '.join(argv)}`: no such subcommand of `{script} {' '.join(path)}`"
    )
    known = {opt for param in group.params for opt in param.opts}
    unknown = [f for f in flags if f not in known]
    assert not unknown, f"`{script} {' '.join(path)}` has no option(s) {unknown}"


def test_commands_and_health_checks_exist(services: dict[str, Any]) -> None:
    # Every command a container or health check runs is a real CLI command with real
    # options in the installed Dagster (an unknown flag would crash-loop the container).
    commands = [services[name]["command"] for name in DAGSTER_SERVICES]
    commands += [services[name]["healthcheck"]["test"][1:]
                 for name in ("code", "webserver")]
    daemon_check = services["daemon"]["healthcheck"]["test"][1].split()
    commands.append([w for w in daemon_check if "=" not in w])
    commands.append(next(i for i in files.dockerfile() if i.keyword == "CMD").exec_form())
    for argv in commands:
        if argv[0] == "python":
            continue
        _assert_options_exist(argv[0], argv[1:])


def test_code_server_serves_the_definitions_module(services: dict[str, Any]) -> None:
    command = services["code"]["command"]
    assert command[:3] == ["dagster", "code-server", "start"]
    module = _option(command, "-m")
    assert module == "eod_pipeline.defs"
    assert importlib.util.find_spec(module) is not None
    port = int(_option(command, "-p"))
    assert _option(command, "-h") == "0.0.0.0"
    assert int(_option(services["code"]["healthcheck"]["test"], "-p")) == port
    workspace = yaml.safe_load(files.DOCKER_WORKSPACE_YAML.read_text())
    (location,) = workspace["load_from"]
    assert location["grpc_server"] == {"host": "code", "port": port,
                                       "location_name": "eod_pipeline"}
    # The image's default CMD is the code server too.
    cmd = next(i for i in files.dockerfile() if i.keyword == "CMD").exec_form()
    assert cmd == command


def test_webserver_and_daemon_load_the_docker_workspace(services: dict[str, Any]) -> None:
    for name in ("webserver", "daemon"):
        path = _in_checkout(_option(services[name]["command"], "-w"))
        assert files.ROOT / path == files.DOCKER_WORKSPACE_YAML, name
    command = services["webserver"]["command"]
    port = _option(command, "-p")
    assert _option(command, "-h") == "0.0.0.0"
    published = services["webserver"]["ports"]
    assert [p.rsplit(":", 1)[1] for p in published] == [port]
    assert all(p.startswith("127.0.0.1:") for p in published), "the UI has no login"
    assert f"127.0.0.1:{port}/server_info" in services["webserver"]["healthcheck"]["test"][-1]


def test_daemon_health_uses_a_tight_heartbeat_tolerance(services: dict[str, Any]) -> None:
    # liveness-check's default tolerance is 30 minutes: far too lax for a health check.
    check = services["daemon"]["healthcheck"]["test"]
    assert check[0] == "CMD-SHELL"
    match = re.search(r"DAGSTER_DAEMON_HEARTBEAT_TOLERANCE=(\d+)", check[1])
    assert match and 60 <= int(match[1]) <= 600
    assert "dagster-daemon liveness-check" in check[1]


def test_dockerfile_base_is_pinned_and_runs_unprivileged() -> None:
    instructions = files.dockerfile()
    (base,) = [i.args for i in instructions if i.keyword == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    users = [i.args for i in instructions if i.keyword == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    last_user = max(n for n, i in enumerate(instructions) if i.keyword == "USER")
    cmd = max(n for n, i in enumerate(instructions) if i.keyword == "CMD")
    assert last_user < cmd


def test_dockerfile_installs_the_project_and_instance_config() -> None:
    instructions = files.dockerfile()
    runs = " ".join(i.args for i in instructions if i.keyword == "RUN")
    assert "pip install ." in runs
    copies = [i.args.split() for i in instructions if i.keyword == "COPY"]
    sources = {src for args in copies for src in args[:-1]}
    home = files.dockerfile_env()["DAGSTER_HOME"]
    # The deployment's instance config is deploy/dagster.yaml, not the top-level one
    # (which is for the checkout and has no PostgreSQL storage).
    assert ["deploy/dagster.yaml", "${DAGSTER_HOME}/dagster.yaml"] in copies or [
        "deploy/dagster.yaml", f"{home}/dagster.yaml"] in copies
    assert home == "/opt/dagster/home"
    for needed in ("pyproject.toml", "README.md", "eod_pipeline", "deploy",
                   "deploy/dagster.yaml"):
        assert needed in sources, f"the image needs {needed}"
    for source in sources:
        assert (files.ROOT / source.rstrip("/")).exists(), f"COPY of missing {source}"


def test_dockerignore_keeps_local_state_out_but_not_what_the_build_copies() -> None:
    patterns = [line.strip() for line in files.DOCKERIGNORE.read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(path, p.removeprefix("**/"))
                   for p in patterns)

    for local in (".venv", ".eod_pipeline", ".git", "__pycache__", ".env"):
        assert ignored(local), f".dockerignore lets {local} into the build context"
    copies = [i.args.split()[:-1] for i in files.dockerfile() if i.keyword == "COPY"]
    for source in (s for args in copies for s in args):
        assert not ignored(source), f".dockerignore drops {source}, which the build copies"
