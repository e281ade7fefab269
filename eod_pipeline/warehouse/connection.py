"""Where the warehouse is: `EOD_DATABASE_URL`, or the embedded cluster if it is running.

Nothing here starts the embedded cluster implicitly: a Dagster process, a run container or
a command that finds neither `EOD_DATABASE_URL` nor a running embedded cluster fails with
`WarehouseNotConfigured`, naming both fixes. Only the explicit start points pass
`start_embedded=True`: `eod-pipeline db start`, the demo (and the tests' fixtures, which
start their own clusters).
"""

from __future__ import annotations

import psycopg

from eod_pipeline.settings import DATABASE_URL_ENV, TIMESCALEDB_ENV, warehouse_env
from eod_pipeline.warehouse.embedded import (
    EmbeddedPostgres,
    EmbeddedPostgresError,
    default_home,
)

__all__ = ["DATABASE_URL_ENV", "TIMESCALEDB_ENV", "WarehouseNotConfigured", "connect",
           "existing_database_url", "redact_url", "resolve_database_url",
           "timescaledb_wanted"]


class WarehouseNotConfigured(EmbeddedPostgresError):
    """No EOD_DATABASE_URL and no running embedded cluster; the message names the fixes."""


def not_configured_message(cluster: EmbeddedPostgres) -> str:
    return (f"No warehouse: {DATABASE_URL_ENV} is not set and the embedded cluster is not "
            f"running (in {cluster.data_dir}). Set {DATABASE_URL_ENV} to your PostgreSQL "
            "warehouse (e.g. postgresql://user:password@host:5432/eod), or run "
            "`eod-pipeline db start` to start the embedded cluster")


def timescaledb_wanted() -> bool:
    """`EOD_TIMESCALEDB=off` keeps plain tables even where the extension exists."""
    return warehouse_env().timescaledb_wanted


def _configured_url() -> str | None:
    url = warehouse_env().database_url
    return url.get_secret_value() if url is not None else None


def resolve_database_url(explicit: str | None = None, *, start_embedded: bool = False) -> str:
    """Return the warehouse URL: the argument, `EOD_DATABASE_URL`, or the embedded cluster
    if it is running.

    `start_embedded=True` (only `db start`, the demo) creates and starts the embedded
    cluster when it is not running; otherwise its absence is a `WarehouseNotConfigured`.
    """
    if explicit:
        return explicit
    if from_env := _configured_url():
        return from_env
    cluster = EmbeddedPostgres(default_home())
    if start_embedded:
        return cluster.ensure_running()
    if url := cluster.running_url():
        return url
    raise WarehouseNotConfigured(not_configured_message(cluster))


def existing_database_url(explicit: str | None = None) -> str | None:
    """The warehouse URL if one is configured or the embedded cluster exists; None
    otherwise. Never starts anything: for callers that only look (labels in the UI)."""
    if explicit:
        return explicit
    if from_env := _configured_url():
        return from_env
    try:
        return EmbeddedPostgres(default_home()).url()
    except (OSError, ValueError):
        return None


def connect(url: str, *, autocommit: bool = False, application_name: str = "eod-pipeline",
            connect_timeout: int | None = None) -> psycopg.Connection:
    """Open a connection tagged with the application name, so `pg_stat_activity` says who.

    The one place the package opens warehouse connections (the CLI passes a timeout so
    an unreachable server fails in seconds, not at the OS's TCP timeout)."""
    extra = {"connect_timeout": connect_timeout} if connect_timeout is not None else {}
    return psycopg.connect(url, autocommit=autocommit, application_name=application_name,
                           **extra)


def redact_url(url: str) -> str:
    """The URL without its password, for log lines and error messages.

    Never raises: it is called on error paths, where the URL may be the problem.
    """
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "<unparsable database URL>"
    host = info.get("host", "localhost")
    port = info.get("port", "5432")
    return f"postgresql://{info.get('user', '')}@{host}:{port}/{info.get('dbname', '')}"
