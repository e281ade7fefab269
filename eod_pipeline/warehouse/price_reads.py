"""The reader's SQL: raw, split-adjusted, total-return and vendor prices, point in time,
weekly / monthly bars, the universe on a date, and the checks behind clear errors.

Every figure is computed by the warehouse's functions (views.py); this module only calls
them and streams the result into polars as Arrow through ADBC (binary COPY, decoded in
native code: float8 comes back bit for bit; `_copy_to_frame`). `eod_pipeline.read` is
the API people use; it validates arguments and calls these. Renamed tickers are followed
here (`symbol_chains`, from eod.symbol_changes).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import adbc_driver_postgresql.dbapi as adbc
import polars as pl
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from eod_pipeline.warehouse.connection import connect
from eod_pipeline.warehouse.migrations import check_schema
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.views import COLUMNS, FUNCTIONS

#: Session settings of a read, set per transaction (why each):
#: - jit off: JIT compiles the ~200 expressions of an adjusted read for 0.1-0.5 s, more
#:   than it saves on a million rows of simple arithmetic;
#: - merge joins off: the planner cannot see how rows spread over the date buckets
#:   (views.py) and prices a hash join on them far too high, then sorts the whole read
#:   for a merge join instead (measured here: 2.5 s against 1.7 s for 1.3M rows).
_READ_SETTINGS = (("jit", "off"), ("enable_mergejoin", "off"))

#: Bar periods: `every` -> PostgreSQL date_trunc field (weeks start on Monday, ISO).
PERIODS: dict[str, str] = {"1w": "week", "1mo": "month"}

#: Datasets of eod.fetch_log whose entries stored price rows.
PRICE_DATASETS = ("prices", "adjustments")


@contextmanager
def session(url: str) -> Iterator[psycopg.Connection]:
    """A read-only connection to a warehouse whose schema is current (else
    `WarehouseNotReady`, naming `eod-pipeline db migrate`)."""
    with connect(url, application_name="eod-pipeline-read") as conn:
        check_schema(conn)
        conn.read_only = True
        yield conn


def _apply_settings(cur: psycopg.Cursor) -> None:
    for name, value in _READ_SETTINGS:
        cur.execute("SELECT set_config(%s, %s, true)", (name, value))


def _call(adjust: str, exchange: str, symbols: Sequence[str] | None, start: dt.date | None,
          end: dt.date | None, as_of: dt.datetime | None) -> sql.Composed:
    """`eod.prices_<adjust>(...)` with the arguments as literals: the function is inlined
    into the query and the planner folds them (a bound parameter would keep every branch)."""
    return sql.SQL("{}({}, {}::text[], {}::date, {}::date, {}::timestamptz)").format(
        sql.SQL(FUNCTIONS[adjust]), sql.Literal(exchange),
        sql.Literal(list(symbols) if symbols is not None else None),
        sql.Literal(start), sql.Literal(end), sql.Literal(as_of))


def _dtype(column: str) -> pl.DataType:
    if column == "bars":
        return pl.Int64()
    if column == LISTED_AS:
        return pl.String()
    return PRICES.column(column).dtype


def _arrow_conninfo(conn: psycopg.Connection) -> str:
    """The psycopg session's connection string for a second connection to the same
    server as the same role, password included (`info.dsn` drops it), with the read's
    settings (`_READ_SETTINGS`) and read-only as startup options: they hold for the whole
    session from its first statement, with no extra round trip."""
    params = conninfo_to_dict(conn.info.dsn)
    if conn.info.password:
        params["password"] = conn.info.password
    settings = [*_READ_SETTINGS, ("default_transaction_read_only", "on")]
    params["options"] = " ".join(
        [str(params.get("options") or "")] + [f"-c {k}={v}" for k, v in settings]).strip()
    return make_conninfo(**params)


def _copy_to_frame(conn: psycopg.Connection, query: sql.Composable,
                   columns: Sequence[str]) -> pl.DataFrame:
    """`query`'s rows as Arrow through ADBC's PostgreSQL driver, which reads them by a
    binary `COPY (query) TO STDOUT` and decodes them in native code: no text to format
    on the server nor to parse here. Measured on the benchmark's 1.3M-row adjusted read
    (benchmarks/bench_read.py): 1.20 s against 1.40 s for CSV parsed by polars
    (`_copy_csv_to_frame`), 0.67 s against 0.88 s for a plain read of the stored rows.
    Values are the same bit for bit (binary float8); columns are renamed and cast to the
    reader's dtypes (Date, Float64, Int64, String) exactly as the CSV path gave them.
    The query runs on a second connection of the same role (`_arrow_conninfo`), closed
    after the read."""
    text = query.as_string(conn)
    with adbc.connect(_arrow_conninfo(conn)) as arrow_conn, arrow_conn.cursor() as cur:
        cur.execute(text)
        table = cur.fetch_arrow_table()
    frame = pl.from_arrow(table.rename_columns(list(columns)))
    assert isinstance(frame, pl.DataFrame)
    return frame.cast({c: _dtype(c) for c in columns})


def _copy_csv_to_frame(conn: psycopg.Connection, query: sql.Composable,
                       columns: Sequence[str],
                       schema: Mapping[str, pl.DataType] | None = None) -> pl.DataFrame:
    """`query`'s rows by `COPY (query) TO STDOUT (FORMAT csv)` parsed by polars: the
    issue's "plain COPY" baseline (`copy_raw_rows`), and small reads of computed columns
    (`schema`; default the price columns' dtypes)."""
    buf = io.BytesIO()
    with conn.transaction(), conn.cursor() as cur:
        _apply_settings(cur)
        cur.execute("SET LOCAL DateStyle = ISO")
        with cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv)").format(query)) as copy:
            for chunk in copy:
                buf.write(chunk)
    schema = dict(schema) if schema is not None else {c: _dtype(c) for c in columns}
    if buf.tell() == 0:
        return pl.DataFrame(schema=schema)
    buf.seek(0)
    return pl.read_csv(buf, has_header=False, new_columns=list(columns), schema=schema)


#: The column naming the code a row was stored under (differs from `symbol` only on rows
#: a renamed ticker's read took from an earlier code).
LISTED_AS = "listed_as"


@dataclass(frozen=True)
class Segment:
    """Rows of `code` dated in [first, until) (None: unbounded) belong to the series read
    under `requested`."""

    requested: str
    code: str
    first: dt.date | None
    until: dt.date | None


def symbol_chains(conn: psycopg.Connection, exchange: str, symbols: Sequence[str],
                  as_of: dt.datetime | None) -> dict[str, list[Segment]]:
    """For each requested code, the codes its security was stored under, newest first,
    followed back through eod.symbol_changes: the code itself from its latest change's
    date, the old code before it (and that code's own earlier change, and so on).

    Only backwards: a code renamed away later reads its own rows (its successor is a
    different request). The requested code's rows before its change are left out: they
    belong to a previous holder of a reused code (EODHD renames that one `ABC_old`, but
    rows stored before the vendor did so keep the plain code). With `as_of`, a change is
    followed only if effective by then (eod.symbol_changes keeps no time of learning: the
    endpoint reports a change once effective, so that is the earliest it was known).
    """
    changes: dict[str, list[tuple[dt.date, str]]] = {}
    for old, new, day in conn.execute(
            "SELECT old_symbol, new_symbol, date FROM eod.symbol_changes"
            " WHERE exchange = %s AND (%s::date IS NULL OR date <= %s::date)"
            " ORDER BY date DESC",
            (exchange, as_of.date() if as_of else None, as_of.date() if as_of else None)):
        changes.setdefault(new, []).append((day, old))
    chains: dict[str, list[Segment]] = {}
    for requested in symbols:
        code, until, chain = requested, None, []
        while True:
            earlier = next(((d, o) for d, o in changes.get(code, ())
                            if until is None or d < until), None)
            if earlier is None:
                chain.append(Segment(requested, code, None, until))
                break
            chain.append(Segment(requested, code, earlier[0], until))
            code, until = earlier[1], earlier[0]
        chains[requested] = chain
    return chains


def _segment_span(seg: Segment, start: dt.date | None, end: dt.date | None
                  ) -> tuple[dt.date | None, dt.date | None] | None:
    """The read's [start, end] within the segment, or None if they do not meet."""
    lo = seg.first if start is None else max(start, seg.first or start)
    last = seg.until - dt.timedelta(days=1) if seg.until is not None else None
    hi = last if end is None else min(end, last or end)
    return None if lo is not None and hi is not None and lo > hi else (lo, hi)


def _chain_query(adjust: str, exchange: str, chain: Sequence[Segment], start: dt.date | None,
                 end: dt.date | None, as_of: dt.datetime | None) -> sql.Composed | None:
    """One renamed ticker's rows from every code of `chain`, labelled with the requested
    code (`symbol`) and the stored one (`listed_as`), columns COLUMNS[adjust] + listed_as.

    Adjusted modes apply the actions of every code of the chain, each within its own
    segment, as one ticker's: a split after the change adjusts the rows stored under the
    old code too. The factors are the functions' (eod.action_factors, the same
    latest-first product and rounding as eod.factor_spans / eod.prices_total_return), so
    an unrenamed ticker would read identically; one ticker's rows and ~40 spans need no
    date buckets.
    """
    spans = [(seg, _segment_span(seg, start, end)) for seg in chain]
    spans = [(seg, span) for seg, span in spans if span is not None]
    if not spans:
        return None
    requested = sql.Literal(chain[0].requested)
    base = "vendor" if adjust == "vendor" else "raw"
    cols = [c for c in COLUMNS[base] if c not in ("exchange", "symbol", "date")]
    rows = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT v.exchange, v.symbol, v.date, {} FROM {} AS v").format(
            sql.SQL(", ").join(sql.SQL("v.{}").format(sql.Identifier(c)) for c in cols),
            _call(base, exchange, [seg.code], lo, hi, as_of))
        for seg, (lo, hi) in spans)
    if adjust in ("raw", "vendor"):
        return sql.SQL("SELECT r.exchange, {req} AS symbol, r.date, {cols}, r.symbol"
                       " FROM ({rows}) AS r").format(
            req=requested, rows=rows,
            cols=sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in cols))
    acts = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT a.date, a.split_factor, a.factor FROM eod.action_factors({x},"
                " {codes}::text[], {start}::date, NULL, {as_of}::timestamptz) AS a"
                " WHERE ({first}::date IS NULL OR a.date >= {first}::date)"
                " AND ({until}::date IS NULL OR a.date < {until}::date)").format(
            x=sql.Literal(exchange), codes=sql.Literal([seg.code]), start=sql.Literal(start),
            as_of=sql.Literal(as_of), first=sql.Literal(seg.first),
            until=sql.Literal(seg.until))
        for seg in chain)
    factor = "split_factor" if adjust == "split" else "factor"
    price = sql.SQL(", ").join(
        sql.SQL("CASE WHEN c.valid_to IS NULL THEN r.{c} ELSE eod.round4(r.{c} * c.{f}) END"
                ).format(c=sql.Identifier(c), f=sql.Identifier(factor))
        for c in ("open", "high", "low", "close"))
    return sql.SQL(
        "WITH acts AS ({acts}),"
        " cum AS (SELECT a.date AS valid_to,"
        "  coalesce(lag(a.date) OVER (ORDER BY a.date), DATE '-infinity') AS valid_from,"
        "  eod.float8_product(a.split_factor) OVER (ORDER BY a.date DESC"
        "   ROWS UNBOUNDED PRECEDING) AS split_factor,"
        "  eod.float8_product(a.factor) OVER (ORDER BY a.date DESC"
        "   ROWS UNBOUNDED PRECEDING) AS factor FROM acts a)"
        " SELECT r.exchange, {req} AS symbol, r.date, {price},"
        "  CASE WHEN c.valid_to IS NULL THEN r.volume"
        "   ELSE (r.volume / c.split_factor)::bigint END, r.symbol"
        " FROM ({rows}) AS r LEFT JOIN cum c"
        "  ON r.date >= c.valid_from AND r.date < c.valid_to"
    ).format(acts=acts, req=requested, price=price, rows=rows)


def read_prices(conn: psycopg.Connection, exchange: str, symbols: Sequence[str] | None,
                start: dt.date | None, end: dt.date | None, adjust: str,
                as_of: dt.datetime | None, columns: Sequence[str]) -> pl.DataFrame:
    """`columns` (a subset of `COLUMNS[adjust]` and `listed_as`) of the `adjust` view,
    ordered by symbol and date. A requested code that eod.symbol_changes names as a new
    code reads as one series through its earlier codes (`symbol_chains`); `listed_as`
    is the code each row was stored under (`symbol` elsewhere).

    Ordered by polars, not by the query: the server would sort a million wide rows in
    `work_mem` (4 MB by default, so on disk); polars sorts them in parallel
    (`_by_symbol_and_date`). `exchange` is the one requested, so it is not sent a row:
    added here (measured on bench_read's 1.3M rows: 1.29 s against 1.43 s with it sent).
    """
    keys = ["symbol", "date"]
    chains = symbol_chains(conn, exchange, symbols, as_of) if symbols is not None else {}
    renamed = {s: c for s, c in chains.items() if len(c) > 1}
    plain = None if symbols is None else [s for s in symbols if s not in renamed]
    data = [c for c in columns if c not in (LISTED_AS, "exchange")]
    fetched = data + [k for k in keys if k not in data]
    frames = []
    if plain is None or plain:
        query = sql.SQL("SELECT {cols} FROM {call} AS v").format(
            cols=sql.SQL(", ").join(sql.SQL("v.{}").format(sql.Identifier(c))
                                    for c in fetched),
            call=_call(adjust, exchange, plain, start, end, as_of))
        frames.append(_copy_to_frame(conn, query, fetched)
                      .with_columns(pl.col("symbol").alias(LISTED_AS)))
    every = [*COLUMNS[adjust], LISTED_AS]
    for chain in renamed.values():
        query = _chain_query(adjust, exchange, chain, start, end, as_of)
        if query is not None:
            frames.append(_copy_to_frame(conn, query, every).select([*fetched, LISTED_AS]))
    if not frames:
        return pl.DataFrame(schema={c: _dtype(c) for c in columns})
    frame = _by_symbol_and_date(pl.concat(frames))
    return frame.with_columns(pl.lit(exchange, _dtype("exchange")).alias("exchange")
                              ).select(columns)


def _by_symbol_and_date(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` ordered by symbol, then date (unique per symbol in a read).

    A stable sort on the symbol alone first: a scan of a hypertable reads its chunks
    oldest first, so each ticker's rows usually arrive in date order already, and one
    string key sorts in about half the time of two (bench_read's 1.3M rows: ~0.045 s
    against ~0.10 s). Whether the result is ordered is then checked, never assumed (one
    vectorised pass, ~0.01 s), and a frame that is not gets the full sort.
    """
    if frame.height < 2:
        return frame
    by_symbol = frame.sort("symbol", maintain_order=True)
    symbol, date = pl.col("symbol"), pl.col("date")
    ordered = by_symbol.select(
        ((symbol > symbol.shift()) | ((symbol == symbol.shift()) & (date > date.shift())))
        .slice(1).all()).item()
    return by_symbol if ordered else frame.sort(["symbol", "date"])


def copy_raw_rows(conn: psycopg.Connection, exchange: str, symbols: Sequence[str] | None,
                  start: dt.date | None, end: dt.date | None) -> pl.DataFrame:
    """The stored rows (raw OHLCV and the vendor's adjusted_close) by a plain SELECT of
    eod.prices in a `COPY ... TO STDOUT` as CSV, same order: the baseline a view's read
    is measured against (issue 13 defines it so; the reader itself reads Arrow)."""
    columns = COLUMNS["vendor"]
    where = [sql.SQL("exchange = {}").format(sql.Literal(exchange))]
    if symbols is not None:
        where.append(sql.SQL("symbol = ANY({}::text[])").format(sql.Literal(list(symbols))))
    if start is not None:
        where.append(sql.SQL("date >= {}").format(sql.Literal(start)))
    if end is not None:
        where.append(sql.SQL("date <= {}").format(sql.Literal(end)))
    query = sql.SQL("SELECT {} FROM eod.prices WHERE {}").format(
        sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(" AND ").join(where))
    return _copy_csv_to_frame(conn, query, columns).sort("symbol", "date")


def read_bars(conn: psycopg.Connection, exchange: str, symbols: Sequence[str] | None,
              start: dt.date | None, end: dt.date | None, adjust: str,
              as_of: dt.datetime | None, every: str) -> pl.DataFrame:
    """Weekly or monthly bars aggregated in the warehouse from the daily `adjust` view:
    `date` is the period's first day; open/close are the first/last session's, high/low
    the extremes, volume the sum, `bars` the sessions in the period.

    Why from adjusted daily rows and not a continuous aggregate of raw bars with a factor
    applied on read: a period holding an ex-date mixes rows adjusted by different
    factors (before and after the action), so no single factor per period is right; the
    daily view makes every period exact, and an action still rewrites no stored row.
    """
    columns = [c for c in COLUMNS[adjust] if c != "volume"] + ["volume", "bars"]
    last = (sql.SQL(", (array_agg(v.adjusted_close ORDER BY v.date DESC))[1]")
            if "adjusted_close" in columns else sql.SQL(""))
    query = sql.SQL(
        "SELECT v.exchange, v.symbol, date_trunc({field}, v.date)::date AS period,"
        " (array_agg(v.open ORDER BY v.date))[1], max(v.high), min(v.low),"
        " (array_agg(v.close ORDER BY v.date DESC))[1]{last}, sum(v.volume)::bigint, count(*)"
        " FROM {call} AS v GROUP BY v.exchange, v.symbol, period"
        " ORDER BY v.symbol, period"
    ).format(field=sql.Literal(PERIODS[every]), last=last,
             call=_call(adjust, exchange, symbols, start, end, as_of))
    return _copy_to_frame(conn, query, columns)


def unknown_symbols(conn: psycopg.Connection, exchange: str,
                    symbols: Sequence[str]) -> list[str]:
    """Those of `symbols` that are neither in the exchange's symbol lists nor have a
    stored price row (exact spelling: tickers are compared verbatim)."""
    rows = conn.execute(
        "SELECT s FROM unnest(%s::text[]) AS s WHERE NOT EXISTS"
        " (SELECT 1 FROM eod.symbols y WHERE y.exchange = %s AND y.code = s)"
        " AND NOT EXISTS (SELECT 1 FROM eod.prices p WHERE p.exchange = %s AND p.symbol = s)",
        (list(symbols), exchange, exchange)).fetchall()
    return [r[0] for r in rows]


def similar_symbols(conn: psycopg.Connection, exchange: str, symbol: str,
                    limit: int = 5) -> list[str]:
    """Codes of the exchange that differ from `symbol` only in case or suffix (a hint)."""
    rows = conn.execute(
        "SELECT code FROM eod.symbols WHERE exchange = %s AND"
        " (upper(code) = upper(%s) OR code LIKE %s) ORDER BY code LIMIT %s",
        (exchange, symbol, f"{symbol}%", limit)).fetchall()
    return [r[0] for r in rows]


def exchange_has_prices(conn: psycopg.Connection, exchange: str) -> bool:
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM eod.prices WHERE exchange = %s)",
                       (exchange,)).fetchone()
    return bool(row and row[0])


def first_price_fetch(conn: psycopg.Connection, exchange: str) -> dt.datetime | None:
    """When the first price rows of `exchange` were stored (its fetch log), or None."""
    row = conn.execute(
        "SELECT min(fetched_at) FROM eod.fetch_log WHERE exchange = %s AND dataset = ANY(%s)",
        (exchange, list(PRICE_DATASETS))).fetchone()
    return row[0] if row else None


def universe_on(conn: psycopg.Connection, exchange: str, on: dt.date) -> pl.DataFrame:
    """Symbols listed on `on`: their stored bars span it (first bar <= on, and the last
    bar >= on unless still listed), or, without bars, the symbol lists saw them then.

    A delisted name is in the universe of every day it traded (survivorship-free); a
    name listed later is not. A renamed security (eod.symbol_changes) is listed under
    the code it had on `on`: a code whose latest change by then renamed it away is left
    out, and so is a code first taken (as a change's new code) after `on`.
    """
    query = sql.SQL(
        "WITH bars AS (SELECT symbol, min(date) AS first_bar, max(date) AS last_bar"
        "  FROM eod.prices WHERE exchange = {x} GROUP BY symbol)"
        " SELECT {x}::text, s.code, s.name, s.type, b.first_bar, b.last_bar, s.delisted"
        "  FROM eod.symbols s LEFT JOIN bars b ON b.symbol = s.code"
        " WHERE s.exchange = {x} AND ("
        "   (b.first_bar IS NOT NULL AND b.first_bar <= {d}"
        "    AND (b.last_bar >= {d} OR NOT s.delisted))"
        "   OR (b.first_bar IS NULL AND s.first_seen <= {d}"
        "    AND (s.last_seen >= {d} OR NOT s.delisted)))"
        # Renamed away by `on`, and not taken back since.
        " AND NOT EXISTS (SELECT 1 FROM eod.symbol_changes c WHERE c.exchange = {x}"
        "   AND c.old_symbol = s.code AND c.date <= {d} AND NOT EXISTS ("
        "     SELECT 1 FROM eod.symbol_changes n WHERE n.exchange = {x}"
        "      AND n.new_symbol = s.code AND n.date > c.date AND n.date <= {d}))"
        # Taken after `on`, with no earlier change naming it (not this security's yet).
        " AND NOT EXISTS (SELECT 1 FROM eod.symbol_changes n WHERE n.exchange = {x}"
        "   AND n.new_symbol = s.code AND n.date > {d} AND NOT EXISTS ("
        "     SELECT 1 FROM eod.symbol_changes c WHERE c.exchange = {x} AND c.date <= {d}"
        "      AND s.code IN (c.old_symbol, c.new_symbol)))"
        " ORDER BY s.code").format(x=sql.Literal(exchange), d=sql.Literal(on))
    columns = ["exchange", "symbol", "name", "type", "first_bar", "last_bar", "delisted"]
    buf = io.BytesIO()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL DateStyle = ISO")
        with cur.copy(sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, NULL '\\N')").format(
                query)) as copy:
            for chunk in copy:
                buf.write(chunk)
    schema = {"exchange": pl.String(), "symbol": pl.String(), "name": pl.String(),
              "type": pl.String(), "first_bar": pl.Date(), "last_bar": pl.Date(),
              "delisted": pl.Boolean()}
    if buf.tell() == 0:
        return pl.DataFrame(schema=schema)
    buf.seek(0)
    return pl.read_csv(buf, has_header=False, new_columns=columns,
                       schema={**schema, "delisted": pl.String()}, null_values=[r"\N"],
                       ).with_columns(pl.col("delisted") == "t")


def local_vs_vendor_drift(conn: psycopg.Connection, exchange: str, start: dt.date | None,
                          end: dt.date | None, tolerance: float = 0.0001,
                          symbols: Sequence[str] | None = None) -> pl.DataFrame:
    """Rows in [start, end] where the locally computed total-return close differs from
    the vendor's stored adjusted_close by more than `tolerance` (EODHD's 4-decimal
    rounding: 0.0001), with both values: the "local vs vendor" adjustment check.

    A difference means the warehouse lacks an action the vendor applied (or has one the
    vendor has not), a dividend's previous close differs, or the stored adjusted_close
    predates an action (history not refetched yet).
    """
    query = sql.SQL(
        "SELECT t.symbol, t.date, t.close AS local_close, v.adjusted_close AS vendor_close,"
        " t.close - v.adjusted_close AS difference"
        " FROM {total} AS t JOIN {vendor} AS v ON v.symbol = t.symbol AND v.date = t.date"
        " WHERE abs(t.close - v.adjusted_close) > {tol} + 1e-9 ORDER BY t.symbol, t.date"
    ).format(total=_call("total", exchange, symbols, start, end, None),
             vendor=_call("vendor", exchange, symbols, start, end, None),
             tol=sql.Literal(tolerance))
    columns = ["symbol", "date", "local_close", "vendor_close", "difference"]
    schema = {"symbol": pl.String(), "date": pl.Date(), "local_close": pl.Float64(),
              "vendor_close": pl.Float64(), "difference": pl.Float64()}
    return _copy_csv_to_frame(conn, query, columns, schema)
