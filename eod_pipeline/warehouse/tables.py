"""The warehouse tables as data: columns, PostgreSQL and polars types, keys.

One description serves the DDL (migrations), frame validation, binary COPY type hints and
reading back into polars, so the four cannot drift apart.

Type choices (why):
- Prices are `double precision` / Float64. EODHD sends JSON numbers (4 decimals at most
  for adjusted_close); parsed as IEEE doubles they are exactly what the source says, and
  float8 stores and returns those doubles bit for bit, so "warehouse equals source" is an
  exact comparison. `numeric` would add a decimal->binary conversion on every COPY and
  read (several times slower) for no gain in fidelity: there is no exact decimal value
  upstream to preserve.
- Volume is `bigint` / Int64: daily share volumes of penny stocks and crypto exceed 2^31.
- Codes are `text`, compared verbatim: tickers contain `&`, `'`, `-` and non-ASCII letters.
- Dates are `date`: EODHD's `date` is a trading date with no time zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SCHEMA = "eod"


@dataclass(frozen=True)
class Column:
    name: str
    pg_type: str
    dtype: pl.DataType
    nullable: bool = True


@dataclass(frozen=True)
class TableSpec:
    """A warehouse table: name, columns in order, primary key."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    #: Column a TimescaleDB hypertable is partitioned on; None for ordinary tables.
    time_column: str | None = None

    @property
    def qualified_name(self) -> str:
        return f"{SCHEMA}.{self.name}"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def polars_schema(self) -> pl.Schema:
        return pl.Schema({c.name: c.dtype for c in self.columns})

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _price(name: str) -> Column:
    return Column(name, "double precision", pl.Float64(), nullable=False)


EXCHANGES = TableSpec(
    name="exchanges",
    columns=(
        Column("code", "text", pl.String(), nullable=False),
        Column("name", "text", pl.String()),
        Column("operating_mic", "text", pl.String()),
        Column("country", "text", pl.String()),
        Column("currency", "text", pl.String()),
        Column("country_iso2", "text", pl.String()),
        Column("country_iso3", "text", pl.String()),
    ),
    primary_key=("code",),
)

SYMBOLS = TableSpec(
    name="symbols",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("code", "text", pl.String(), nullable=False),
        Column("name", "text", pl.String()),
        Column("type", "text", pl.String()),
        Column("venue", "text", pl.String()),
        Column("currency", "text", pl.String()),
        Column("country", "text", pl.String()),
        Column("isin", "text", pl.String()),
        Column("first_seen", "date", pl.Date(), nullable=False),
        Column("last_seen", "date", pl.Date(), nullable=False),
        Column("delisted", "boolean", pl.Boolean(), nullable=False),
        # Set when a symbol vanished from the exchange's lists; it is never deleted.
        Column("disappeared_on", "date", pl.Date()),
    ),
    primary_key=("exchange", "code"),
)

PRICES = TableSpec(
    name="prices",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("symbol", "text", pl.String(), nullable=False),
        Column("date", "date", pl.Date(), nullable=False),
        _price("open"),
        _price("high"),
        _price("low"),
        _price("close"),
        _price("adjusted_close"),
        Column("volume", "bigint", pl.Int64(), nullable=False),
    ),
    primary_key=("exchange", "symbol", "date"),
    time_column="date",
)

SPLITS = TableSpec(
    name="splits",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("symbol", "text", pl.String(), nullable=False),
        Column("date", "date", pl.Date(), nullable=False),
        # The source text ("4.000000/1.000000") kept verbatim, and its parsed parts.
        Column("split", "text", pl.String(), nullable=False),
        Column("numerator", "double precision", pl.Float64(), nullable=False),
        Column("denominator", "double precision", pl.Float64(), nullable=False),
    ),
    primary_key=("exchange", "symbol", "date"),
    time_column="date",
)

DIVIDENDS = TableSpec(
    name="dividends",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("symbol", "text", pl.String(), nullable=False),
        Column("date", "date", pl.Date(), nullable=False),
        Column("value", "double precision", pl.Float64(), nullable=False),
        Column("unadjusted_value", "double precision", pl.Float64()),
        Column("currency", "text", pl.String()),
        Column("declaration_date", "date", pl.Date()),
        Column("record_date", "date", pl.Date()),
        Column("payment_date", "date", pl.Date()),
        Column("period", "text", pl.String()),
    ),
    primary_key=("exchange", "symbol", "date"),
    time_column="date",
)

PRICE_REJECTS = TableSpec(
    name="price_rejects",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("symbol", "text", pl.String(), nullable=False),
        Column("date", "date", pl.Date()),
        Column("reason", "text", pl.String(), nullable=False),
        # The row as received, as JSON text, so nothing the API sent is lost.
        Column("raw", "text", pl.String(), nullable=False),
        Column("run_id", "text", pl.String(), nullable=False),
        Column("rejected_at", "timestamptz", pl.Datetime("us", "UTC"), nullable=False),
    ),
    primary_key=(),
)

EXCHANGE_HOLIDAYS = TableSpec(
    name="exchange_holidays",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("date", "date", pl.Date(), nullable=False),
        Column("holiday", "text", pl.String()),
        Column("type", "text", pl.String()),
    ),
    primary_key=("exchange", "date"),
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (EXCHANGES, SYMBOLS, PRICES, SPLITS, DIVIDENDS, PRICE_REJECTS, EXCHANGE_HOLIDAYS)
}


def table_spec(name: str) -> TableSpec:
    """Look a table up by `name` or `eod.name`, with a clear error for unknown names."""
    short = name.removeprefix(f"{SCHEMA}.")
    try:
        return TABLES[short]
    except KeyError:
        raise KeyError(
            f"Unknown warehouse table {name!r}; known tables: {', '.join(sorted(TABLES))}"
        ) from None
