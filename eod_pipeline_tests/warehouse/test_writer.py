import datetime as dt

import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.tables import DIVIDENDS, PRICES
from eod_pipeline.warehouse.validation import FrameRejectedError
from eod_pipeline.warehouse.writer import write_frames
from eod_pipeline_tests.warehouse.frames import AWKWARD_CODES, price_frame

JAN = TableSlice(PRICES, {"exchange": ["US"]}, DateRange("date", dt.date(2024, 1, 1),
                                                         dt.date(2024, 1, 31)))


def count(conn) -> int:
    return conn.execute("SELECT count(*) FROM eod.prices").fetchone()[0]


def test_round_trip_is_exact(conn):
    frame = price_frame()
    report = write_frames(conn, PRICES, frame, JAN)
    assert (report.mode, report.inserted, report.updated) == ("copy", 10, 0)
    back = read_slice(conn, PRICES, JAN)
    assert_frame_equal(back, frame.sort("exchange", "symbol", "date"))


def test_rewriting_a_slice_is_idempotent_and_keeps_newest_values(conn):
    write_frames(conn, PRICES, price_frame(), JAN)
    again = write_frames(conn, PRICES, price_frame(), JAN)
    assert (again.mode, again.inserted, again.updated, again.unchanged) == ("merge", 0, 0, 10)
    newer = price_frame(bump=0.5)
    changed = write_frames(conn, PRICES, newer, JAN)
    assert (changed.inserted, changed.updated) == (0, 10)
    assert count(conn) == 10
    assert_frame_equal(read_slice(conn, PRICES, JAN), newer.sort("exchange", "symbol", "date"))


def test_merge_never_deletes_rows_the_new_data_does_not_mention(conn):
    write_frames(conn, PRICES, price_frame(symbols=("AAA", "BBB", "CCC")), JAN)
    partial = price_frame(symbols=("AAA",), bump=1.0)
    write_frames(conn, PRICES, partial, JAN)
    assert count(conn) == 15
    kept = conn.execute("SELECT count(*) FROM eod.prices WHERE symbol = 'CCC'").fetchone()[0]
    assert kept == 5


def test_streamed_batches_with_duplicates_keep_last_value(conn):
    first = price_frame(symbols=("AAA",))
    overlap = price_frame(symbols=("AAA", "BBB"), bump=2.0)  # AAA keys again, new values
    report = write_frames(conn, PRICES, iter([first, overlap]), JAN)
    assert report.batches == 2
    assert count(conn) == 10
    stored = read_slice(conn, PRICES, JAN)
    assert_frame_equal(stored, overlap.sort("exchange", "symbol", "date"))
    assert report.modes_used == {"copy", "merge"}


def test_duplicate_keys_within_a_batch_are_deduplicated_keeping_the_last(conn):
    frame = price_frame(symbols=("AAA",), days=2)
    dup = pl.concat([frame, frame.with_columns(pl.col("close") + 5)])
    report = write_frames(conn, PRICES, dup, JAN)
    assert report.duplicates_dropped == 2
    closes = read_slice(conn, PRICES, JAN, columns=["close"])["close"].to_list()
    assert closes == (frame["close"] + 5).to_list()


def test_awkward_symbol_codes_are_stored_verbatim(conn):
    frame = price_frame(symbols=AWKWARD_CODES, days=2)
    write_frames(conn, PRICES, frame, JAN)
    stored = {r[0] for r in conn.execute("SELECT DISTINCT symbol FROM eod.prices")}
    assert stored == set(AWKWARD_CODES)
    only = TableSlice(PRICES, {"symbol": ["M&G", "O'REILLY"]})
    assert set(read_slice(conn, PRICES, only)["symbol"]) == {"M&G", "O'REILLY"}


BAD_FRAMES = [
    (lambda f: f.drop("volume"), "volume"),
    (lambda f: f.with_columns(pl.lit(1).alias("extra")), "extra"),
    (lambda f: f.with_columns(pl.col("volume").cast(pl.Float64)), "volume"),
    (lambda f: f.with_columns(pl.col("close").cast(pl.String)), "close"),
    (lambda f: f.with_columns(pl.when(pl.col("date") == dt.date(2024, 1, 2))
                              .then(None).otherwise(pl.col("symbol")).alias("symbol")), "symbol"),
    (lambda f: f.with_columns(pl.when(pl.col("volume") > 0).then(float("nan"))
                              .otherwise(pl.col("high")).alias("high")), "high"),
    (lambda f: f.with_columns(pl.lit(float("inf")).alias("low")), "low"),
    (lambda f: f.with_columns(pl.col("date") + dt.timedelta(days=60)), "outside the partition"),
    (lambda f: f.with_columns(pl.lit("LSE").alias("exchange")), "outside the partition"),
]


@pytest.mark.parametrize(("spoil", "named"), BAD_FRAMES)
def test_frames_that_do_not_fit_are_refused_before_anything_is_written(conn, spoil, named):
    write_frames(conn, PRICES, price_frame(symbols=("KEEP",)), JAN)
    before = read_slice(conn, PRICES)
    with pytest.raises(FrameRejectedError, match=named):
        write_frames(conn, PRICES, spoil(price_frame()), JAN)
    conn.rollback()
    assert_frame_equal(read_slice(conn, PRICES), before)


def test_nullable_columns_accept_nulls(conn):
    frame = pl.DataFrame(
        {
            "exchange": ["US"], "symbol": ["AAA"], "date": [dt.date(2024, 1, 5)],
            "value": [0.25], "unadjusted_value": [None], "currency": ["USD"],
            "declaration_date": [None], "record_date": [dt.date(2024, 1, 8)],
            "payment_date": [None], "period": [""],
        },
        schema=DIVIDENDS.polars_schema,
    )
    write_frames(conn, DIVIDENDS, frame)
    back = read_slice(conn, DIVIDENDS)
    assert_frame_equal(back, frame)
    assert back["period"].to_list() == [""]  # empty string is not NULL


def test_reader_selects_columns_and_rejects_unknown_ones(conn):
    write_frames(conn, PRICES, price_frame(), JAN)
    assert read_slice(conn, PRICES, JAN, columns=["symbol", "close"]).columns == ["symbol", "close"]
    with pytest.raises(ValueError, match="no column"):
        read_slice(conn, PRICES, JAN, columns=["nope"])


def test_hypertable_merge_statement_upserts_and_counts(conn, monkeypatch):
    """The INSERT ... ON CONFLICT path used on hypertables, run on a plain table."""
    from eod_pipeline.warehouse.writer import TableWriter

    monkeypatch.setattr(TableWriter, "_is_hypertable", lambda self: True)
    write_frames(conn, PRICES, price_frame(symbols=("AAA",)), JAN)
    mixed = pl.concat([price_frame(symbols=("AAA",), bump=1.0), price_frame(symbols=("NEW",))])
    report = write_frames(conn, PRICES, mixed, JAN)
    assert (report.mode, report.inserted, report.updated) == ("merge", 5, 5)
    same = write_frames(conn, PRICES, mixed, JAN)
    assert (same.inserted, same.updated, same.unchanged) == (0, 0, 10)
    assert_frame_equal(read_slice(conn, PRICES, JAN), mixed.sort("exchange", "symbol", "date"))


def test_merge_counts_inserted_and_updated_rows_exactly(conn):
    base = price_frame(symbols=("AAA", "BBB"))
    write_frames(conn, PRICES, base, JAN)
    changed = base.filter(pl.col("symbol") == "AAA").with_columns(pl.col("volume") + 1)
    mixed = pl.concat([changed, base.filter(pl.col("symbol") == "BBB"),
                       price_frame(symbols=("NEW",))])
    report = write_frames(conn, PRICES, mixed, JAN)
    assert (report.mode, report.inserted, report.updated, report.unchanged) == (
        "merge", 5, 5, 5)
    assert_frame_equal(read_slice(conn, PRICES, JAN), mixed.sort("exchange", "symbol", "date"))


def test_a_changed_row_is_recorded_as_a_revision_with_old_and_new_values(conn):
    base = price_frame(symbols=("AAA",))
    write_frames(conn, PRICES, base, JAN, run_id="first")
    changed = base.head(1).with_columns(pl.col("volume") + 7)
    report = write_frames(conn, PRICES, pl.concat([changed, base.slice(1)]), JAN,
                          run_id="second")
    assert (report.updated, report.revised) == (1, 1)
    rows = conn.execute("SELECT symbol, date, old_volume, new_volume, old_close, new_close, "
                        "run_id FROM eod.price_revisions").fetchall()
    first = base.row(0, named=True)
    assert rows == [("AAA", first["date"], first["volume"], first["volume"] + 7,
                     first["close"], first["close"], "second")]
    # Writing the same values again changes nothing and records nothing.
    again = write_frames(conn, PRICES, pl.concat([changed, base.slice(1)]), JAN)
    assert (again.updated, again.revised) == (0, 0)


def test_a_batch_and_its_facts_commit_together_or_not_at_all(conn):
    from eod_pipeline.ingest.coverage import log_frame
    from eod_pipeline.warehouse.batches import LoggedBatch
    from eod_pipeline.warehouse.tables import FETCH_LOG

    rows = price_frame(symbols=("AAA",))
    first, last = rows["date"].min(), rows["date"].max()
    log = log_frame("US", "prices", "run-1", [("AAA", first, last, rows.height, 0, first,
                                                last)])
    conn.execute("ALTER TABLE eod.fetch_log ADD CONSTRAINT no_runs CHECK (run_id <> 'run-1')")
    conn.commit()
    with pytest.raises(psycopg.errors.CheckViolation):
        write_frames(conn, PRICES, LoggedBatch(rows, ((FETCH_LOG, log),)), JAN)
    conn.rollback()
    assert conn.execute("SELECT count(*) FROM eod.prices").fetchone()[0] == 0
    conn.execute("ALTER TABLE eod.fetch_log DROP CONSTRAINT no_runs")
    conn.commit()
    report = write_frames(conn, PRICES, LoggedBatch(rows, ((FETCH_LOG, log),)), JAN)
    assert report.companions == {"fetch_log": 1}
    assert conn.execute("SELECT count(*) FROM eod.prices").fetchone()[0] == rows.height
    assert conn.execute("SELECT rows FROM eod.fetch_log").fetchone()[0] == rows.height
