"""Row checks on a batch of answers: what is stored, what is rejected and why."""

import datetime as dt

import polars as pl

from eod_pipeline.ingest.row_checks import check_prices

START, END = dt.date(2026, 1, 5), dt.date(2026, 1, 9)


def _rows(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame(
        [("US", s, d, o, h, lo, c, c, v, req) for s, d, o, h, lo, c, v, req in rows],
        schema={"exchange": pl.String, "symbol": pl.String, "date": pl.Date,
                "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
                "close": pl.Float64, "adjusted_close": pl.Float64, "volume": pl.Int64,
                "_request": pl.UInt32},
        orient="row",
    )


def test_a_clean_batch_passes_whole_with_its_tag_columns():
    batch = _rows(("AAA", dt.date(2026, 1, 5), 10, 11, 9, 10.5, 100, 0),
                  ("BBB", dt.date(2026, 1, 5), 20, 21, 19, 20.5, 200, 1))
    checked = check_prices(batch, START, END)
    assert checked.good.equals(batch)  # "_request" rides along for the fetch log
    assert checked.rejects.is_empty()


def test_bad_rows_are_rejected_with_the_reason_and_the_row_as_received():
    batch = _rows(
        ("AAA", dt.date(2026, 1, 5), 10, 11, 9, 10.5, 100, 0),
        ("AAA", dt.date(2026, 1, 6), 10, 9, 11, 10.0, 100, 0),      # high below low
        ("BBB", dt.date(2026, 1, 12), 20, 21, 19, 20.5, 200, 1),    # after the range
        ("BBB", dt.date(2026, 1, 7), -1, 21, 19, 20.5, 200, 1),     # negative price
    )
    checked = check_prices(batch, START, END)
    assert checked.good["symbol"].to_list() == ["AAA"]
    reasons = dict(zip(checked.rejects["date"].cast(pl.String), checked.rejects["reason"],
                       strict=True))
    assert reasons == {"2026-01-06": "high below low",
                       "2026-01-12": "date outside the requested range",
                       "2026-01-07": "negative price or volume"}
    raw = checked.rejects.filter(pl.col("reason") == "high below low")["raw"].item()
    assert '"high":9.0' in raw and '"low":11.0' in raw and "_request" not in raw


def test_exact_duplicates_collapse_and_contradictions_are_both_rejected():
    day = dt.date(2026, 1, 5)
    batch = _rows(("AAA", day, 10, 11, 9, 10.5, 100, 0),
                  ("AAA", day, 10, 11, 9, 10.5, 100, 0),   # the same row twice: one kept
                  ("BBB", day, 20, 21, 19, 20.5, 200, 1),
                  ("BBB", day, 20, 21, 19, 20.9, 200, 1))  # same key, another close
    checked = check_prices(batch, START, END)
    assert checked.good["symbol"].to_list() == ["AAA"]
    assert checked.rejects["reason"].to_list() == ["duplicate key with different values"] * 2
