"""Fixtures of the deployment tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest


@pytest.fixture
def dagster_pg_env(pg_server_url: str) -> Iterator[dict[str, str]]:
    """DAGSTER_PG_* (what dagster.yaml reads) for a fresh database on the test server,
    dropped afterwards."""
    name = f"dagster_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    info = psycopg.conninfo.conninfo_to_dict(pg_server_url)
    try:
        yield {
            "DAGSTER_PG_HOST": str(info.get("host") or "127.0.0.1"),
            "DAGSTER_PG_PORT": str(info.get("port") or "5432"),
            "DAGSTER_PG_USER": str(info.get("user") or ""),
            "DAGSTER_PG_PASSWORD": str(info.get("password") or ""),
            "DAGSTER_PG_DB": name,
        }
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
