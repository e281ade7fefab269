"""Build the Dagster code location from the pipeline settings."""

from __future__ import annotations

import warnings

import dagster as dg

from eod_pipeline.config import PipelineConfig, load_config
from eod_pipeline.defs.assets.corporate_actions import (
    build_adjustments_asset,
    build_event_asset,
)
from eod_pipeline.defs.assets.coverage_report import build_coverage_report
from eod_pipeline.defs.assets.exchange_details import exchange_details
from eod_pipeline.defs.assets.prices import build_price_asset
from eod_pipeline.defs.assets.reference import build_reference_assets, exchanges
from eod_pipeline.defs.assets.symbol_changes import build_symbol_changes_assets
from eod_pipeline.defs.checks import build_price_checks
from eod_pipeline.defs.io_manager import WarehouseIOManager
from eod_pipeline.defs.reaper import dead_run_reaper
from eod_pipeline.defs.resources import ClockResource, EodhdResource, WarehouseResource
from eod_pipeline.defs.sensors import build_daily_refresh_sensor, build_reference_schedule
from eod_pipeline.eodhd.settings import ENV_TOKEN
from eod_pipeline.ingest.events import DIVIDEND_EVENTS, SPLIT_EVENTS
from eod_pipeline.warehouse.connection import existing_database_url
from eod_pipeline.warehouse.storage import hypertables_at


def default_resources() -> dict[str, object]:
    warehouse = WarehouseResource()
    return {
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        # The secret as an EnvVar: Dagster shows the variable's name, never its value.
        "eodhd": EodhdResource(token=dg.EnvVar(ENV_TOKEN)),
        "clock": ClockResource(),
    }


def build_definitions(pipeline: PipelineConfig | None = None,
                      resources: dict[str, object] | None = None) -> dg.Definitions:
    pipeline = pipeline or load_config()
    with warnings.catch_warnings():
        # BackfillPolicy is "beta" in Dagster 1.13 yet it is how ranges run as one run
        # (../shared/platform-notes.md); the warning would print on every load.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _build(pipeline, resources)


def _hypertables(resources: dict[str, object] | None) -> set[str] | None:
    """Which warehouse tables are hypertables, for the UI's kinds; looks, never starts."""
    warehouse = (resources or {}).get("warehouse")
    explicit = warehouse.database_url if isinstance(warehouse, WarehouseResource) else None
    return hypertables_at(existing_database_url(explicit))


def _build(pipeline: PipelineConfig, resources: dict[str, object] | None) -> dg.Definitions:
    assets: list[dg.AssetsDefinition] = [exchanges, exchange_details,
                                         *build_reference_assets(pipeline),
                                         *build_symbol_changes_assets(pipeline)]
    checks = []
    hypertables = _hypertables(resources)
    for setting in pipeline.exchanges:
        assets.append(build_price_asset(setting, pipeline, hypertables))
        assets.extend(build_event_asset(setting, kind, pipeline.max_failed_share, hypertables)
                      for kind in (SPLIT_EVENTS, DIVIDEND_EVENTS))
        assets.append(build_adjustments_asset(setting, pipeline, hypertables))
        checks.append(build_price_checks(setting, pipeline))
    if pipeline.exchanges:
        assets.append(build_coverage_report(pipeline))
    return dg.Definitions(
        assets=assets,
        asset_checks=checks,
        sensors=[build_daily_refresh_sensor(pipeline), dead_run_reaper],
        schedules=[build_reference_schedule(pipeline)],
        resources={**default_resources(), **(resources or {})},
        # Steps run in the run's own process. Every EODHD step holds the one `eodhd` pool
        # slot, so a run's steps are sequential anyway, and the multiprocess default
        # started a Python process per step: ~3 s and ~200 MB each, twice per price run
        # (asset, then its checks), measured on a one-day refresh.
        executor=dg.in_process_executor,
    )
