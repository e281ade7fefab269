"""Databases beside the warehouse's on the same server (e.g. Dagster's own storage)."""

from __future__ import annotations

import contextlib

import psycopg

from eod_pipeline.warehouse.connection import connect


def sibling_url(url: str, name: str) -> str:
    """The URL of database `name` on the server and role of `url`."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def ensure_database(url: str, name: str) -> str:
    """Create database `name` on `url`'s server if missing; its URL.

    Safe when several processes race: the loser's "already exists" is success. Raises
    psycopg errors (the role needs CREATEDB) for the caller to explain.
    """
    with connect(url, autocommit=True, connect_timeout=10) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               (name,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                admin.execute(f'CREATE DATABASE "{name}"')
    return sibling_url(url, name)
