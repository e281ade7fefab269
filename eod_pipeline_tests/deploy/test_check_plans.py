"""A range run's planned asset checks in the instance's event log: one row per check,
resolved by the check's result (eod_pipeline/dagster_instance/event_log.py), against
Dagster's stock PostgreSQL event log, which stores one row per partition and leaves them
PLANNED (the reason the class exists: if Dagster changes that, the second test fails
and the class can go).

Real parts: a PostgreSQL database of the test server per test, Dagster instances built
from config files, an in-process run over a 20-day partition range.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from eod_pipeline_tests.deploy import files

DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-21")
RANGE = {ASSET_PARTITION_RANGE_START_TAG: "2026-01-01", ASSET_PARTITION_RANGE_END_TAG: "2026-01-20"}
PARTITIONS_IN_RANGE = 20


def _stock_yaml() -> str:
    """Dagster's own PostgreSQL storage (`storage: postgres:`) on the same database
    settings as the local template's stores."""
    template = yaml.safe_load(files.LOCAL_DAGSTER_YAML.read_text())
    settings = template["event_log_storage"]["config"]["postgres_db"]
    return yaml.safe_dump({"storage": {"postgres": {"postgres_db": settings}}})


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run(),
          check_specs=[dg.AssetCheckSpec("window_ok", asset="bars"),
                       dg.AssetCheckSpec("window_bad", asset="bars")])
def bars() -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Stands for eod_prices: one output over the run's range, unpartitioned checks."""
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="window_ok", passed=True)
    yield dg.AssetCheckResult(check_name="window_bad", passed=False)


@pytest.fixture
def instance_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 dagster_pg_env: dict[str, str]) -> Iterator:
    for name, value in dagster_pg_env.items():
        monkeypatch.setenv(name, value)
    made: list[dg.DagsterInstance] = []

    def build(config_text: str) -> dg.DagsterInstance:
        home = tmp_path / f"home{len(made)}"
        home.mkdir()
        (home / "dagster.yaml").write_text(config_text)
        instance = dg.DagsterInstance.from_config(str(home))
        made.append(instance)
        return instance

    yield build
    for instance in made:
        instance.dispose()


def _statuses(instance: dg.DagsterInstance, run_id: str) -> dict[str, Counter]:
    out = {}
    for name in ("window_ok", "window_bad"):
        history = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey("bars"), name), limit=1000)
        out[name] = Counter((r.status, r.partition) for r in history if r.run_id == run_id)
    return out


def test_a_range_run_leaves_one_resolved_row_per_check(instance_for) -> None:
    instance = instance_for(files.LOCAL_DAGSTER_YAML.read_text())
    result = dg.materialize([bars], instance=instance, tags=RANGE, raise_on_error=False)
    assert result.success  # a failed check (not blocking) fails nothing else
    assert len(instance.get_materialized_partitions(dg.AssetKey("bars"))) == PARTITIONS_IN_RANGE
    assert _statuses(instance, result.run_id) == {
        "window_ok": Counter({(AssetCheckExecutionRecordStatus.SUCCEEDED, None): 1}),
        "window_bad": Counter({(AssetCheckExecutionRecordStatus.FAILED, None): 1}),
    }


def test_dagsters_stock_event_log_leaves_a_planned_row_per_partition(instance_for) -> None:
    instance = instance_for(_stock_yaml())
    result = dg.materialize([bars], instance=instance, tags=RANGE, raise_on_error=False)
    statuses = _statuses(instance, result.run_id)
    for name, resolved in (("window_ok", AssetCheckExecutionRecordStatus.SUCCEEDED),
                           ("window_bad", AssetCheckExecutionRecordStatus.FAILED)):
        planned = [p for (s, p), n in statuses[name].items()
                   if s is AssetCheckExecutionRecordStatus.PLANNED for _ in range(n)]
        assert len(planned) == PARTITIONS_IN_RANGE and None not in planned
        assert statuses[name][(resolved, None)] == 1


def test_the_local_and_deployed_configs_name_the_same_event_log() -> None:
    for path in (files.LOCAL_DAGSTER_YAML, files.DAGSTER_YAML):
        store = yaml.safe_load(path.read_text())["event_log_storage"]
        assert (store["module"], store["class"]) == (
            "eod_pipeline.dagster_instance.event_log", "PostgresEventLogStorage"), path
