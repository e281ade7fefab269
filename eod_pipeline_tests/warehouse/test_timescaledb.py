"""The TimescaleDB path: runs only where the extension is installed, and says so otherwise."""

import datetime as dt

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.warehouse.migrations import HYPERTABLES, StorageMode, ensure_schema
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.writer import write_frames
from eod_pipeline_tests.warehouse.frames import price_frame


@pytest.fixture
def ts_conn(database_url):
    with psycopg.connect(database_url) as conn:
        available = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        if not available:
            pytest.skip("timescaledb extension is not installed on this PostgreSQL server; "
                        "the plain-PostgreSQL path is tested instead")
        assert ensure_schema(conn) is StorageMode.TIMESCALEDB
        yield conn


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
    ts_conn.execute("SELECT compress_chunk(c) FROM show_chunks('eod.prices') c")
    ts_conn.commit()
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
