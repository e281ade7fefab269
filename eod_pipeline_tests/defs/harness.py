"""A real pipeline for tests: simulator over loopback, fresh warehouse, Dagster instance."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl
import psycopg

from eod_pipeline.config import PipelineConfig, parse_exchanges
from eod_pipeline.defs.assets.corporate_actions import event_asset_key
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.definitions import build_definitions
from eod_pipeline.defs.io_manager import WarehouseIOManager
from eod_pipeline.defs.resources import ClockResource, EodhdResource, WarehouseResource
from eod_pipeline.ingest.events import DIVIDEND_EVENTS, SPLIT_EVENTS
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eodhd_simulator import SimulatorServer


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

    def backfill_with_actions(self, code: str, start: str, end: str) -> None:
        """Prices, then the split and dividend events, over one range: the history the
        adjusted reads and the readjustment tests start from."""
        assert self.backfill(code, start, end).success
        tags = {"dagster/asset_partition_range_start": start,
                "dagster/asset_partition_range_end": end}
        for kind in (SPLIT_EVENTS, DIVIDEND_EVENTS):
            assert self.materialize(event_asset_key(kind, code), tags=tags).success

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


#: A run in a process of its own (the way a run worker runs it), with the code location
#: configured by the environment alone; argv: asset keys (JSON list), run tags (JSON).
_RUN_IN_A_PROCESS = textwrap.dedent(
    """
    import json, sys
    import dagster as dg
    from eod_pipeline.defs import defs
    keys = [dg.AssetKey.from_user_string(k) for k in json.loads(sys.argv[1])]
    job = defs.resolve_implicit_job_def_def_for_assets(keys)
    job.execute_in_process(asset_selection=keys, instance=dg.DagsterInstance.ephemeral(),
                           tags=json.loads(sys.argv[2]))
    """
)


def kill_mid_run(h: Harness, keys: list[dg.AssetKey], tags: dict[str, str],
                 stored_enough: Callable[[], bool], env: dict[str, str],
                 timeout: float = 120.0) -> None:
    """Run `keys` in a process of its own against the harness's warehouse and simulator,
    and SIGKILL it (as the OOM killer or a lost node would) once `stored_enough()`."""
    from eod_pipeline_tests.fixtures.simulator import SIM_TOKEN

    full_env = {**os.environ, "EOD_DATABASE_URL": h.warehouse_url,
                "EODHD_BASE_URL": h.sim.base_url, "EODHD_API_TOKEN": SIM_TOKEN, **env}
    proc = subprocess.Popen(
        [sys.executable, "-c", _RUN_IN_A_PROCESS,
         json.dumps([k.to_user_string() for k in keys]), json.dumps(tags)],
        env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not stored_enough() and proc.poll() is None:
            assert time.monotonic() < deadline, "the run stored too little in time"
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
