"""Rows the API sends that cannot be right never reach `eod.prices`.

Each row failing a check goes to `eod.price_rejects` with the reason and the row as
received (JSON), so nothing is dropped silently; the counts go to the run's metadata.
Checks are vectorized polars expressions, cheap next to the HTTP they follow.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

PRICE_COLUMNS = ("open", "high", "low", "close", "adjusted_close")


@dataclass(frozen=True)
class CheckedRows:
    good: pl.DataFrame
    #: exchange, symbol, date, reason, raw
    rejects: pl.DataFrame


def _reason() -> pl.Expr:
    """The first failed check of each row (null when the row is fine)."""
    price_null = pl.any_horizontal(pl.col(c).is_null() | pl.col(c).is_nan() for c in PRICE_COLUMNS)
    negative = pl.any_horizontal(pl.col(c) < 0 for c in PRICE_COLUMNS)
    return (
        pl.when(pl.col("date").is_null()).then(pl.lit("missing or malformed date"))
        .when(price_null).then(pl.lit("null or non-numeric price"))
        .when(pl.col("volume").is_null()).then(pl.lit("null or non-numeric volume"))
        .when(negative | (pl.col("volume") < 0)).then(pl.lit("negative price or volume"))
        .when(pl.col("high") < pl.col("low")).then(pl.lit("high below low"))
        .when((pl.col("open") < pl.col("low")) | (pl.col("open") > pl.col("high")))
        .then(pl.lit("open outside low..high"))
        .when((pl.col("close") < pl.col("low")) | (pl.col("close") > pl.col("high")))
        .then(pl.lit("close outside low..high"))
        .when((pl.col("date") < pl.col("_start")) | (pl.col("date") > pl.col("_end")))
        .then(pl.lit("date outside the requested range"))
        .otherwise(None)
    )


def check_prices(frame: pl.DataFrame, start: dt.date, end: dt.date) -> CheckedRows:
    """Split a frame of `eod.prices` columns into rows to store and rows to reject.

    Exact duplicate rows collapse to one; rows sharing a key with different values are
    all rejected (the source contradicts itself; neither value can be trusted).
    """
    key = ["exchange", "symbol", "date"]
    raw = pl.struct(pl.all().exclude("_start", "_end")).struct.json_encode().alias("raw")
    tagged = frame.unique(maintain_order=True).with_columns(
        pl.lit(start).alias("_start"), pl.lit(end).alias("_end")
    )
    tagged = tagged.with_columns(_reason().alias("reason"), raw)
    conflicting = pl.col("date").is_not_null() & pl.struct(key).is_duplicated()
    tagged = tagged.with_columns(
        pl.when(pl.col("reason").is_null() & conflicting)
        .then(pl.lit("duplicate key with different values"))
        .otherwise(pl.col("reason"))
        .alias("reason")
    )
    good = tagged.filter(pl.col("reason").is_null()).select(frame.columns)
    rejects = tagged.filter(pl.col("reason").is_not_null()).select(
        "exchange", "symbol", "date", "reason", "raw"
    )
    return CheckedRows(good, rejects)
