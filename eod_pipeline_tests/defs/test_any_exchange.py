"""Issue 14's proof: an EODHD exchange outside the built-in registry, served by the
simulator, is configured from the facts the reference assets stored and backfilled
through Dagster like a built-in one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.config import ConfigError
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.markets.registry import EXCHANGES
from eod_pipeline.markets.stored import CACHE_FILE_NAME, DEFAULT_DATA_DELAY, read_cache
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.tables import EXCHANGE_DETAILS
from eod_pipeline_tests.defs.harness import make_pipeline

#: Warsaw: not one of the built-in exchanges; 2026-11-11 is its Independence Day.
CODE = "WAR"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_url: str) -> Path:
    """The registry looks codes up in this warehouse (and a cache file in tmp_path)."""
    monkeypatch.setenv("EOD_HOME", str(tmp_path))
    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    return tmp_path


def test_an_exchange_outside_the_registry_is_configured_and_backfilled(harness_factory,
                                                                       home: Path):
    assert CODE not in EXCHANGES
    h = harness_factory("US:2025-01-02")
    today = h.now.date()
    spec = f"US:2025-01-02,{CODE}:2026-11-02"

    # Before the facts are stored, the code is refused, naming where codes come from.
    with pytest.raises(ConfigError, match="not in the stored EODHD exchanges list"):
        make_pipeline(spec, today)

    calls = h.calls()
    result = h.materialize([dg.AssetKey("exchanges"), dg.AssetKey("exchange_details")])
    assert result.success
    listed = len(h.sim.universe.exchanges())
    assert h.calls() - calls == 1 + listed  # the list, then one details call each
    meta = result.asset_materializations_for_node("exchange_details")[0].metadata
    assert meta["exchanges"].value == listed
    with psycopg.connect(h.warehouse_url) as conn:
        stored = read_slice(conn, EXCHANGE_DETAILS).filter(pl.col("code") == CODE)
    assert stored.select("timezone", "open", "close").row(0) == (
        "Europe/Warsaw", "09:00:00", "17:00:00")
    assert CODE in (read_cache(home / CACHE_FILE_NAME) or {})

    # Now the code loads from the warehouse, with the zone and close EODHD gave.
    h.pipeline = make_pipeline(spec, today)
    war = h.pipeline.exchange(CODE).info
    assert (war.timezone, war.close, war.data_delay) == (
        "Europe/Warsaw", dt.time(17), DEFAULT_DATA_DELAY)
    prices = h.defs().resolve_assets_def(price_asset_key(CODE))
    assert prices.partitions_def.timezone == "Europe/Warsaw"

    # Its reference data and a week of prices, through Dagster.
    h.load_reference(CODE)
    assert h.backfill(CODE, "2026-11-09", "2026-11-13").success
    got = h.stored(CODE).filter(pl.col("date") <= dt.date(2026, 11, 13))
    expected = h.expected(CODE, dt.date(2026, 11, 9), dt.date(2026, 11, 13))
    assert got.height > 0
    assert_frame_equal(got, expected, check_column_order=False)
    # The holiday is skipped, as on the exchange.
    assert set(got["date"].unique()) == {dt.date(2026, 11, d) for d in (9, 10, 12, 13)}
