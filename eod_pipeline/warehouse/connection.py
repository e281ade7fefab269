"""Where the warehouse is: `EOD_DATABASE_URL`, or the embedded cluster."""

from __future__ import annotations

import os

import psycopg

from eod_pipeline.warehouse.embedded import EmbeddedPostgres, default_home

DATABASE_URL_ENV = "EOD_DATABASE_URL"
TIMESCALEDB_ENV = "EOD_TIMESCALEDB"


def timescaledb_wanted() -> bool:
    """`EOD_TIMESCALEDB=off` keeps plain tables even where the extension exists."""
    return os.environ.get(TIMESCALEDB_ENV, "auto").strip().lower() not in (
        "off", "false", "0", "no")


def resolve_database_url(explicit: str | None = None) -> str:
    """Return the warehouse URL: the argument, `EOD_DATABASE_URL`, or the embedded cluster.

    The embedded cluster is started on first use (see `embedded.py`).
    """
    if explicit:
        return explicit
    if from_env := os.environ.get(DATABASE_URL_ENV):
        return from_env
    return EmbeddedPostgres(default_home()).ensure_running()


def connect(url: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a connection tagged with the application name, so `pg_stat_activity` says who."""
    return psycopg.connect(url, autocommit=autocommit, application_name="eod-pipeline")


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
