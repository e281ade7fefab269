"""The `eod_symbol_changes` asset: EODHD's US ticker changes into eod.symbol_changes, in
the `eodhd` pool, for 5 calls a materialization."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import psycopg

from eod_pipeline.defs.assets.symbol_changes import ASSET_NAME
from eod_pipeline.defs.definitions import build_definitions
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.tables import SYMBOL_CHANGES
from eod_pipeline_tests.defs.harness import make_pipeline
from eodhd_simulator.renames import Rename

KEY = dg.AssetKey(ASSET_NAME)
RENAMES = (
    Rename("US", "BF-B", "BFX", dt.date(2024, 3, 4), "Brown-Forman Corp"),
    Rename("US", "BFX", "BFZ", dt.date(2025, 6, 2)),
    # Before the endpoint's data starts, and outside the US: never reported.
    Rename("US", "BRK-B", "BRKX", dt.date(2021, 3, 1)),
    Rename("LSE", "M&G", "MNG", dt.date(2024, 3, 4)),
)


def _stored(url: str) -> pl.DataFrame:
    with psycopg.connect(url) as conn:
        return read_slice(conn, SYMBOL_CHANGES)


def test_symbol_changes_are_fetched_in_one_request_and_stored(harness_factory):
    h = harness_factory("US:2025-01-02", renames=RENAMES)
    result = h.materialize(KEY)
    assert result.success
    assert h.calls() == 5
    assert _stored(h.warehouse_url).to_dicts() == [
        {"exchange": "US", "old_symbol": "BF-B", "new_symbol": "BFX",
         "date": dt.date(2024, 3, 4), "company_name": "Brown-Forman Corp"},
        {"exchange": "US", "old_symbol": "BFX", "new_symbol": "BFZ",
         "date": dt.date(2025, 6, 2), "company_name": "Brown-Forman Corp"},
    ]
    meta = result.asset_materializations_for_node(ASSET_NAME)[0].metadata
    assert (meta["changes"].value, meta["calls_spent"].value) == (2, 5)
    assert meta["dagster/table_name"].value == "eod.symbol_changes"
    # Again: the same rows, nothing changed.
    again = h.materialize(KEY)
    meta = again.asset_materializations_for_node(ASSET_NAME)[0].metadata
    assert (meta["rows_inserted"].value, meta["rows_updated"].value) == (0, 0)
    assert _stored(h.warehouse_url).height == 2


def test_the_asset_holds_the_eodhd_pool_and_exists_only_with_the_us():
    today = dt.date(2026, 11, 20)
    with_us = build_definitions(make_pipeline("US,LSE", today))
    spec = with_us.resolve_assets_def(KEY)
    assert spec.node_def.pool == "eodhd"
    without = build_definitions(make_pipeline("LSE", today))
    assert KEY not in {k for a in without.assets for k in a.keys}
