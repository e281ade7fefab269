"""Refuse frames that do not match their table, before anything is written.

Every check names the column and the problem, so the user can fix the producer. Checks are
vectorized polars expressions: validating two million rows costs milliseconds.
"""

from __future__ import annotations

import polars as pl

from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import TableSpec

#: How many offending values an error message quotes.
_SHOWN = 3


class FrameRejectedError(ValueError):
    """A frame does not fit its warehouse table; nothing of it was written."""


def validate_frame(spec: TableSpec, frame: pl.DataFrame, where: TableSlice | None) -> None:
    """Raise FrameRejectedError naming the first column that does not fit `spec`."""
    if not isinstance(frame, pl.DataFrame):
        raise FrameRejectedError(
            f"{spec.qualified_name}: expected a polars DataFrame, got {type(frame).__name__}"
        )
    expected = spec.column_names
    got = tuple(frame.columns)
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    if missing:
        raise FrameRejectedError(
            f"{spec.qualified_name}: column(s) {', '.join(missing)} missing from the frame "
            f"(expected {', '.join(expected)})"
        )
    if extra:
        raise FrameRejectedError(
            f"{spec.qualified_name}: column(s) {', '.join(extra)} are not in the table "
            f"(expected {', '.join(expected)}); drop them or add a migration"
        )
    for column in spec.columns:
        dtype = frame.schema[column.name]
        if dtype != column.dtype and not (dtype == pl.Null and column.nullable):
            raise FrameRejectedError(
                f"{spec.qualified_name}: column {column.name!r} has type {dtype}, "
                f"expected {column.dtype} ({column.pg_type})"
            )
    if frame.is_empty():
        return
    checks: list[pl.Expr] = []
    for column in spec.columns:
        c = pl.col(column.name)
        if not column.nullable:
            checks.append(c.null_count().alias(f"null:{column.name}"))
        if column.dtype == pl.Float64:
            checks.append((~c.is_finite()).sum().alias(f"nan:{column.name}"))
    counts = frame.select(checks).row(0, named=True) if checks else {}
    for key, n in counts.items():
        if not n:
            continue
        kind, name = key.split(":", 1)
        problem = "null value(s) in a NOT NULL column" if kind == "null" else (
            "value(s) that are not a finite number (NaN or infinity)"
        )
        raise FrameRejectedError(f"{spec.qualified_name}: column {name!r} has {n} {problem}")
    if where is not None and not where.is_whole_table:
        outside = where.outside(frame)
        if outside.any():
            bad = frame.filter(outside).head(_SHOWN)
            raise FrameRejectedError(
                f"{spec.qualified_name}: {int(outside.sum())} row(s) fall outside the "
                f"partition slice ({where.describe()}), e.g. {bad.rows()!r}"
            )
