"""Dagster's own storage on the warehouse's PostgreSQL server, for one machine.

    eval "$(eod-pipeline db dagster-env)"      # DAGSTER_PG_* and DAGSTER_EVENT_BATCH_SIZE

Why: on SQLite (Dagster's default) a range run stores its per-partition events one by one
(SQLite has no batched write), and a ten-year backfill spent most of its time there
(BENCHMARKS.md, "Dagster's share"). The local instance template
(`eod_pipeline/templates/dagster.local.yaml`) therefore keeps runs, event logs and
schedule/sensor state in PostgreSQL, read from the same `DAGSTER_PG_*` variables as the
deployment's `dagster.yaml`. This module gives it a database of its own (`dagster`) on the
server the warehouse is on: the embedded cluster by default, else EOD_DATABASE_URL's
server. `eod-pipeline demo` does the same for its children.

Dagster's tables never share a database with the warehouse: its schema (`runs`,
`event_logs`, ...) and its migrations are Dagster's, and dropping or restoring either
must not touch the other.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

import click
import psycopg

from eod_pipeline.commands.common import connection_failure, shown_url, warehouse_url
from eod_pipeline.warehouse.databases import ensure_database, sibling_url

#: The database holding Dagster's storage, beside the warehouse's on the same server.
DAGSTER_DATABASE = "dagster"
#: Dagster stores a range run's per-partition events in batches of this size on PostgreSQL
#: (docker compose sets the same); Dagster's own default, 0, stores them one by one.
EVENT_BATCH_SIZE = "1000"
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
#: Dagster's switch (dagster/_core/storage/event_log/base.py) for storing ONE "materialization
#: planned" event per asset of a range run, holding the partition range, instead of one per
#: partition. Per partition, a ten-year range's 2,579 planned events are stored one by one
#: before the run starts, batch size or not (dagster-postgres batches only materializations
#: and observations): ~40 s of a 240-ticker backfill that does ~2 s of fetching and writing
#: (BENCHMARKS.md). The price: for a range run, the UI shades no partition "in progress"
#: while it runs, nor "failed" if it fails (the run itself shows as failed; the partitions
#: stay missing, and the daily_refresh sensor, which reads materialized partitions and
#: runs, not those shades, requests them again). Set it to false to get them back.
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
PLANNED_EVENTS = "true"


def dagster_database_url(warehouse: str) -> str:
    """The URL of the `dagster` database on the warehouse's server (same role)."""
    return sibling_url(warehouse, DAGSTER_DATABASE)


def ensure_dagster_database(warehouse: str) -> str:
    """Create the `dagster` database on the warehouse's server if it is missing; its URL.

    The role needs CREATEDB, which the embedded cluster's role has. Raises
    `click.ClickException` with what to do otherwise.
    """
    try:
        return ensure_database(warehouse, DAGSTER_DATABASE)
    except psycopg.Error as exc:
        raise click.ClickException(
            f"cannot create Dagster's database {DAGSTER_DATABASE!r} beside the warehouse at "
            f"{connection_failure(warehouse, exc)}; create it yourself, or set "
            "DAGSTER_PG_HOST/PORT/USER/PASSWORD/DB to a database you have") from None


def dagster_env(url: str, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the instance templates read (`DAGSTER_PG_*`) for the database at `url`, the
    event batch size and the planned-events switch (values already in `base` are kept)."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return {
        "DAGSTER_PG_HOST": str(info.get("host") or "127.0.0.1"),
        "DAGSTER_PG_PORT": str(info.get("port") or "5432"),
        "DAGSTER_PG_USER": str(info.get("user") or ""),
        "DAGSTER_PG_PASSWORD": str(info.get("password") or ""),
        "DAGSTER_PG_DB": str(info["dbname"]),
        EVENT_BATCH_SIZE_ENV: (base or {}).get(EVENT_BATCH_SIZE_ENV) or EVENT_BATCH_SIZE,
        PLANNED_EVENTS_ENV: (base or {}).get(PLANNED_EVENTS_ENV) or PLANNED_EVENTS,
    }


@click.command("dagster-env")
def dagster_env_command() -> None:
    """Print `export` lines for Dagster's storage on the warehouse's server.

    Creates the `dagster` database there if needed (on EOD_DATABASE_URL's server, or the
    embedded cluster, which `eod-pipeline db start` starts). Use it as
    `eval "$(eod-pipeline db dagster-env)"` before `dagster dev` with
    eod_pipeline/templates/dagster.local.yaml as DAGSTER_HOME's dagster.yaml.
    """
    url = ensure_dagster_database(warehouse_url())
    click.echo(f"# Dagster's storage: {shown_url(url)}", err=True)
    for name, value in dagster_env(url, os.environ).items():
        click.echo(f"export {name}={shlex.quote(value)}")
