"""Storage modes: TimescaleDB where the server can, plain tables where it cannot or is told
not to, and never a change of mode as a side effect.

Marked `timescaledb`: they skip only where the library is absent from the server (CI
installs it). The suite's main cluster preloads it; `pg_plain_server_url` is a cluster
with the library installed but not preloaded.
"""

import datetime as dt
import logging

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.defs.resources import WarehouseResource
from eod_pipeline.warehouse.migrations import (
    HYPERTABLES,
    StorageMode,
    change_storage_mode,
    ensure_schema,
)
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.storage import (
    hypertable_names,
    probe_timescaledb,
    recorded_mode,
)
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.writer import write_frames
from eod_pipeline_tests.fixtures.postgres import (
    compress_all_chunks,
    create_database,
    drop_database,
)
from eod_pipeline_tests.warehouse.frames import price_frame

pytestmark = pytest.mark.timescaledb

_MIGRATIONS_LOGGER = "eod_pipeline.warehouse.migrations"


@pytest.fixture
def ts_conn(conn):
    """The suite's default warehouse: TimescaleDB mode, recorded."""
    assert recorded_mode(conn) is StorageMode.TIMESCALEDB
    return conn


@pytest.fixture
def plain_server_database(pg_plain_server_url):
    url = create_database(pg_plain_server_url)
    yield url
    drop_database(pg_plain_server_url, url)


def _hypertables(conn: psycopg.Connection) -> set[str]:
    return hypertable_names(conn)


def _roundtrip(conn: psycopg.Connection) -> None:
    """A full small write and read through the warehouse's own writer and reader."""
    whole = TableSlice(PRICES, {"exchange": ["US"]},
                       DateRange("date", dt.date(2020, 1, 1), dt.date(2020, 12, 31)))
    frame = price_frame(start=dt.date(2020, 3, 2), days=5)
    report = write_frames(conn, PRICES, frame, whole)
    assert report.inserted == frame.height
    assert_frame_equal(read_slice(conn, PRICES, whole), frame.sort("exchange", "symbol", "date"))


def test_time_series_tables_are_hypertables_with_a_columnstore(ts_conn):
    rows = ts_conn.execute(
        "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = 'eod' ORDER BY 1"
    ).fetchall()
    assert rows == sorted((t.name, True) for t in HYPERTABLES)
    policies = ts_conn.execute(
        "SELECT hypertable_name FROM timescaledb_information.jobs "
        "WHERE hypertable_schema = 'eod' AND proc_name ILIKE '%%compress%%' OR "
        "hypertable_schema = 'eod' AND proc_name ILIKE '%%columnstore%%'"
    ).fetchall()
    assert {r[0] for r in policies} == {t.name for t in HYPERTABLES}
    # Idempotent on a warehouse that already has them.
    assert ensure_schema(ts_conn) is StorageMode.TIMESCALEDB


def test_upsert_into_a_compressed_chunk(ts_conn):
    old = TableSlice(PRICES, {"exchange": ["US"]},
                     DateRange("date", dt.date(2020, 1, 1), dt.date(2020, 12, 31)))
    frame = price_frame(start=dt.date(2020, 3, 2), days=5)
    write_frames(ts_conn, PRICES, frame, old)
    compress_all_chunks(ts_conn, "eod.prices")
    compressed = ts_conn.execute(
        "SELECT count(*) FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'prices' AND is_compressed"
    ).fetchone()[0]
    assert compressed >= 1
    newer = pl.concat([price_frame(start=dt.date(2020, 3, 2), days=5, bump=3.0),
                       price_frame(symbols=("CCC",), start=dt.date(2020, 3, 2), days=5)])
    report = write_frames(ts_conn, PRICES, newer, old)
    assert (report.inserted, report.updated) == (5, 10)
    assert_frame_equal(read_slice(ts_conn, PRICES, old),
                       newer.sort("exchange", "symbol", "date"))


def test_installed_but_not_preloaded_runs_on_plain_tables_with_one_clear_line(
        plain_server_database, caplog, monkeypatch):
    monkeypatch.delenv("EOD_TIMESCALEDB", raising=False)
    caplog.set_level(logging.INFO, logger=_MIGRATIONS_LOGGER)
    with psycopg.connect(plain_server_database) as conn:
        assert conn.execute("SELECT 1 FROM pg_available_extensions "
                            "WHERE name = 'timescaledb'").fetchone() == (1,)
        assert ensure_schema(conn) is StorageMode.POSTGRES
        # The connection survived: no CREATE EXTENSION was attempted (it is FATAL here).
        assert conn.execute("SELECT 1").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM pg_extension "
                            "WHERE extname = 'timescaledb'").fetchone() == (0,)
        assert recorded_mode(conn) is StorageMode.POSTGRES
        _roundtrip(conn)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "shared_preload_libraries = 'timescaledb'" in warnings[0]
    assert "postgresql.conf" in warnings[0] and "restart" in warnings[0]
    # A Dagster run's resource works on it too, in the recorded mode.
    resource = WarehouseResource(database_url=plain_server_database)
    with resource.connect() as conn:
        assert conn.execute("SELECT count(*) FROM eod.prices").fetchone() == (10,)
    assert resource.mode is StorageMode.POSTGRES


def test_timescaledb_off_keeps_plain_tables_on_a_preloaded_server(database_url, monkeypatch):
    monkeypatch.setenv("EOD_TIMESCALEDB", "off")
    with psycopg.connect(database_url) as conn:
        assert probe_timescaledb(conn).usable
        assert ensure_schema(conn) is StorageMode.POSTGRES
        assert _hypertables(conn) == set()
        assert recorded_mode(conn) is StorageMode.POSTGRES
        _roundtrip(conn)


def test_the_recorded_plain_mode_survives_connecting_and_migrating(database_url,
                                                                     monkeypatch):
    """A plain warehouse on a server where TimescaleDB works stays plain: neither a
    run's connection nor applying migrations converts it; only `db migrate` does."""
    monkeypatch.setenv("EOD_TIMESCALEDB", "off")
    with psycopg.connect(database_url) as conn:
        ensure_schema(conn)
        _roundtrip(conn)
    monkeypatch.delenv("EOD_TIMESCALEDB")
    resource = WarehouseResource(database_url=database_url)
    with resource.connect():
        pass
    assert resource.mode is StorageMode.POSTGRES
    with psycopg.connect(database_url) as conn:
        assert ensure_schema(conn) is StorageMode.POSTGRES
        assert ensure_schema(conn, use_timescaledb=True) is StorageMode.POSTGRES
        assert _hypertables(conn) == set()
        assert recorded_mode(conn) is StorageMode.POSTGRES


def test_a_warehouse_from_before_recorded_modes_keeps_its_kind(database_url):
    """Made by an older version (no recorded mode, plain tables): migrating records
    plain, it does not convert."""
    with psycopg.connect(database_url) as conn:
        ensure_schema(conn, use_timescaledb=False)
        conn.execute("DROP TABLE eod.warehouse_settings")
        conn.commit()
        assert ensure_schema(conn, use_timescaledb=True) is StorageMode.POSTGRES
        assert _hypertables(conn) == set()
        note = conn.execute("SELECT note FROM eod.warehouse_settings").fetchone()[0]
        assert "existing tables" in note


def test_converting_keeps_every_row_including_compressed_ones(database_url):
    """`change_storage_mode` both ways, with rows in several chunks, some compressed."""
    frame = pl.concat([price_frame(start=dt.date(2019 + y, 6, 3), days=20,
                                   symbols=("AAA", "BRK-B", "M&G")) for y in range(4)])
    whole = TableSlice(PRICES, {"exchange": ["US"]},
                       DateRange("date", dt.date(2019, 1, 1), dt.date(2022, 12, 31)))
    expected = frame.sort("exchange", "symbol", "date")
    with psycopg.connect(database_url) as conn:
        ensure_schema(conn, use_timescaledb=False)
        write_frames(conn, PRICES, frame, whole)

        done = change_storage_mode(conn, StorageMode.TIMESCALEDB)
        assert {c.table: (c.rows, c.became) for c in done}["eod.prices"] == (
            frame.height, "hypertable")
        assert _hypertables(conn) == {t.name for t in HYPERTABLES}
        assert recorded_mode(conn) is StorageMode.TIMESCALEDB
        assert_frame_equal(read_slice(conn, PRICES, whole), expected)
        chunks = conn.execute("SELECT count(*) FROM show_chunks('eod.prices')").fetchone()[0]
        assert chunks >= 4
        compress_all_chunks(conn, "eod.prices")

        done = change_storage_mode(conn, StorageMode.POSTGRES)
        assert {c.table: (c.rows, c.became) for c in done}["eod.prices"] == (
            frame.height, "plain table")
        assert _hypertables(conn) == set()
        assert recorded_mode(conn) is StorageMode.POSTGRES
        assert_frame_equal(read_slice(conn, PRICES, whole), expected)
        # Same keys as a table made plain from the start; no hypertable leftovers.
        indexes = {r[0]: r[1] for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'eod' AND tablename = 'prices'")}
        assert list(indexes) == ["prices_pkey"]
        assert "(exchange, symbol, date)" in indexes["prices_pkey"]
        # And the plain table takes writes again, the key enforced.
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute("INSERT INTO eod.prices SELECT * FROM eod.prices LIMIT 1")


def test_a_merge_past_the_decompression_cap_still_lands_with_its_revisions(ts_conn):
    """TimescaleDB refuses a transaction that decompresses more rows than its cap
    (100,000 by default: a past day of 400+ tickers). The writer lifts the cap for its
    merge; here the session's cap is 3 rows, so the merge of 10 would fail without it."""
    old = TableSlice(PRICES, {"exchange": ["US"]},
                     DateRange("date", dt.date(2020, 1, 1), dt.date(2020, 12, 31)))
    write_frames(ts_conn, PRICES, price_frame(start=dt.date(2020, 3, 2), days=5), old)
    compress_all_chunks(ts_conn, "eod.prices")
    ts_conn.execute("SET timescaledb.max_tuples_decompressed_per_dml_transaction = 3")
    ts_conn.commit()
    newer = price_frame(start=dt.date(2020, 3, 2), days=5, bump=3.0)
    report = write_frames(ts_conn, PRICES, newer, old)
    assert (report.updated, report.revised) == (10, 10)
    assert_frame_equal(read_slice(ts_conn, PRICES, old), newer.sort("exchange", "symbol", "date"))
