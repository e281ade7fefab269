import logging

import psycopg
import pytest

from eod_pipeline.defs.resources import WarehouseResource
from eod_pipeline.warehouse.migrations import (
    StorageMode,
    WarehouseNotReady,
    check_schema,
    ensure_schema,
    latest_version,
    schema_version,
)
from eod_pipeline.warehouse.storage import probe_timescaledb, recorded_mode
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


def test_a_new_warehouse_records_the_mode_the_server_allows(database_url, monkeypatch):
    monkeypatch.delenv("EOD_TIMESCALEDB", raising=False)
    with psycopg.connect(database_url) as conn:
        assert recorded_mode(conn) is None
        mode = ensure_schema(conn)
        usable = probe_timescaledb(conn).usable
        assert mode is (StorageMode.TIMESCALEDB if usable else StorageMode.POSTGRES)
        assert recorded_mode(conn) is mode
        assert check_schema(conn) is mode


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


def test_connecting_never_creates_the_schema(database_url):
    resource = WarehouseResource(database_url=database_url)
    with pytest.raises(WarehouseNotReady, match="run `eod-pipeline db migrate`"):
        resource.connect()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT to_regnamespace('eod')").fetchone() == (None,)


def test_a_schema_behind_the_code_is_refused_with_the_command_to_run(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        # As if this code had a migration the warehouse has not seen yet.
        conn.execute("DELETE FROM eod.schema_migrations WHERE version = %s",
                     (latest_version(),))
        conn.commit()
        with pytest.raises(WarehouseNotReady) as behind:
            check_schema(conn)
    assert str(behind.value) == (
        f"The warehouse schema is behind this code (migrations {latest_version()} of "
        f"{latest_version()} not applied): run `eod-pipeline db migrate`")
    with pytest.raises(WarehouseNotReady, match="behind this code"):
        WarehouseResource(database_url=warehouse_url).connect()
    with psycopg.connect(warehouse_url) as conn:  # nothing was applied by connecting
        assert schema_version(conn) == latest_version() - 1


def test_a_schema_newer_than_the_code_is_refused(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("INSERT INTO eod.schema_migrations (version, description) "
                     "VALUES (%s, 'from the future')", (latest_version() + 1,))
        conn.commit()
        with pytest.raises(WarehouseNotReady, match="upgrade eod-pipeline"):
            check_schema(conn)
