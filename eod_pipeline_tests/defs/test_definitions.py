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
    import dagster as dg

    from eod_pipeline.warehouse.tables import PRICES

    defs = build_definitions(PipelineConfig(exchanges=parse_exchanges(
        "US", dt.date(2024, 1, 2), dt.date(2026, 11, 20))))
    spec = next(s for a in defs.assets for k, s in a.specs_by_key.items()
                if k == dg.AssetKey(["eod_prices", "US"]))
    schema = spec.metadata["dagster/column_schema"]
    described = {c.name: c.description for c in schema.columns}
    assert set(described) == set(PRICES.column_names)
    assert all(described.values()), described
    assert "adjusted" in described["adjusted_close"]


def test_only_the_io_manager_writes_rows_from_the_code_location():
    """The one Dagster write pattern: assets return rows, the I/O manager stores them.

    No module of the code location but the I/O manager imports a warehouse writer, and
    every asset naming a table (`eod/table`) is stored by the warehouse I/O manager.
    """
    import ast
    from pathlib import Path

    import eod_pipeline.defs as defs_package

    writers = {"eod_pipeline.warehouse.writer", "eod_pipeline.warehouse.symbols"}
    importers = set()
    for path in Path(defs_package.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in writers:
                names = {a.name for a in node.names}
                # Types describing what an asset returns are not writes.
                if names - {"SymbolSnapshot"}:
                    importers.add(path.name)
    assert importers == {"io_manager.py"}

    pipeline = PipelineConfig(exchanges=parse_exchanges(
        "US", dt.date(2024, 1, 2), dt.date(2026, 11, 20)))
    defs = build_definitions(pipeline)
    tables = {}
    for asset in defs.assets:
        for key, spec in asset.specs_by_key.items():
            if "eod/table" in spec.metadata:
                tables[key.to_user_string()] = asset.get_io_manager_key_for_asset_key(key)
    assert {"exchanges", "symbol_lists", "exchange_calendars", "eod_prices/US",
            "eod_splits/US", "eod_adjustments/US"} <= set(tables)
    assert set(tables.values()) == {"io_manager"}


def test_no_check_of_the_code_location_is_partitioned():
    """The instance's event log (eod_pipeline/dagster_instance/event_log.py) stores each
    planned check as one row a run, which is right only for unpartitioned checks: every
    check judges its run's whole window and reports one result."""
    defs = build_definitions(PipelineConfig(exchanges=parse_exchanges(
        "US,LSE", dt.date(2024, 1, 2), dt.date(2026, 11, 20))))
    graph = defs.resolve_asset_graph()
    assert len(graph.asset_check_keys) >= 16
    assert {k: graph.get(k).partitions_def for k in graph.asset_check_keys} == dict.fromkeys(
        graph.asset_check_keys)
