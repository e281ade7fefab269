"""Read a table slice back as a polars DataFrame, without row-by-row Python.

The server streams the slice as CSV through `COPY ... TO STDOUT` and polars parses the
buffer in native code with the table's schema. (psycopg's binary `COPY ... rows()` builds
a Python tuple a row; for millions of rows that is the slow part.) PostgreSQL prints
float8 in shortest round-trip form (extra_float_digits >= 1, the default since 12), so
prices come back bit for bit.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import polars as pl
import psycopg
from psycopg import sql

from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import TableSpec


def _select_expr(spec: TableSpec, name: str) -> sql.Composable:
    column = spec.column(name)
    ident = sql.Identifier(name)
    if column.pg_type == "boolean":
        return sql.SQL("{}::text").format(ident)  # 'true'/'false', which polars reads
    if column.pg_type == "timestamptz":
        return sql.SQL("to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')").format(
            ident
        )
    return ident


def read_slice(conn: psycopg.Connection, spec: TableSpec, where: TableSlice | None = None,
               columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Rows of `where` (or the whole table), ordered by primary key, typed per `spec`."""
    names = list(columns) if columns else list(spec.column_names)
    unknown = [c for c in names if c not in spec.column_names]
    if unknown:
        raise ValueError(
            f"{spec.qualified_name} has no column(s) {', '.join(unknown)}; "
            f"columns are {', '.join(spec.column_names)}"
        )
    order = spec.primary_key or spec.column_names
    query = sql.SQL(
        "COPY (SELECT {cols} FROM {t} WHERE {w} ORDER BY {o}) TO STDOUT (FORMAT csv, NULL '\\N')"
    ).format(
        cols=sql.SQL(", ").join(_select_expr(spec, c) for c in names),
        t=sql.Identifier(*spec.qualified_name.split(".")),
        w=where.where() if where else sql.SQL("TRUE"),
        o=sql.SQL(", ").join(map(sql.Identifier, order)),
    )
    buf = io.BytesIO()
    with conn.cursor() as cur:
        cur.execute("SET DateStyle = ISO")
        with cur.copy(query) as copy:
            for chunk in copy:
                buf.write(chunk)
    schema = {c: spec.column(c).dtype for c in names}
    if buf.tell() == 0:
        return pl.DataFrame(schema=schema)
    buf.seek(0)
    read_schema = {
        c: (pl.String() if spec.column(c).pg_type == "timestamptz" else dtype)
        for c, dtype in schema.items()
    }
    frame = pl.read_csv(
        buf,
        has_header=False,
        new_columns=names,
        schema=read_schema,
        # NULL is written as \N (see the COPY above) so that '' stays an empty string.
        null_values=[r"\N"],
        empty_string_is_null=False,
    )
    timestamps = [c for c in names if spec.column(c).pg_type == "timestamptz"]
    if timestamps:
        frame = frame.with_columns(
            pl.col(c).str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", time_unit="us", time_zone="UTC")
            for c in timestamps
        )
    return frame
