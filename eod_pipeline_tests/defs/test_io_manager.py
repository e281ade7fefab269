"""The warehouse I/O manager under a real Dagster instance and a real PostgreSQL."""

import datetime as dt

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.defs.frame_stream import FrameStream
from eod_pipeline.defs.io_manager import WarehouseIOManager
from eod_pipeline.defs.resources import WarehouseResource
from eod_pipeline.warehouse.connection import connect
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.tables import PRICES, SYMBOLS
from eod_pipeline.warehouse.validation import FrameRejectedError
from eod_pipeline_tests.warehouse.frames import price_frame

DAILY = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
EXCHANGES = dg.StaticPartitionsDefinition(["US", "LSE"])
PRICE_META = {"eod/table": "prices", "partition_expr": "date", "eod/slice": {"exchange": "US"}}


def _days(context: dg.AssetExecutionContext) -> tuple[dt.date, int]:
    window = context.partition_time_window
    return window.start.date(), (window.end - window.start).days


@dg.asset(partitions_def=DAILY, metadata=PRICE_META,
          backfill_policy=dg.BackfillPolicy.single_run())
def us_prices(context: dg.AssetExecutionContext) -> pl.DataFrame:
    start, days = _days(context)
    bump = float(context.run.tags.get("bump", 0))
    return price_frame(start=start, days=days, bump=bump)


@dg.asset(partitions_def=DAILY, metadata=PRICE_META)
def us_prices_streamed(context: dg.AssetExecutionContext) -> FrameStream:
    start, days = _days(context)
    batches = (price_frame(symbols=(s,), start=start, days=days) for s in ("AAA", "BBB", "CCC"))
    return FrameStream(batches, finish=lambda: {"tickers_failed": 0})


@dg.asset(partitions_def=DAILY, metadata=PRICE_META)
def us_prices_bad(context: dg.AssetExecutionContext) -> pl.DataFrame:
    start, days = _days(context)
    return price_frame(start=start, days=days).drop("volume")


@dg.asset(partitions_def=EXCHANGES, metadata={"eod/table": "symbols", "partition_expr": "exchange"})
def symbol_list(context: dg.AssetExecutionContext) -> pl.DataFrame:
    exchange = context.partition_key
    today = dt.date(2024, 1, 2)
    return pl.DataFrame(
        {
            "exchange": [exchange] * 2, "code": ["AAA", "M&G"], "name": ["A", "M and G"],
            "type": ["Common Stock"] * 2, "venue": ["NYSE", None], "currency": ["USD"] * 2,
            "country": ["USA"] * 2, "isin": [None, "GB00B"], "first_seen": [today] * 2,
            "last_seen": [today] * 2, "delisted": [False, True], "disappeared_on": [None, None],
        },
        schema=SYMBOLS.polars_schema,
    )


@dg.asset(partitions_def=DAILY, ins={"us_prices": dg.AssetIn(metadata={"columns": ["symbol",
                                                                                   "close"]})})
def closes_seen(us_prices: pl.DataFrame) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": len(us_prices),
                                          "columns": ",".join(us_prices.columns)})


ALL = [us_prices, us_prices_streamed, us_prices_bad, symbol_list, closes_seen]


@pytest.fixture
def resources(warehouse_url):
    warehouse = WarehouseResource(database_url=warehouse_url)
    return {"io_manager": WarehouseIOManager(warehouse=warehouse), "warehouse": warehouse}


@pytest.fixture
def instance():
    with dg.instance_for_test() as inst:
        yield inst


def _materialize(asset, resources, instance, **kwargs):
    return dg.materialize([asset], resources=resources, instance=instance, **kwargs)


def _stored(url, **where) -> pl.DataFrame:
    with connect(url) as conn:
        frame = read_slice(conn, PRICES)
    for col, value in where.items():
        frame = frame.filter(pl.col(col) == value)
    return frame


def test_one_daily_partition_maps_to_its_date(resources, instance, warehouse_url):
    result = _materialize(us_prices, resources, instance, partition_key="2024-01-03")
    assert result.success
    stored = _stored(warehouse_url)
    assert stored["date"].unique().to_list() == [dt.date(2024, 1, 3)]
    md = result.asset_materializations_for_node("us_prices")[0].metadata
    assert md["dagster/row_count"].value == 2
    assert md["dagster/table_name"].value == "eod.prices"
    assert md["rows_inserted"].value == 2
    # The column schema is the asset's definition metadata, not repeated per partition.
    assert "dagster/column_schema" not in md
    assert md["rows_per_s"].value > 0


def test_a_range_of_partitions_runs_as_one_slice_and_reruns_idempotently(
    resources, instance, warehouse_url
):
    tags = {"dagster/asset_partition_range_start": "2024-01-02",
            "dagster/asset_partition_range_end": "2024-01-05"}
    first = _materialize(us_prices, resources, instance, tags=tags)
    assert first.success
    assert len(_stored(warehouse_url)) == 2 * 4
    again = _materialize(us_prices, resources, instance, tags={**tags, "bump": "1.5"})
    md = again.asset_materializations_for_node("us_prices")[0].metadata
    assert (md["rows_inserted"].value, md["rows_updated"].value) == (0, 8)
    assert md["write_mode"].value == "merge"
    stored = _stored(warehouse_url)
    assert len(stored) == 8
    expected = price_frame(start=dt.date(2024, 1, 2), days=4, bump=1.5)
    assert_frame_equal(stored, expected.sort("exchange", "symbol", "date"))


def test_streamed_output_is_written_batch_by_batch_with_its_summary(
    resources, instance, warehouse_url
):
    result = _materialize(us_prices_streamed, resources, instance, partition_key="2024-01-04")
    md = result.asset_materializations_for_node("us_prices_streamed")[0].metadata
    assert md["dagster/row_count"].value == 3
    assert md["tickers_failed"].value == 0
    assert sorted(_stored(warehouse_url)["symbol"]) == ["AAA", "BBB", "CCC"]


def test_static_partition_maps_to_a_column_value(resources, instance, warehouse_url):
    assert _materialize(symbol_list, resources, instance, partition_key="LSE").success
    assert _materialize(symbol_list, resources, instance, partition_key="US").success
    assert _materialize(symbol_list, resources, instance, partition_key="LSE").success
    with connect(warehouse_url) as conn:
        rows = conn.execute(
            "SELECT exchange, count(*) FROM eod.symbols GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert rows == [("LSE", 2), ("US", 2)]


def test_a_refused_frame_fails_the_step_and_writes_nothing(resources, instance, warehouse_url):
    result = _materialize(us_prices_bad, resources, instance, partition_key="2024-01-03",
                          raise_on_error=False)
    assert not result.success
    failure = result.failure_data_for_node("us_prices_bad").error
    cause = failure.cause
    assert cause.cls_name == FrameRejectedError.__name__
    assert "column(s) volume missing" in cause.message
    assert _stored(warehouse_url).is_empty()


def test_inputs_load_back_for_the_partition_with_selected_columns(resources, instance):
    assert _materialize(us_prices, resources, instance, partition_key="2024-01-03").success
    result = dg.materialize([us_prices.to_source_asset(), closes_seen], resources=resources,
                            instance=instance, partition_key="2024-01-03")
    md = result.asset_materializations_for_node("closes_seen")[0].metadata
    assert md["rows"].value == 2
    assert md["columns"].value == "symbol,close"
