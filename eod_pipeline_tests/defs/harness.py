"""A real pipeline for tests: simulator over loopback, fresh warehouse, Dagster instance."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl
import psycopg

from eod_pipeline.config import PipelineConfig, parse_exchanges
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.definitions import build_definitions
from eod_pipeline.defs.io_manager import WarehouseIOManager
from eod_pipeline.defs.resources import ClockResource, EodhdResource, WarehouseResource
from eod_pipeline.simulator import SimulatorServer
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES


@dataclass
class Harness:
    sim: SimulatorServer
    warehouse_url: str
    instance: dg.DagsterInstance
    pipeline: PipelineConfig
    now: dt.datetime

    eodhd_options: dict[str, Any] | None = None

    def resources(self) -> dict[str, Any]:
        warehouse = WarehouseResource(database_url=self.warehouse_url)
        return {
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "eodhd": EodhdResource(base_url=self.sim.base_url, **(self.eodhd_options or {})),
            "clock": ClockResource(now_iso=self.now.isoformat()),
        }

    def defs(self) -> dg.Definitions:
        return build_definitions(self.pipeline, self.resources())

    def materialize(self, selection: str | dg.AssetKey | list[dg.AssetKey], *,
                    partition_key: str | None = None, tags: dict[str, str] | None = None,
                    run_config: dict | None = None, raise_on_error: bool = True
                    ) -> dg.ExecuteInProcessResult:
        """One run of the selected assets, the way a launch from the UI runs them."""
        defs = self.defs()
        if isinstance(selection, list):
            keys = selection
        else:
            keys = [selection if isinstance(selection, dg.AssetKey) else dg.AssetKey(selection)]
        job = defs.resolve_implicit_job_def_def_for_assets(keys)
        return job.execute_in_process(
            instance=self.instance, partition_key=partition_key, tags=tags,
            run_config=run_config, raise_on_error=raise_on_error,
            asset_selection=keys,
        )

    def set_clock(self, now: dt.datetime) -> None:
        self.now = now
        self.sim.set_clock(now)

    def load_reference(self, code: str) -> None:
        for asset in ("symbol_lists", "exchange_calendars"):
            assert self.materialize(asset, partition_key=code).success

    def backfill(self, code: str, start: str, end: str, **kwargs: Any
                 ) -> dg.ExecuteInProcessResult:
        tags = {"dagster/asset_partition_range_start": start,
                "dagster/asset_partition_range_end": end}
        return self.materialize(price_asset_key(code), tags=tags, **kwargs)

    def stored(self, code: str) -> pl.DataFrame:
        with psycopg.connect(self.warehouse_url) as conn:
            return read_slice(conn, PRICES, TableSlice(PRICES, {"exchange": [code]}))

    def expected(self, code: str, start: dt.date, end: dt.date) -> pl.DataFrame:
        frames = []
        for sym in self.sim.universe.symbols(code):
            hist = self.sim.universe.history(code, sym.code, start, end, as_of=self.now)
            frames.append(hist.select(pl.lit(code).alias("exchange"),
                                      pl.lit(sym.code).alias("symbol"), pl.all()))
        return pl.concat(frames).sort("exchange", "symbol", "date")

    def calls(self) -> int:
        """API calls the simulator has charged so far (all tokens, all days)."""
        credits = self.sim.stats()["credits"]
        return sum(n for per_day in credits.values() for n in per_day.values())


def make_pipeline(spec: str, today: dt.date, **settings: Any) -> PipelineConfig:
    return PipelineConfig(exchanges=parse_exchanges(spec, dt.date(2020, 1, 2), today),
                          **settings)
