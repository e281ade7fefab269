"""Dagster's PostgreSQL event log, storing each check a run plans as ONE row.

Why: Dagster 1.13 (checked in 1.13.27 and 1.13.29, `SqlEventLogStorage.
_store_asset_check_evaluation_planned`) gives an asset check's "planned" event the run's
partition subset even when the check has no partitions (`DagsterRun.
get_resolved_partitions_subset_for_events` returns the run's stored subset whatever the
check's partitions_def is), and stores one `asset_check_executions` row per partition
key, each with the whole event serialized. Our checks judge a run's whole window at once
(`eod_pipeline.defs.checks`) and report one unpartitioned result, which updates only a
row whose partition is NULL: so a ten-year range run
- spent 3.8-4.0 s before its first step inserting 8 checks x 2,609 partitions = 20,872
  rows (measured against 0.08 s for the same 8 events without a subset, PostgreSQL
  storage on this machine; BENCHMARKS.md), and
- left every one of those rows PLANNED forever, beside the one row that got the result
  (even a one-partition daily run leaves one stale PLANNED row per check).

This storage records a planned check with no partition, as Dagster does in a run without
partitions, so the result updates that one row. The planned event itself is kept in the
event log unchanged. It assumes the checks of the code locations it serves are not
partitioned: eod_pipeline's are not (eod_pipeline_tests/defs/test_definitions.py proves
it). A partitioned check's per-partition results would still be stored (as new rows);
only its "planned" shading per partition would be lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster._core.events.log import EventLogEntry
from dagster._serdes import ConfigurableClassData
from dagster_postgres import PostgresEventLogStorage as _DagsterPostgresEventLog
from dagster_postgres.utils import get_token_provider_from_config, pg_url_from_config
from dagster_shared import record


class PostgresEventLogStorage(_DagsterPostgresEventLog):
    """dagster-postgres's event log storage; planned checks stored as one row a run."""

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None,
                          config_value: Mapping[str, Any]) -> PostgresEventLogStorage:
        # The parent builds its own class by name; this builds this one, same config.
        return cls(inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
                   should_autocreate_tables=config_value.get("should_autocreate_tables", True),
                   token_provider=get_token_provider_from_config(config_value))

    def _store_asset_check_evaluation_planned(self, event: EventLogEntry,
                                              event_id: int | None) -> None:
        dagster_event = event.dagster_event
        planned = dagster_event.event_specific_data if dagster_event else None
        if dagster_event is not None and getattr(planned, "partitions_subset", None) is not None:
            event = event._replace(dagster_event=dagster_event._replace(
                event_specific_data=record.replace(planned, partitions_subset=None)))
        super()._store_asset_check_evaluation_planned(event, event_id)
