"""The I/O manager that stores polars frames in warehouse tables with binary COPY.

Assets declare where their rows go in their metadata:

- `eod/table`: the table (`prices`, `eod.symbols`, ...);
- `partition_expr`: the column a partition maps to: a time-window partition (or a range
  of them, in a single-run backfill) becomes a date range on it, a static partition a
  value of it;
- `eod/slice`: constant columns of the asset, e.g. `{"exchange": "US"}` for the US prices
  asset, so its partitions never touch another exchange's rows.

Every asset that stores rows hands them to this I/O manager (the one write pattern; the
README's Architecture section says why). What it returns picks the write kind:

- a DataFrame or `LoggedBatch` (rows plus the facts that commit with them), an iterator
  of them, or a `FrameStream` (an iterator with a closing summary): merged into the
  asset's slice by the table writer, one transaction per batch;
- a `SymbolSnapshot`: a snapshot upsert (symbols missing from it are marked
  disappeared, never deleted);
- None: nothing to write.
"""


from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from eod_pipeline.defs.frame_stream import FrameStream
from eod_pipeline.defs.partitions import window_dates
from eod_pipeline.defs.resources import WarehouseResource
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.symbols import SymbolSnapshot, upsert_snapshot
from eod_pipeline.warehouse.tables import TableSpec, table_spec
from eod_pipeline.warehouse.writer import TableWriter

TABLE_KEY = "eod/table"
SLICE_KEY = "eod/slice"
PARTITION_EXPR_KEY = "partition_expr"
#: Set to False on a partitioned asset whose rows are not bounded by its partitions (the
#: re-adjustment of a ticker's whole history): its slice is then the constant columns.
PARTITION_SLICE_KEY = "eod/partition_slice"
#: Input metadata naming the columns to load (all when absent).
COLUMNS_KEY = "columns"


def column_schema(spec: TableSpec) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=c.name,
                type=c.pg_type,
                constraints=dg.TableColumnConstraints(nullable=c.nullable),
                description=c.text or None,
            )
            for c in spec.columns
        ]
    )


def _table(metadata: Mapping[str, Any], asset_key: dg.AssetKey) -> TableSpec:
    name = metadata.get(TABLE_KEY)
    if not name:
        raise dg.DagsterInvariantViolationError(
            f"Asset {asset_key.to_user_string()} uses the warehouse I/O manager but has no "
            f"{TABLE_KEY!r} metadata naming its table"
        )
    return table_spec(str(name))


def table_slice(
    context: dg.InputContext | dg.OutputContext, spec: TableSpec, metadata: Mapping[str, Any]
) -> TableSlice:
    """The rows the context's partitions own (the whole table when unpartitioned)."""
    values: dict[str, list[Any]] = {
        column: list(v) if isinstance(v, list | tuple) else [v]
        for column, v in (metadata.get(SLICE_KEY) or {}).items()
    }
    dates: DateRange | None = None
    if context.has_asset_partitions and metadata.get(PARTITION_SLICE_KEY, True):
        column = metadata.get(PARTITION_EXPR_KEY)
        if not column:
            raise dg.DagsterInvariantViolationError(
                f"Asset {context.asset_key.to_user_string()} is partitioned but has no "
                f"{PARTITION_EXPR_KEY!r} metadata saying which column its partitions map to"
            )
        if isinstance(context.asset_partitions_def, dg.TimeWindowPartitionsDefinition):
            # Windows are [start, end); partitions are whole days in the exchange's zone.
            first, last = window_dates(context.asset_partitions_time_window)
            dates = DateRange(str(column), first, last)
        else:
            values[str(column)] = list(context.asset_partition_keys)
    return TableSlice(spec, values, dates)


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores polars DataFrames in the warehouse; loads them back for downstream assets."""

    warehouse: WarehouseResource

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        if obj is None:
            return
        metadata = context.definition_metadata or {}
        spec = _table(metadata, context.asset_key)
        if isinstance(obj, SymbolSnapshot):
            self._store_snapshot(context, spec, obj)
            return
        where = table_slice(context, spec, metadata)
        with self.warehouse.connect() as conn:
            writer = TableWriter(conn, spec, where, run_id=context.run_id)
            report = writer.write(obj)
        # The column schema is definition metadata (the assets declare it): a range run
        # stores one materialization per partition, each with this metadata, so it stays
        # small (BENCHMARKS.md, Dagster's share).
        context.add_output_metadata(
            {
                "dagster/row_count": report.rows,
                "dagster/table_name": spec.qualified_name,
                "rows_inserted": report.inserted,
                "rows_updated": report.updated,
                "rows_unchanged": report.unchanged,
                "duplicates_dropped": report.duplicates_dropped,
                # Stored rows the source changed (old and new values in the revisions
                # table), and the facts committed with the rows (rejects, fetch log).
                "rows_revised": report.revised,
                **{f"{name}_rows": n for name, n in sorted(report.companions.items())},
                "write_mode": report.mode,
                "write_seconds": round(report.seconds, 3),
                "rows_per_s": round(report.rows_per_s, 1),
                "slice": where.describe(),
            }
        )
        if isinstance(obj, FrameStream):
            context.add_output_metadata(obj.finish())

    def _store_snapshot(self, context: dg.OutputContext, spec: TableSpec,
                        snapshot: SymbolSnapshot) -> None:
        keys = list(context.asset_partition_keys) if context.has_asset_partitions else []
        if spec.name != "symbols" or keys != [snapshot.exchange]:
            raise dg.DagsterInvariantViolationError(
                f"{context.asset_key.to_user_string()}: a symbol snapshot of "
                f"{snapshot.exchange} goes to eod.symbols from that exchange's partition, "
                f"not to {spec.qualified_name} from partitions {keys}")
        with self.warehouse.connect() as conn:
            report = upsert_snapshot(conn, snapshot.exchange, snapshot.frame,
                                     snapshot.seen_on)
        context.log.info(
            f"{snapshot.exchange}: {report.symbols} symbols ({report.new} new, "
            f"{report.delisted} delisted, {report.disappeared} disappeared since the last "
            "snapshot)")
        context.add_output_metadata({
            "dagster/row_count": report.symbols,
            "dagster/table_name": spec.qualified_name,
            "write_mode": "snapshot",
            "symbols_new": report.new,
            "symbols_delisted": report.delisted,
            "symbols_disappeared": report.disappeared,
        })

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        upstream = context.upstream_output
        metadata = (upstream.definition_metadata if upstream else None) or {}
        spec = _table(metadata, context.asset_key)
        where = table_slice(context, spec, metadata)
        columns = (context.definition_metadata or {}).get(COLUMNS_KEY)
        with self.warehouse.connect() as conn:
            return read_slice(conn, spec, where, columns)
