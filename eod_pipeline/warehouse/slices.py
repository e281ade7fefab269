"""A slice of a warehouse table: the rows one partition (or range of them) owns.

The I/O manager maps Dagster partitions to slices (a time window to a date range, a static
key to a column value, plus constant columns such as the exchange of a per-exchange asset);
the writer uses a slice to know whether it may COPY straight in, and to refuse rows that
fall outside it; the reader uses it to load exactly an input's partitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from psycopg import sql

from eod_pipeline.warehouse.tables import TableSpec


@dataclass(frozen=True)
class DateRange:
    column: str
    start: dt.date
    end: dt.date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Date range ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class TableSlice:
    table: TableSpec
    #: column -> the values it may take in this slice.
    values: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    dates: DateRange | None = None

    @property
    def is_whole_table(self) -> bool:
        return not self.values and self.dates is None

    def where(self) -> sql.Composable:
        """The slice as a SQL condition with bound literals (never string formatting)."""
        parts: list[sql.Composable] = []
        for column, allowed in self.values.items():
            parts.append(
                sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(list(allowed)))
            )
        if self.dates is not None:
            parts.append(
                sql.SQL("{col} BETWEEN {a} AND {b}").format(
                    col=sql.Identifier(self.dates.column),
                    a=sql.Literal(self.dates.start),
                    b=sql.Literal(self.dates.end),
                )
            )
        return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")

    def outside(self, frame: pl.DataFrame) -> pl.Series:
        """Boolean mask of rows that do not belong to this slice."""
        mask = pl.lit(False)
        for column, allowed in self.values.items():
            mask = mask | ~pl.col(column).is_in(list(allowed))
        if self.dates is not None:
            c = pl.col(self.dates.column)
            mask = mask | (c < self.dates.start) | (c > self.dates.end)
        return frame.select(mask.alias("outside")).to_series()

    def describe(self) -> str:
        parts = [f"{k} in {list(v)!r}" for k, v in self.values.items()]
        if self.dates is not None:
            parts.append(f"{self.dates.column} {self.dates.start}..{self.dates.end}")
        return f"{self.table.qualified_name} where " + (" and ".join(parts) or "everything")
