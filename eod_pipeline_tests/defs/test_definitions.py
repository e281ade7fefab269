"""Invariants of the code location, checked by walking its definitions."""

import datetime as dt

from eod_pipeline.config import PipelineConfig, parse_exchanges
from eod_pipeline.defs.definitions import build_definitions


def test_every_step_that_can_spend_eodhd_calls_holds_the_eodhd_pool():
    """One step at a time holds the API token (its in-process rate limiter is then
    enough): every asset or check step given the EODHD resource declares the pool."""
    pipeline = PipelineConfig(exchanges=parse_exchanges(
        "US,LSE", dt.date(2024, 1, 2), dt.date(2026, 11, 20)))
    defs = build_definitions(pipeline)
    spenders = [d for d in [*defs.assets, *defs.asset_checks]
                if "eodhd" in d.required_resource_keys]
    names = {d.node_def.name for d in spenders}
    assert {"eod_prices__US", "price_checks_US", "symbol_lists", "eod_adjustments__LSE"} <= names
    assert {d.node_def.name: d.node_def.pool for d in spenders} == dict.fromkeys(
        names, "eodhd")


def test_every_price_column_has_a_description_in_the_ui_schema():
    from eod_pipeline.defs.io_manager import column_schema
    from eod_pipeline.warehouse.tables import PRICES

    described = {c.name: c.description for c in column_schema(PRICES).columns}
    assert set(described) == set(PRICES.column_names)
    assert all(described.values()), described
    assert "adjusted" in described["adjusted_close"]
