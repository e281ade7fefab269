"""The merge's classification of staged rows (warehouse/changes.py): new, changed (with a
revision) and unchanged (not written, no revision), on both table kinds."""

import datetime as dt

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.warehouse.changes import MergeStatements
from eod_pipeline.warehouse.migrations import StorageMode, _create_table, ensure_schema
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.storage import hypertable_names, recorded_mode
from eod_pipeline.warehouse.tables import DIVIDENDS, PRICES, REVISIONS, revisions_of
from eod_pipeline.warehouse.writer import write_frames
from eod_pipeline_tests.warehouse.frames import price_frame

JAN = TableSlice(PRICES, {"exchange": ["US"]}, DateRange("date", dt.date(2024, 1, 1),
                                                         dt.date(2024, 1, 31)))
KEY = ["exchange", "symbol", "date"]


@pytest.fixture(params=[pytest.param("hypertable", marks=pytest.mark.timescaledb), "plain"])
def kind_conn(request):
    """A warehouse connection whose price and dividend tables are of the param's kind."""
    if request.param == "hypertable":
        conn = request.getfixturevalue("conn")
        if recorded_mode(conn) is not StorageMode.TIMESCALEDB:
            pytest.skip("the suite's warehouse is not in TimescaleDB mode")
        assert {"prices", "dividends"} <= hypertable_names(conn)
        conn.commit()  # the writer's transactions are then its own, not savepoints
        yield conn
        return
    with psycopg.connect(request.getfixturevalue("database_url")) as conn:
        assert ensure_schema(conn, use_timescaledb=False) is StorageMode.POSTGRES
        assert not hypertable_names(conn)
        conn.commit()
        yield conn


def revisions(conn) -> list[tuple]:
    return conn.execute("SELECT symbol, date, old_close, new_close, old_volume, new_volume, "
                        "run_id FROM eod.price_revisions ORDER BY symbol, date").fetchall()


def test_changed_new_and_unchanged_rows_in_one_batch(kind_conn):
    base = price_frame(symbols=("AAA", "BBB"))
    write_frames(kind_conn, PRICES, base, JAN, run_id="first")
    aaa = base.filter(pl.col("symbol") == "AAA")
    changed = aaa.head(1).with_columns(pl.col("close") + 1)
    batch = pl.concat([changed, aaa.slice(1), base.filter(pl.col("symbol") == "BBB"),
                       price_frame(symbols=("NEW",))])

    report = write_frames(kind_conn, PRICES, batch, JAN, run_id="second")

    assert (report.mode, report.inserted, report.updated, report.unchanged, report.revised) == (
        "merge", 5, 1, 9, 1)
    old = aaa.row(0, named=True)
    assert revisions(kind_conn) == [("AAA", old["date"], old["close"], old["close"] + 1,
                                     old["volume"], old["volume"], "second")]
    assert_frame_equal(read_slice(kind_conn, PRICES, JAN), batch.sort(KEY))
    # The same batch again: every row unchanged, nothing written, no revision recorded.
    again = write_frames(kind_conn, PRICES, batch, JAN, run_id="third")
    assert (again.inserted, again.updated, again.unchanged, again.revised) == (0, 0, 15, 0)
    assert len(revisions(kind_conn)) == 1


def dividends(values: dict[str, float | None]) -> pl.DataFrame:
    return pl.DataFrame(
        {"exchange": "US", "symbol": list(values), "date": dt.date(2024, 1, 5),
         "value": 0.25, "unadjusted_value": list(values.values()), "currency": "USD",
         "declaration_date": None, "record_date": dt.date(2024, 1, 8),
         "payment_date": None, "period": "Quarterly"},
        schema=DIVIDENDS.polars_schema,
    )


def test_a_change_to_or_from_null_is_a_change_and_null_to_null_is_not(kind_conn,
                                                                       monkeypatch):
    """Dividends have nullable values; give them a revisions table for the test so the
    NULL cases reach the revisions too (prices are all NOT NULL)."""
    spec = revisions_of(DIVIDENDS, "dividend_revisions")
    kind_conn.execute(_create_table(spec))
    kind_conn.commit()
    monkeypatch.setitem(REVISIONS, DIVIDENDS.name, spec)
    write_frames(kind_conn, DIVIDENDS, dividends({"FILL": None, "BLANK": 0.5, "NONE": None}))

    newer = dividends({"FILL": 0.3, "BLANK": None, "NONE": None})
    report = write_frames(kind_conn, DIVIDENDS, newer, run_id="later")

    assert (report.mode, report.inserted, report.updated, report.unchanged, report.revised) == (
        "merge", 0, 2, 1, 2)
    recorded = kind_conn.execute(
        "SELECT symbol, old_unadjusted_value, new_unadjusted_value, old_value, new_value, "
        "run_id FROM eod.dividend_revisions ORDER BY symbol").fetchall()
    assert recorded == [("BLANK", 0.5, None, 0.25, 0.25, "later"),
                        ("FILL", None, 0.3, 0.25, 0.25, "later")]
    assert_frame_equal(read_slice(kind_conn, DIVIDENDS), newer.sort(KEY))


def test_a_new_key_another_session_inserts_meanwhile_is_upserted(kind_conn, monkeypatch):
    """Between the classification and the INSERT another session stores one of the new
    keys (with other values): the plain INSERT fails on it, and the batch's write is redone
    as an upsert in the same transaction, so the batch's values win and nothing is lost."""
    write_frames(kind_conn, PRICES, price_frame(symbols=("AAA",)), JAN)
    batch = pl.concat([price_frame(symbols=("AAA",)).with_columns(pl.col("volume") + 1),
                       price_frame(symbols=("NEW",))])
    url = kind_conn.info.dsn
    counts = MergeStatements.counts

    def counts_then_a_rival_writes(self):
        with psycopg.connect(url) as rival:
            rival.execute("INSERT INTO eod.prices SELECT exchange, 'NEW', date, 1, 1, 1, 1, 1, "
                          "1 FROM eod.prices WHERE symbol = 'AAA' ORDER BY date LIMIT 1")
        return counts(self)

    monkeypatch.setattr(MergeStatements, "counts", counts_then_a_rival_writes)
    report = write_frames(kind_conn, PRICES, batch, JAN)

    # The rival's row exists when the write runs: updated (to the batch's values), not new.
    assert (report.inserted, report.updated, report.revised) == (4, 6, 5)
    assert_frame_equal(read_slice(kind_conn, PRICES, JAN), batch.sort(KEY))


def test_a_batch_of_only_new_series_copies_straight_into_a_filled_slice(kind_conn):
    """A resumed backfill's tickers are new to a slice that holds others: no row of theirs
    is stored over the batch's dates, so the batch COPYs straight (no classification);
    a batch touching a stored series still merges, and a duplicate key still falls back."""
    write_frames(kind_conn, PRICES, price_frame(symbols=("AAA",)), JAN, run_id="first")

    fresh = price_frame(symbols=("BBB", "CCC"))
    report = write_frames(kind_conn, PRICES, fresh, JAN, run_id="resume")
    assert (report.mode, report.inserted, report.updated) == ("copy", fresh.height, 0)

    again = write_frames(kind_conn, PRICES, fresh, JAN, run_id="again")
    assert (again.mode, again.inserted, again.updated, again.unchanged) == (
        "merge", 0, 0, fresh.height)

    # A new series with a key twice in the batch: the straight COPY fails on it, the batch
    # is merged instead, keeping the last occurrence.
    twice = price_frame(symbols=("DDD",))
    doubled = pl.concat([twice, twice.head(1).with_columns(pl.col("close") + 1)])
    dup = write_frames(kind_conn, PRICES, doubled, JAN, run_id="dup")
    assert (dup.mode, dup.inserted, dup.duplicates_dropped) == ("merge", twice.height, 1)
    stored = read_slice(kind_conn, PRICES, TableSlice(PRICES, {"symbol": ["DDD"]}))
    assert stored.sort("date")["close"][0] == twice.sort("date")["close"][0] + 1
    assert revisions(kind_conn) == []
