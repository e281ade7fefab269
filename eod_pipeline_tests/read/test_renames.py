"""A renamed ticker reads as one continuous series (issue 13's proof): rows stored under
the old code before the change and under the new code from it come back labelled with
the requested code, adjusted as one ticker's; the old code reads its own rows; the
universe on a date lists the security under the code it had then."""

from __future__ import annotations

import datetime as dt
import math

import dagster as dg
import polars as pl
import psycopg
import pytest

from eod_pipeline import read
from eod_pipeline.defs.assets.symbol_changes import ASSET_NAME
from eod_pipeline.warehouse.price_reads import Segment, symbol_chains
from eod_pipeline_tests.fixtures.simulator import SIM_NOW
from eodhd_simulator import SimulatorConfig, Universe
from eodhd_simulator.events import InjectedDividend, InjectedSplit
from eodhd_simulator.renames import Rename

START, END = dt.date(2026, 8, 3), dt.date(2026, 10, 30)
EFFECTIVE = dt.date(2026, 9, 14)  # a Monday: the first session under the new code
NEW = "RENAMED"


def _steady_code() -> str:
    """A common stock of the default universe trading through the window."""
    uni = Universe(SimulatorConfig(now=SIM_NOW))
    return [s.code for s in uni.symbols("US")
            if s.type == "Common Stock" and s.delisted_on is None
            and s.listed_on < dt.date(2014, 1, 1) and s.code.isalpha()][5]


OLD = _steady_code()
# Actions keyed by the company: a dividend while it is OLD, a 3:1 split once it is NEW
# (so the split must adjust rows stored under OLD).
DIVIDEND = InjectedDividend("US", OLD, dt.date(2026, 8, 19), fraction=0.03)
SPLIT = InjectedSplit("US", OLD, dt.date(2026, 10, 14), numerator=3)


def _company(columns: list[str]) -> pl.DataFrame:
    """The same company in a market without the rename: what one series must equal."""
    uni = Universe(SimulatorConfig(now=SIM_NOW, injected_splits=(SPLIT,),
                                   injected_dividends=(DIVIDEND,)))
    return uni.history("US", OLD, START, END, as_of=SIM_NOW).select(columns)


def _company_splits() -> list[tuple[dt.date, float]]:
    uni = Universe(SimulatorConfig(now=SIM_NOW, injected_splits=(SPLIT,),
                                   injected_dividends=(DIVIDEND,)))
    return [(s.date, s.factor) for s in uni.path("US", OLD, SIM_NOW.date()).splits]


@pytest.fixture
def renamed(make_harness, warehouse_url: str) -> str:
    h = make_harness(warehouse_url, renames=(Rename("US", OLD, NEW, EFFECTIVE),),
                     injected_splits=(SPLIT,), injected_dividends=(DIVIDEND,))
    h.load_reference("US")
    h.backfill_with_actions("US", START.isoformat(), END.isoformat())
    assert h.materialize(dg.AssetKey(ASSET_NAME)).success
    return warehouse_url


@pytest.mark.timescaledb
def test_a_renamed_ticker_reads_as_one_series(renamed: str) -> None:
    url = renamed
    company = _company(["date", "open", "high", "low", "close", "adjusted_close", "volume"])
    for adjust in ("raw", "vendor", "split", "total"):
        series = read.prices("US", NEW, start=START, end=END, adjust=adjust,
                             database_url=url)
        # Every session of the window, once, under the requested code...
        assert series["date"].to_list() == company["date"].to_list(), adjust
        assert set(series["symbol"]) == {NEW}
        # ...stored under the old code before the change and the new one from it.
        listed = series.select(pl.when(pl.col("date") < EFFECTIVE).then(pl.lit(OLD))
                               .otherwise(pl.lit(NEW)).alias("want"), "listed_as")
        assert (listed["want"] == listed["listed_as"]).all(), adjust
        assert set(series["listed_as"]) == {OLD, NEW}
        if adjust in ("raw", "vendor"):
            raw = ["date", "open", "high", "low", "close", "volume"]
            assert series.select(raw).equals(company.select(raw)), adjust
        if adjust == "total":
            # The company's adjusted close on every date: the split after the change
            # and the dividend before it adjust the old code's rows too.
            differ = series.join(company, on="date", suffix="_co").filter(
                pl.col("close") != pl.col("adjusted_close"))
            assert differ.is_empty(), differ.head()
        if adjust == "split":
            # Raw times every later split's factor of the company (its own records),
            # the injected 3:1 after the change among them.
            splits = _company_splits()
            assert (SPLIT.date, 1 / 3) in splits
            both = series.join(company, on="date", suffix="_raw")
            both = both.with_columns(pl.Series("factor", [
                math.prod(f for x, f in splits if x > d) for d in both["date"]]))
            assert both.filter((pl.col("date") < EFFECTIVE) & (pl.col("factor") < 1)).height
            off = both.filter((pl.col("close") - pl.col("close_raw") * pl.col("factor")).abs()
                              > 0.00005 + 1e-9)
            assert off.is_empty(), off.head()
            assert (both["volume"] == (both["volume_raw"] / both["factor"]).round()).all()

    # The old code reads its own rows only; a read of both keeps them apart.
    old = read.prices("US", OLD, start=START, end=END, adjust="raw", database_url=url)
    assert old["date"].max() < EFFECTIVE and set(old["listed_as"]) == {OLD}
    both = read.prices("US", [OLD, NEW], start=START, end=END, adjust="raw",
                       database_url=url)
    assert both.group_by("symbol").len().sort("symbol").rows() == sorted(
        [(OLD, old.height), (NEW, company.height)])
    # columns= may ask for listed_as; as_of after the loads follows the change too.
    picked = read.prices("US", NEW, start=START, end=END, columns=["date", "listed_as"],
                         as_of=dt.datetime.now(dt.UTC), database_url=url)
    assert picked.columns == ["date", "listed_as"] and picked.height == company.height


@pytest.mark.timescaledb
def test_a_change_is_followed_only_once_effective_and_the_universe_uses_the_code_then(
        renamed: str) -> None:
    with psycopg.connect(renamed) as conn:
        before = dt.datetime.combine(EFFECTIVE - dt.timedelta(days=1), dt.time(23),
                                     tzinfo=dt.UTC)
        assert symbol_chains(conn, "US", [NEW], before) == {
            NEW: [Segment(NEW, NEW, None, None)]}
        assert symbol_chains(conn, "US", [NEW, OLD], None) == {
            NEW: [Segment(NEW, NEW, EFFECTIVE, None), Segment(NEW, OLD, None, EFFECTIVE)],
            OLD: [Segment(OLD, OLD, None, None)]}
    on_friday = set(read.universe("US", on=EFFECTIVE - dt.timedelta(days=3),
                                  database_url=renamed)["symbol"])
    on_monday = set(read.universe("US", on=EFFECTIVE, database_url=renamed)["symbol"])
    assert OLD in on_friday and NEW not in on_friday
    assert NEW in on_monday and OLD not in on_monday
    # A symbol list taken before the change still shows the old code listed: the change,
    # not the delisted flag, says it is no longer the security's code.
    with psycopg.connect(renamed) as conn:
        conn.execute("UPDATE eod.symbols SET delisted = false WHERE exchange = 'US'"
                     " AND code = %s", (OLD,))
    after = set(read.universe("US", on=EFFECTIVE + dt.timedelta(days=7),
                              database_url=renamed)["symbol"])
    assert NEW in after and OLD not in after
