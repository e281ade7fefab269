"""deploy/dagster.yaml (docker compose) and the packaged local template (`eod-pipeline
demo`, `dagster dev`), both on PostgreSQL storage read from DAGSTER_PG_*, and the top-level
dagster.yaml (the checkout as it stands: nothing to set), loaded with Dagster's own config
validation and instantiated as real instances.

What matters in both: one slot for the `eodhd` pool (every EODHD step declares it, so
concurrent runs never exceed the API limits together), queued runs with their limit under
`concurrency:` (Dagster refuses it under run_coordinator once `concurrency:` exists), and
telemetry off.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import dagster_postgres
import psycopg
import pytest
import yaml
from dagster import DagsterInstance
from dagster._config import process_config
from dagster._core.instance.config import PoolGranularity, dagster_instance_config
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.storage.config import pg_config
from dagster_postgres.utils import pg_url_from_config

from eod_pipeline.dagster_instance.event_log import (
    PostgresEventLogStorage as OneRowPerPlannedCheck,
)
from eod_pipeline_tests.deploy import files

EODHD_POOL = "eodhd"
DUMMY_PG_ENV = {
    "DAGSTER_PG_HOST": "dagster-db",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "p@ss:word",
    "DAGSTER_PG_DB": "dagster",
}


#: The instance's three stores, each named in the config (the event log's class is ours).
STORES = ("run_storage", "event_log_storage", "schedule_storage")


def _assert_postgres_stores(instance: DagsterInstance) -> None:
    assert isinstance(instance.event_log_storage, OneRowPerPlannedCheck)
    assert isinstance(instance.event_log_storage, dagster_postgres.PostgresEventLogStorage)
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    # Run workers rebuild the instance from its ref: the ref must name our class too.
    ref = instance.get_ref().event_storage_data
    assert (ref.module_name, ref.class_name) == (
        "eod_pipeline.dagster_instance.event_log", "PostgresEventLogStorage")


def _home_with(tmp_path: Path, config: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(config, home / "dagster.yaml")
    return home


def _assert_pipeline_policies(instance: DagsterInstance) -> None:
    concurrency = instance.get_concurrency_config()
    assert concurrency.pool_config.default_pool_limit == 1
    assert concurrency.pool_config.pool_granularity == PoolGranularity.OP
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    assert concurrency.run_queue_config is not None
    assert concurrency.run_queue_config.max_concurrent_runs == 4
    assert isinstance(instance.run_launcher, DefaultRunLauncher)
    assert not instance.telemetry_enabled
    assert instance.run_monitoring_enabled
    # The default limit really applies to the pool the assets declare.
    storage = instance.event_log_storage
    assert storage.supports_global_concurrency_limits
    storage.initialize_concurrency_limit_to_default(EODHD_POOL)
    assert storage.get_concurrency_info(EODHD_POOL).slot_count == 1


def test_local_template_is_packaged() -> None:
    # `eod-pipeline demo` reads it with importlib.resources from the installed package.
    packaged = resources.files("eod_pipeline") / "templates" / "dagster.local.yaml"
    assert packaged.is_file()
    assert packaged.read_text() == files.LOCAL_DAGSTER_YAML.read_text()


def test_local_template_is_a_postgres_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               dagster_pg_env: dict[str, str]) -> None:
    # PostgreSQL, not SQLite: SQLite stores a range run's per-partition events one by one
    # (most of a ten-year backfill's time, BENCHMARKS.md).
    for name, value in dagster_pg_env.items():
        monkeypatch.setenv(name, value)
    home = _home_with(tmp_path, files.LOCAL_DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    config, custom_class = dagster_instance_config(str(home))
    assert custom_class is None
    for store in STORES:
        assert config[store]["config"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    instance = DagsterInstance.from_config(str(home))
    try:
        _assert_postgres_stores(instance)
        _assert_pipeline_policies(instance)
    finally:
        instance.dispose()


def test_local_template_works_with_what_dagster_env_prints(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_server_url: str) -> None:
    """The README's recipe: `eval "$(eod-pipeline db dagster-env)"`, then the template.
    The `dagster` database is created beside the warehouse's (once: a second call finds
    it), and the exported variables are all the template needs."""
    from click.testing import CliRunner

    from eod_pipeline.commands.dagster_storage import (
        DAGSTER_DATABASE,
        dagster_env_command,
        ensure_dagster_database,
    )

    for name in ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER",
                 "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB", "DAGSTER_EVENT_BATCH_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EOD_DATABASE_URL", pg_server_url)
    try:
        result = CliRunner().invoke(dagster_env_command, [])
        assert result.exit_code == 0, result.output
        exported = dict(line.removeprefix("export ").split("=", 1)
                        for line in result.stdout.splitlines() if line.startswith("export "))
        assert exported["DAGSTER_PG_DB"] == DAGSTER_DATABASE
        assert exported["DAGSTER_EVENT_BATCH_SIZE"] == "1000"
        again = ensure_dagster_database(pg_server_url)  # idempotent: found, not created
        assert psycopg.conninfo.conninfo_to_dict(again)["dbname"] == DAGSTER_DATABASE
        for name, value in exported.items():
            monkeypatch.setenv(name, value.strip("'"))
        home = _home_with(tmp_path, files.LOCAL_DAGSTER_YAML)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        instance = DagsterInstance.from_config(str(home))
        try:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert instance.get_runs_count() == 0
        finally:
            instance.dispose()
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{DAGSTER_DATABASE}" WITH (FORCE)')


def test_both_configs_have_the_same_concurrency_policy_and_storage() -> None:
    local = yaml.safe_load(files.LOCAL_DAGSTER_YAML.read_text())
    deployed = yaml.safe_load(files.DAGSTER_YAML.read_text())
    assert all(local[store] == deployed[store] for store in STORES)
    assert local["concurrency"] == deployed["concurrency"]
    assert local["run_coordinator"] == deployed["run_coordinator"]
    assert local["telemetry"] == deployed["telemetry"] == {"enabled": False}


def test_deployed_config_validates_and_uses_psycopg2(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in DUMMY_PG_ENV.items():
        monkeypatch.setenv(name, value)
    home = _home_with(tmp_path, files.DAGSTER_YAML)
    config, _ = dagster_instance_config(str(home))
    postgres = config["event_log_storage"]["config"]
    resolved = process_config(pg_config(), postgres)
    assert resolved.success, resolved.errors
    url = pg_url_from_config(resolved.value)
    # psycopg2 explicitly: dagster-postgres installs only psycopg2, and a bare
    # postgresql:// URL makes SQLAlchemy 2.1 pick psycopg 3.
    assert url == "postgresql+psycopg2://dagster:p%40ss%3Aword@dagster-db:5432/dagster"


def test_deployed_config_needs_no_run_limit_under_the_coordinator() -> None:
    config = yaml.safe_load(files.DAGSTER_YAML.read_text())
    assert "config" not in config["run_coordinator"]
    assert "run_queue" not in config


def test_deployed_config_runs_on_postgresql(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            dagster_pg_env: dict[str, str]) -> None:
    # The real thing: dagster.yaml, as the image installs it, against a PostgreSQL server.
    for name, value in dagster_pg_env.items():
        monkeypatch.setenv(name, value)
    home = _home_with(tmp_path, files.DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.from_config(str(home))
    try:
        _assert_postgres_stores(instance)
        _assert_pipeline_policies(instance)
    finally:
        instance.dispose()


# ----- the top-level dagster.yaml: works in the checkout as it stands ---------------------

_DAGSTER_PG = ("DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER", "DAGSTER_PG_PASSWORD",
               "DAGSTER_PG_DB")


def _env_reads(node: object) -> list[str]:
    if isinstance(node, dict):
        if set(node) == {"env"}:
            return [str(node["env"])]
        return [name for value in node.values() for name in _env_reads(value)]
    if isinstance(node, list):
        return [name for value in node for name in _env_reads(value)]
    return []


def test_top_level_config_needs_nothing_set_and_keeps_the_policies(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `dagster dev` / `dagster definitions validate` in the checkout read it with nothing
    # exported: no `env:` anywhere, so no unset DAGSTER_PG_* can break it.
    for name in _DAGSTER_PG:
        monkeypatch.delenv(name, raising=False)
    top = yaml.safe_load(files.TOP_DAGSTER_YAML.read_text())
    assert _env_reads(top) == []
    assert not {"storage", *STORES} & set(top)
    # Everything else is the local template's (pool of one, queue, run monitoring).
    local = yaml.safe_load(files.LOCAL_DAGSTER_YAML.read_text())
    assert {k: v for k, v in local.items() if k not in STORES} == top
    home = _home_with(tmp_path, files.TOP_DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        _assert_pipeline_policies(instance)
    finally:
        instance.dispose()


@pytest.mark.parametrize("dagster_home", ["unset", "the checkout"])
def test_definitions_validate_where_the_top_level_config_stands(tmp_path: Path,
                                                                 dagster_home: str) -> None:
    """`dagster definitions validate -m eod_pipeline.defs` in a directory holding the
    top-level dagster.yaml (a copy: the checkout itself stays clean), with DAGSTER_HOME
    unset (a throwaway instance configured by it) and set to that directory."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    shutil.copy(files.TOP_DAGSTER_YAML, checkout / "dagster.yaml")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DAGSTER_", "EOD_", "EODHD_"))}
    env["EOD_HOME"] = str(tmp_path / "eod_home")
    if dagster_home != "unset":
        env["DAGSTER_HOME"] = str(checkout)
    done = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-m", "eod_pipeline.defs"],
        cwd=checkout, env=env, capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "All code locations passed validation" in output
    assert "DAGSTER_PG" not in output
    assert "will not be used" not in output
