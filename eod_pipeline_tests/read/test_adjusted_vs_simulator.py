"""Adjustments computed in the warehouse equal EODHD's (the simulator's) adjusted_close
for every date of every ticker, after forward splits, reverse splits and dividends; the
split-adjusted view follows the splits alone. On hypertables with compressed chunks and
on plain tables."""

from __future__ import annotations

import datetime as dt

import polars as pl
import psycopg
import pytest

from eod_pipeline import read
from eod_pipeline.warehouse.price_reads import local_vs_vendor_drift
from eod_pipeline_tests.fixtures.postgres import compress_all_chunks
from eodhd_simulator.events import InjectedDividend, InjectedSplit

START, END = dt.date(2026, 6, 1), dt.date(2026, 11, 20)
#: A forward split, a reverse split and dividends, on tickers of the default universe
#: (seed 7), besides whatever actions the simulator generates in the window.
FORWARD = InjectedSplit("US", "BRK-B", dt.date(2026, 8, 12), numerator=3)
REVERSE = InjectedSplit("US", "FQC", dt.date(2026, 9, 16), numerator=1, denominator=10)
DIVIDENDS = (InjectedDividend("US", "KSGV", dt.date(2026, 7, 15), fraction=0.03),
             InjectedDividend("US", "BRK-B", dt.date(2026, 10, 14), fraction=0.02))


def _load(make_harness, url: str):
    h = make_harness(url, injected_splits=(FORWARD, REVERSE), injected_dividends=DIVIDENDS)
    h.load_reference("US")
    h.backfill_with_actions("US", START.isoformat(), END.isoformat())
    return h


def _round4(expr: pl.Expr) -> pl.Expr:
    return expr.round(4, mode="half_away_from_zero")


def _check_against_simulator(h, url: str) -> None:
    expected = h.expected("US", START, END)
    total = read.prices("US", start=START, end=END, adjust="total", database_url=url)
    assert total.height == expected.height > 0
    joined = total.join(expected, on=["exchange", "symbol", "date"], suffix="_sim",
                        validate="1:1")
    assert joined.height == expected.height
    # The local total-return close IS the vendor's adjusted_close, every row.
    differ = joined.filter(pl.col("close") != pl.col("adjusted_close"))
    assert differ.is_empty(), differ.select("symbol", "date", "close", "adjusted_close")
    # ...and the actions really were there: injected and generated, both directions.
    with psycopg.connect(url) as conn:
        splits = conn.execute("SELECT symbol, numerator, denominator FROM eod.splits "
                              "WHERE exchange = 'US'").fetchall()
        dividends = conn.execute("SELECT count(*) FROM eod.dividends WHERE exchange = 'US'"
                                 ).fetchone()[0]
        assert local_vs_vendor_drift(conn, "US", START, END).is_empty()
    assert ("BRK-B", 3.0, 1.0) in splits and ("FQC", 1.0, 10.0) in splits
    assert dividends >= len(DIVIDENDS)
    moved = joined.filter(pl.col("close") != pl.col("close_sim"))["symbol"].unique()
    assert {"BRK-B", "FQC", "KSGV"} <= set(moved)

    # Split-adjusted: raw prices times the later splits' factors (computed here from
    # the simulator's own split records), volume divided by them.
    factors = []
    for sym in h.sim.universe.symbols("US"):
        path = h.sim.universe.path("US", sym.code, h.now.date())
        factors += [(sym.code, s.date, s.factor) for s in path.splits]
    actions = pl.DataFrame(factors, schema={"symbol": pl.String, "ex": pl.Date,
                                           "f": pl.Float64}, orient="row")
    later = (expected.select("symbol", "date").join(actions, on="symbol", how="left")
             .filter(pl.col("ex") > pl.col("date")).sort("ex", descending=True)
             .group_by("symbol", "date").agg(pl.col("f").product().alias("factor")))
    want = (expected.join(later, on=["symbol", "date"], how="left")
            .with_columns(pl.col("factor").fill_null(1.0))
            .select("symbol", "date",
                    *(_round4(pl.col(c) * pl.col("factor")).alias(c)
                      for c in ("open", "high", "low", "close")),
                    (pl.col("volume") / pl.col("factor")).round().cast(pl.Int64)
                    .alias("volume")))
    split = read.prices("US", start=START, end=END, adjust="split",
                        columns=["symbol", "date", "open", "high", "low", "close", "volume"],
                        database_url=url)
    both = split.join(want, on=["symbol", "date"], suffix="_want", validate="1:1")
    assert both.height == want.height
    for column in ("open", "high", "low", "close", "volume"):
        off = both.filter((pl.col(column) - pl.col(f"{column}_want")).abs() > 1e-4 + 1e-9)
        assert off.is_empty(), (column, off.head())
    # The reverse split scales FQC's earlier prices up (a 1:10 takes x10; a later
    # generated split may take some of it back), its earlier volumes down.
    fqc = both.filter((pl.col("symbol") == "FQC") & (pl.col("date") < REVERSE.date)).join(
        expected, on=["symbol", "date"], suffix="_raw")
    assert (fqc["close"] > 4 * fqc["close_raw"]).all()
    assert (fqc["volume"] < fqc["volume_raw"]).all()


@pytest.mark.timescaledb
def test_total_return_equals_vendor_on_compressed_hypertables(make_harness, warehouse_url):
    h = _load(make_harness, warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        hypertables = {r[0] for r in conn.execute(
            "SELECT hypertable_name FROM timescaledb_information.hypertables")}
        assert {"prices", "splits", "dividends"} <= hypertables
        compress_all_chunks(conn, "eod.prices")
    _check_against_simulator(h, warehouse_url)


def test_total_return_equals_vendor_on_plain_tables(make_harness, plain_warehouse_url):
    h = _load(make_harness, plain_warehouse_url)
    _check_against_simulator(h, plain_warehouse_url)
