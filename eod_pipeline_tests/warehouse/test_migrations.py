import logging

import psycopg

from eod_pipeline.warehouse.migrations import (
    StorageMode,
    ensure_schema,
    latest_version,
    schema_version,
    timescaledb_available,
)
from eod_pipeline.warehouse.tables import TABLES


def test_schema_is_created_versioned_and_idempotent(database_url, caplog):
    caplog.set_level(logging.INFO, logger="eod_pipeline.warehouse.migrations")
    with psycopg.connect(database_url) as conn:
        first = ensure_schema(conn)
        conn.execute(
            "INSERT INTO eod.exchanges (code, name) VALUES ('US', 'USA Stocks')"
        )
        conn.commit()
        second = ensure_schema(conn)
        assert first == second
        assert schema_version(conn) == latest_version()
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'eod'"
            )
        }
        assert set(TABLES) <= tables
        # Re-running the migrations keeps the data.
        assert conn.execute("SELECT name FROM eod.exchanges").fetchall() == [("USA Stocks",)]
        applied = conn.execute("SELECT count(*) FROM eod.schema_migrations").fetchone()[0]
        assert applied == latest_version()
    mode_lines = [r.getMessage() for r in caplog.records if "Warehouse mode" in r.getMessage()]
    assert len(mode_lines) == 2  # one per ensure_schema call
    if first is StorageMode.POSTGRES:
        assert "plain PostgreSQL" in mode_lines[0]


def test_plain_postgres_mode_when_extension_absent(database_url):
    with psycopg.connect(database_url) as conn:
        mode = ensure_schema(conn)
        expected = StorageMode.TIMESCALEDB if timescaledb_available(conn) else StorageMode.POSTGRES
        assert mode is expected


def test_concurrent_migrations_do_not_collide(database_url):
    import threading

    errors: list[BaseException] = []

    def migrate() -> None:
        try:
            with psycopg.connect(database_url) as conn:
                ensure_schema(conn)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with psycopg.connect(database_url) as conn:
        assert schema_version(conn) == latest_version()
