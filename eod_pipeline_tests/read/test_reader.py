"""The reader's other answers on a small hand-made warehouse: clear errors, weekly and
monthly bars, the universe on a date, and a reverse split's adjustment by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg
import pytest

from eod_pipeline import read
from eod_pipeline.ingest.coverage import log_frame
from eod_pipeline.read import ReadError
from eod_pipeline.warehouse.batches import LoggedBatch
from eod_pipeline.warehouse.tables import FETCH_LOG, PRICES, SPLITS, SYMBOLS
from eod_pipeline.warehouse.writer import write_frames

STORED_AT = dt.datetime(2026, 3, 2, 22, 0, tzinfo=dt.UTC)
DAYS = [d for d in (dt.date(2026, 1, 5) + dt.timedelta(days=i) for i in range(56))
        if d.weekday() < 5]


def _bars(symbol: str, days: list[dt.date], base: float) -> pl.DataFrame:
    n = len(days)
    close = [round(base + i * 0.5, 4) for i in range(n)]
    return pl.DataFrame({
        "exchange": ["US"] * n, "symbol": [symbol] * n, "date": days,
        "open": [c - 0.25 for c in close], "high": [c + 1 for c in close],
        "low": [c - 1 for c in close], "close": close, "adjusted_close": close,
        "volume": [1000 + i for i in range(n)]}, schema=PRICES.polars_schema)


@pytest.fixture
def small(warehouse_url: str) -> str:
    """A (listed), B (delisted after January), C (listed from February); A has a 1:4
    reverse split on 2026-02-02."""
    prices = pl.concat([_bars("A", DAYS, 10.0), _bars("B", DAYS[:19], 20.0),
                        _bars("C", DAYS[20:], 30.0)])
    entries = [(s, DAYS[0], DAYS[-1], 0, 0, None, None) for s in ("A", "B", "C")]
    symbols = pl.DataFrame({
        "exchange": ["US"] * 3, "code": ["A", "B", "C"], "name": ["Aa", "Bb", "Cc"],
        "type": ["Common Stock"] * 3, "venue": ["NYSE"] * 3, "currency": ["USD"] * 3,
        "country": ["USA"] * 3, "isin": [None] * 3,
        "first_seen": [dt.date(2026, 3, 2)] * 3, "last_seen": [dt.date(2026, 3, 2)] * 3,
        "delisted": [False, True, False], "disappeared_on": [None] * 3},
        schema=SYMBOLS.polars_schema)
    split = pl.DataFrame({"exchange": ["US"], "symbol": ["A"], "date": [dt.date(2026, 2, 2)],
                          "split": ["1.000000/4.000000"], "numerator": [1.0],
                          "denominator": [4.0]}, schema=SPLITS.polars_schema)
    with psycopg.connect(warehouse_url) as conn:
        write_frames(conn, PRICES, LoggedBatch(prices, (
            (FETCH_LOG, log_frame("US", "prices", "test", entries, fetched_at=STORED_AT)),)))
        write_frames(conn, SYMBOLS, symbols)
        write_frames(conn, SPLITS, split)
    return warehouse_url


def test_clear_errors_name_the_problem_and_the_fix(small: str):
    cases = [
        (dict(symbols=["A", "NOPE"]), "unknown symbol(s) on US: 'NOPE'"),
        (dict(symbols=["a"]), "did you mean A?"),
        (dict(as_of=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)), "before any data of US"),
        (dict(start="2026-02-10", end="2026-02-01"), "start 2026-02-10 is after end"),
        (dict(adjust="adjusted"), "adjust='adjusted' is not a known adjustment"),
        (dict(columns=["close", "adjusted_close"]), "read it with adjust='vendor'"),
        (dict(start="10/02/2026"), "is not a date"),
        (dict(symbols=[]), "asks for nothing"),
    ]
    for kwargs, said in cases:
        with pytest.raises(ReadError) as caught:
            read.prices("US", database_url=small, **kwargs)
        assert said in str(caught.value), (kwargs, str(caught.value))
    with pytest.raises(ReadError, match="no prices for exchange 'XX'"):
        read.prices("XX", database_url=small)
    with pytest.raises(ReadError, match=r"'1w' \(weekly\) or '1mo'"):
        read.bars("US", every="1d", database_url=small)


def test_reverse_split_adjusts_earlier_bars_by_hand(small: str):
    total = read.prices("US", "A", adjust="total", database_url=small)
    raw = read.prices("US", "A", adjust="raw", database_url=small)
    before = pl.col("date") < dt.date(2026, 2, 2)
    # 1:4: four old shares became one, so earlier prices x4 and volumes / 4.
    assert total.filter(before)["close"].to_list() == [
        round(c * 4, 4) for c in raw.filter(before)["close"]]
    assert total.filter(before)["volume"].to_list() == [
        round(v / 4) for v in raw.filter(before)["volume"]]
    assert total.filter(~before).equals(raw.filter(~before))
    # Known only from when it was stored: an as_of before that sees none of it.
    then = read.prices("US", "A", adjust="total", as_of=STORED_AT, database_url=small)
    assert then.equals(raw)


def test_weekly_and_monthly_bars_aggregate_the_adjusted_days(small: str):
    daily = read.prices("US", ["A", "B"], adjust="split", database_url=small)
    for every, truncate in (("1w", "1w"), ("1mo", "1mo")):
        got = read.bars("US", ["A", "B"], every=every, adjust="split", database_url=small)
        want = (daily.sort("symbol", "date")
                .group_by("exchange", "symbol", pl.col("date").dt.truncate(truncate),
                          maintain_order=True)
                .agg(pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
                     pl.col("close").last(), pl.col("volume").sum(),
                     pl.len().cast(pl.Int64).alias("bars")))
        assert got.equals(want), (every, got, want)


def test_universe_on_a_date_keeps_delisted_names_and_leaves_out_later_ones(small: str):
    january = read.universe("US", on=dt.date(2026, 1, 20), database_url=small)
    assert january["symbol"].to_list() == ["A", "B"]
    assert january.filter(pl.col("symbol") == "B")["delisted"].item() is True
    february = read.universe("US", on="2026-02-20", database_url=small)
    assert february["symbol"].to_list() == ["A", "C"]


def test_export_writes_parquet_with_the_reader_options(small: str, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from eod_pipeline.cli import cli

    monkeypatch.setenv("EOD_DATABASE_URL", small)
    out = tmp_path / "a.parquet"
    done = CliRunner().invoke(cli, ["export", "--exchange", "US", "--symbol", "A",
                                    "--adjust", "split", "--to", "2026-01-30", "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert pl.read_parquet(out).equals(
        read.prices("US", "A", end="2026-01-30", adjust="split", database_url=small))
    bad = CliRunner().invoke(cli, ["export", "--exchange", "US", "--symbol", "NOPE",
                                   "-o", str(tmp_path / "b.parquet")])
    assert bad.exit_code == 2 and "unknown symbol(s) on US: 'NOPE'" in bad.output
