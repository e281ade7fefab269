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
    #: What the column holds, shown in the UI's table schema (COLUMN_DESCRIPTIONS by
    #: default, so the many tables sharing a column name share its description).
    description: str = ""

    @property
    def text(self) -> str:
        return self.description or COLUMN_DESCRIPTIONS.get(self.name, "")


#: Descriptions of the columns that recur across tables (EODHD's field meanings:
#: ../shared/eodhd-api.md).
COLUMN_DESCRIPTIONS: dict[str, str] = {
    "exchange": "EODHD exchange code, e.g. US, LSE, XETRA.",
    "symbol": "Ticker as EODHD spells it on that exchange (reused tickers carry _old).",
    "code": "Ticker or exchange code as EODHD spells it.",
    "date": "Trading date (no time zone): the session the bar or event belongs to.",
    "open": "Raw opening price of the session, in the exchange's currency.",
    "high": "Raw high of the session.",
    "low": "Raw low of the session.",
    "close": "Raw closing price, as traded (not adjusted).",
    "adjusted_close": "EODHD's close adjusted for splits and dividends (CRSP method, "
                      "4 decimals); it changes when a later action is published.",
    "volume": "Shares traded in the session (EODHD may revise it after first release).",
    "run_id": "The Dagster run that wrote the row.",
    "start_date": "First day the entry covers (inclusive).",
    "end_date": "Last day the entry covers (inclusive).",
}


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

FETCH_LOG = TableSpec(
    name="fetch_log",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        # prices | splits | dividends | adjustments
        Column("dataset", "text", pl.String(), nullable=False),
        # NULL: a bulk call covering every ticker of the exchange on start_date..end_date.
        Column("symbol", "text", pl.String()),
        Column("start_date", "date", pl.Date(), nullable=False),
        Column("end_date", "date", pl.Date(), nullable=False),
        # Rows the answer gave that were stored (after the row checks), distinct by key.
        Column("rows", "integer", pl.Int32(), nullable=False),
        Column("first_date", "date", pl.Date()),
        Column("last_date", "date", pl.Date()),
        Column("run_id", "text", pl.String(), nullable=False),
        Column("fetched_at", "timestamptz", pl.Datetime("us", "UTC"), nullable=False),
        # Rows of the answer refused by the row checks (kept in eod.price_rejects).
        Column("rejected", "integer", pl.Int32(), nullable=False),
    ),
    primary_key=(),
)


def revisions_of(spec: TableSpec, name: str) -> TableSpec:
    """The revisions table of `spec`: its key, every value column before (`old_*`) and
    after (`new_*`) a change, when the change was seen and by which run.

    Why a table derived from the spec: the writer records a revision in the same
    statement batch that changes the row, and point-in-time reads need the old values
    typed like the new ones.
    """
    values = [c for c in spec.columns if c.name not in spec.primary_key]
    key = [Column(c.name, c.pg_type, c.dtype, nullable=False)
           for c in spec.columns if c.name in spec.primary_key]
    return TableSpec(
        name=name,
        columns=(
            *key,
            *(Column(f"old_{c.name}", c.pg_type, c.dtype) for c in values),
            *(Column(f"new_{c.name}", c.pg_type, c.dtype) for c in values),
            Column("run_id", "text", pl.String(), nullable=False),
            Column("seen_at", "timestamptz", pl.Datetime("us", "UTC"), nullable=False),
        ),
        primary_key=(),
    )


PRICE_REVISIONS = revisions_of(PRICES, "price_revisions")

GAP_ACKNOWLEDGEMENTS = TableSpec(
    name="gap_acknowledgements",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("symbol", "text", pl.String(), nullable=False),
        Column("start_date", "date", pl.Date(), nullable=False),
        Column("end_date", "date", pl.Date(), nullable=False),
        # Why the stretch has no bars (e.g. "trading halt"), said by a person.
        Column("reason", "text", pl.String(), nullable=False),
        Column("acknowledged_at", "timestamptz", pl.Datetime("us", "UTC"), nullable=False),
    ),
    primary_key=("exchange", "symbol", "start_date"),
)

EXCHANGE_DETAILS = TableSpec(
    name="exchange_details",
    columns=(
        Column("code", "text", pl.String(), nullable=False),
        Column("name", "text", pl.String()),
        # IANA zone and the regular session in local time ("HH:MM:SS", as EODHD's
        # `/exchange-details` TradingHours say it): what the partitions and deadlines of
        # an exchange outside the built-in registry are built from (markets/stored.py).
        Column("timezone", "text", pl.String(), nullable=False,
               description="IANA time zone of the exchange (EODHD's Timezone)."),
        Column("open", "text", pl.String(),
               description="Regular-session opening time, local (HH:MM:SS)."),
        Column("close", "text", pl.String(), nullable=False,
               description="Regular-session closing time, local (HH:MM:SS)."),
        Column("working_days", "text", pl.String(),
               description="EODHD's WorkingDays, e.g. Mon,Tue,Wed,Thu,Fri."),
        Column("fetched_at", "timestamptz", pl.Datetime("us", "UTC"), nullable=False),
    ),
    primary_key=("code",),
)

SYMBOL_CHANGES = TableSpec(
    name="symbol_changes",
    columns=(
        Column("exchange", "text", pl.String(), nullable=False),
        Column("old_symbol", "text", pl.String(), nullable=False,
               description="The code the ticker traded under before the change."),
        Column("new_symbol", "text", pl.String(), nullable=False,
               description="The code it trades under from `date` on (e.g. FB -> META)."),
        # The effective date: the first session under the new code.
        Column("date", "date", pl.Date(), nullable=False,
               description="First trading day under the new code (EODHD's `effective`)."),
        Column("company_name", "text", pl.String()),
    ),
    # A code can change more than once, and a freed code can be taken again later: the
    # old code with its date identifies one change.
    primary_key=("exchange", "old_symbol", "date"),
)

#: Tables whose changed rows are recorded in a revisions table by the writer.
REVISIONS: dict[str, TableSpec] = {PRICES.name: PRICE_REVISIONS}

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (EXCHANGES, SYMBOLS, PRICES, SPLITS, DIVIDENDS, PRICE_REJECTS, EXCHANGE_HOLIDAYS,
              FETCH_LOG, PRICE_REVISIONS, GAP_ACKNOWLEDGEMENTS, EXCHANGE_DETAILS,
              SYMBOL_CHANGES)
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
