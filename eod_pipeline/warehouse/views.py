"""Adjusted prices computed in the warehouse: factors from the stored actions, and the
price "views" (set-returning SQL functions) that apply them on read.

What is stored stays raw: `eod.prices` holds OHLCV as EODHD publishes it (plus EODHD's own
`adjusted_close`, the vendor's value), `eod.splits` / `eod.dividends` the actions. Every
adjusted figure is derived from them when read, so a new split or dividend changes one
row of actions, never years of (compressed) price history.

EODHD's method, as the simulator models it (eodhd_simulator/paths.py, `adjusted_series`;
walk.py and actions.py for the factors), reproduced operation for operation so the local
total-return close EQUALS the vendor's `adjusted_close` (CRSP-style, "Data quirks" in
../shared/eodhd-api.md):
- a split N/M (numerator/denominator) has factor M / N;
- a dividend has factor 1 - dividend / previous close, where the dividend is the raw
  (unadjusted) amount and the previous close is the raw close of the ticker's previous
  stored trading day before the ex-date;
- actions on the same day multiply (split first, then dividend);
- a row's factor is the product of the factors of every action with an ex-date AFTER the
  row's date, multiplied from the latest action backwards (the simulator's reversed
  cumulative product: the same float operations in the same order);
- adjusted = close x factor, rounded to 4 decimals half away from zero, computed as
  floor(x * 10^4 + 0.5) / 10^4 (bit-identical to polars' `round(4, "half_away_from_zero")`
  on 300,000 sampled products; PostgreSQL's own `round(float8)` rounds half to even).
- Volume: the simulator (and so this warehouse's model of EODHD) publishes raw volume in
  `/eod`, although EODHD's guide says split-adjusted: the split-adjusted views divide it
  by the split factor; raw and vendor reads return it as stored.

Why functions and not `CREATE VIEW`: a view records a dependency on its tables, and
`eod-pipeline db migrate --plain` rebuilds each hypertable as a new table (DROP + RENAME,
storage.py), which a dependent view would block. A SQL function whose body is a string
records none, and PostgreSQL inlines a `LANGUAGE sql STABLE` set-returning function into
the calling query, so the caller's arguments (constants) simplify the plan and every
filter reaches the scans of `eod.prices` (segment pruning on compressed chunks).

Why date buckets in the joins: a row takes the factor of the span between two of its
ticker's actions (a range join). A hash join on (symbol, 32-day bucket) with the range as
a join filter costs one probe and one or two comparisons a row, where a join on the
symbol alone would compare each row with every span of its ticker (~40 for ten years of
quarterly dividends). Spans are expanded into the buckets they touch (clamped to the
read's dates); rows before the earliest action read are clamped into its bucket.

Point in time (`p_as_of`): a row is returned only if a `prices` / `adjustments` fetch
that covers it (`eod.fetch_log`, the ticker's range or a bulk day) was logged by then;
its values are those before the earliest revision seen after then (`eod.price_revisions`
keeps old and new values); only actions stored by then adjust it: their `known_at`, or
the fetch-log entry of the fetch that stored them (the same instant in a deployment;
the fetch log is written on the pipeline's clock, which a run on a simulated clock sets,
while `known_at` and revisions' `seen_at` are the server's now()). Without `p_as_of`,
the latest values and every stored action.

The SQL below is migration 4's (frozen once shipped): a later change is a new migration
with `CREATE OR REPLACE FUNCTION`.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from eod_pipeline.warehouse.tables import SCHEMA

#: Column recording when a split or dividend row was first stored (server default now(),
#: so the generic writer's COPY and merge, which name only the TableSpec's columns, fill
#: it without knowing it; updates of a known action keep it).
KNOWN_AT = "known_at"

#: Width of the join buckets in days (see the module docstring).
BUCKET_DAYS = 32

#: The price functions per `adjust` mode; all take (exchange, symbols, start, end, as_of).
FUNCTIONS: dict[str, str] = {
    "raw": "eod.prices_raw",
    "split": "eod.prices_split_adjusted",
    "total": "eod.prices_total_return",
    "vendor": "eod.prices_vendor",
}

#: Output columns of each function, in order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "raw": ("exchange", "symbol", "date", "open", "high", "low", "close", "volume"),
    "split": ("exchange", "symbol", "date", "open", "high", "low", "close", "volume"),
    "total": ("exchange", "symbol", "date", "open", "high", "low", "close", "volume"),
    "vendor": ("exchange", "symbol", "date", "open", "high", "low", "close",
               "adjusted_close", "volume"),
}

_ARGS = ("p_exchange text, p_symbols text[] DEFAULT NULL, p_start date DEFAULT NULL, "
         "p_end date DEFAULT NULL, p_as_of timestamptz DEFAULT NULL")

_ROUND4 = """
CREATE OR REPLACE FUNCTION eod.round4(x double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT sign(x) * floor(abs(x) * 10000::float8 + 0.5::float8) / 10000::float8
$$"""

_BUCKET = f"""
CREATE OR REPLACE FUNCTION eod.date_bucket(d date) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (d - DATE '2000-01-01') / {BUCKET_DAYS}
$$"""

# The buckets a date span touches. PL/pgSQL on purpose: it is never inlined, so the
# planner takes its ROWS estimate (a span of ~3 months touches ~3-4 buckets), where an
# inlined generate_series over column values is guessed at 1,000 rows and turns every
# join after it into sorts and merge joins.
_BUCKETS = """
CREATE OR REPLACE FUNCTION eod.date_buckets(lo date, hi date) RETURNS SETOF integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE ROWS 4 AS $$
BEGIN
  RETURN QUERY SELECT generate_series(eod.date_bucket(lo), eod.date_bucket(hi));
END
$$"""

_PRODUCT = """
CREATE OR REPLACE AGGREGATE eod.float8_product(double precision) (
  SFUNC = float8mul, STYPE = double precision, INITCOND = '1')"""

# One row per (ticker, ex-date) known by p_as_of: the split factor and the total factor.
_ACTION_FACTORS = f"""
CREATE OR REPLACE FUNCTION eod.action_factors({_ARGS})
RETURNS TABLE (exchange text, symbol text, date date, split_factor double precision,
               factor double precision, known_at timestamptz)
LANGUAGE sql STABLE AS $$
  WITH acts AS (
    SELECT s.symbol, s.date, 0 AS kind, s.denominator / s.numerator AS split_factor,
           s.denominator / s.numerator AS factor, s.known_at
      FROM eod.splits s
     WHERE s.exchange = p_exchange AND s.numerator > 0 AND s.denominator > 0
       AND (p_symbols IS NULL OR s.symbol = ANY(p_symbols))
       AND (p_as_of IS NULL OR s.known_at <= p_as_of OR EXISTS (
         SELECT 1 FROM eod.fetch_log f WHERE f.exchange = s.exchange
            AND f.dataset = 'splits' AND (f.symbol IS NULL OR f.symbol = s.symbol)
            AND s.date BETWEEN f.start_date AND f.end_date AND f.fetched_at <= p_as_of))
       AND (p_start IS NULL OR s.date > p_start)
    UNION ALL
    SELECT d.symbol, d.date, 1, 1.0,
           coalesce(1.0 - coalesce(d.unadjusted_value, d.value) / nullif(prev.close, 0), 1.0),
           d.known_at
      FROM eod.dividends d
      LEFT JOIN LATERAL (
        SELECT p.close FROM eod.prices p
         WHERE p.exchange = d.exchange AND p.symbol = d.symbol AND p.date < d.date
         ORDER BY p.date DESC LIMIT 1) prev ON true
     WHERE d.exchange = p_exchange
       AND (p_symbols IS NULL OR d.symbol = ANY(p_symbols))
       AND (p_as_of IS NULL OR d.known_at <= p_as_of OR EXISTS (
         SELECT 1 FROM eod.fetch_log f WHERE f.exchange = d.exchange
            AND f.dataset = 'dividends' AND (f.symbol IS NULL OR f.symbol = d.symbol)
            AND d.date BETWEEN f.start_date AND f.end_date AND f.fetched_at <= p_as_of))
       AND (p_start IS NULL OR d.date > p_start))
  SELECT p_exchange, symbol, date, eod.float8_product(split_factor ORDER BY kind),
         eod.float8_product(factor ORDER BY kind), max(known_at)
    FROM acts GROUP BY symbol, date
$$"""

# Spans between a ticker's actions: rows dated in [valid_from, valid_to) take `factor`
# (the product of every later action's factor, latest first) and `split_factor`;
# expanded into the date buckets the span touches within [p_start, p_end].
_FACTOR_SPANS = f"""
CREATE OR REPLACE FUNCTION eod.factor_spans({_ARGS})
RETURNS TABLE (symbol text, bucket integer, valid_from date, valid_to date,
               split_factor double precision, factor double precision, floor_date date)
LANGUAGE sql STABLE AS $$
  WITH cum AS (
    SELECT a.symbol, a.date AS valid_to,
           coalesce(lag(a.date) OVER w, DATE '-infinity') AS valid_from,
           eod.float8_product(a.split_factor) OVER (PARTITION BY a.symbol ORDER BY a.date DESC
             ROWS UNBOUNDED PRECEDING) AS split_factor,
           eod.float8_product(a.factor) OVER (PARTITION BY a.symbol ORDER BY a.date DESC
             ROWS UNBOUNDED PRECEDING) AS factor
      FROM eod.action_factors(p_exchange, p_symbols, p_start, NULL, p_as_of) a
    WINDOW w AS (PARTITION BY a.symbol ORDER BY a.date)),
  floor AS (SELECT coalesce(p_start, min(valid_to) - 1) AS d FROM cum)
  SELECT c.symbol, b, c.valid_from, c.valid_to, c.split_factor, c.factor, f.d
    FROM cum c CROSS JOIN floor f
   CROSS JOIN LATERAL eod.date_buckets(greatest(c.valid_from, f.d),
     greatest(least(c.valid_to - 1, coalesce(p_end, c.valid_to - 1)), f.d)) b
   WHERE (p_end IS NULL OR c.valid_from <= p_end)
$$"""

# Raw bars (with the vendor's adjusted_close) as the warehouse held them at p_as_of.
_PRICES_VENDOR = f"""
CREATE OR REPLACE FUNCTION eod.prices_vendor({_ARGS})
RETURNS TABLE (exchange text, symbol text, date date, open double precision,
               high double precision, low double precision, close double precision,
               adjusted_close double precision, volume bigint)
LANGUAGE sql STABLE AS $$
  WITH cov AS (
    SELECT f.symbol, f.start_date, f.end_date FROM eod.fetch_log f
     WHERE p_as_of IS NOT NULL AND f.exchange = p_exchange
       AND f.dataset IN ('prices', 'adjustments') AND f.fetched_at <= p_as_of
       AND (p_symbols IS NULL OR f.symbol IS NULL OR f.symbol = ANY(p_symbols))
       AND (p_start IS NULL OR f.end_date >= p_start)
       AND (p_end IS NULL OR f.start_date <= p_end)),
  bulk_days AS (
    SELECT DISTINCT d::date AS day FROM cov c CROSS JOIN LATERAL generate_series(
      greatest(c.start_date, coalesce(p_start, c.start_date)),
      least(c.end_date, coalesce(p_end, c.end_date)), interval '1 day') d
     WHERE c.symbol IS NULL),
  ordered AS (
    SELECT c.symbol, c.start_date, c.end_date,
           max(c.end_date) OVER (PARTITION BY c.symbol ORDER BY c.start_date, c.end_date
             ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end
      FROM cov c WHERE c.symbol IS NOT NULL),
  islands AS (
    SELECT o.*, sum(CASE WHEN o.prev_end IS NULL OR o.start_date > o.prev_end + 1
                         THEN 1 ELSE 0 END)
             OVER (PARTITION BY o.symbol ORDER BY o.start_date, o.end_date) AS island
      FROM ordered o),
  merged AS (
    SELECT i.symbol, greatest(min(i.start_date), coalesce(p_start, min(i.start_date))) AS lo,
           least(max(i.end_date), coalesce(p_end, max(i.end_date))) AS hi
      FROM islands i GROUP BY i.symbol, i.island),
  covered AS (
    SELECT m.symbol, m.lo, m.hi, b AS bucket FROM merged m
     CROSS JOIN LATERAL eod.date_buckets(m.lo, m.hi) b
     WHERE m.lo <= m.hi),
  rev AS (
    SELECT DISTINCT ON (r.symbol, r.date) r.symbol, r.date, r.old_open, r.old_high,
           r.old_low, r.old_close, r.old_adjusted_close, r.old_volume
      FROM eod.price_revisions r
     WHERE p_as_of IS NOT NULL AND r.exchange = p_exchange AND r.seen_at > p_as_of
       AND (p_symbols IS NULL OR r.symbol = ANY(p_symbols))
       AND (p_start IS NULL OR r.date >= p_start) AND (p_end IS NULL OR r.date <= p_end)
     ORDER BY r.symbol, r.date, r.seen_at)
  -- Two branches, one removed at planning (p_as_of is a constant once inlined): the
  -- latest read is a plain scan, with no joins to empty point-in-time relations.
  SELECT p.exchange, p.symbol, p.date, p.open, p.high, p.low, p.close, p.adjusted_close,
         p.volume
    FROM eod.prices p
   WHERE p_as_of IS NULL AND p.exchange = p_exchange
     AND (p_symbols IS NULL OR p.symbol = ANY(p_symbols))
     AND (p_start IS NULL OR p.date >= p_start) AND (p_end IS NULL OR p.date <= p_end)
  UNION ALL
  SELECT p.exchange, p.symbol, p.date,
         CASE WHEN r.date IS NULL THEN p.open ELSE r.old_open END,
         CASE WHEN r.date IS NULL THEN p.high ELSE r.old_high END,
         CASE WHEN r.date IS NULL THEN p.low ELSE r.old_low END,
         CASE WHEN r.date IS NULL THEN p.close ELSE r.old_close END,
         CASE WHEN r.date IS NULL THEN p.adjusted_close ELSE r.old_adjusted_close END,
         CASE WHEN r.date IS NULL THEN p.volume ELSE r.old_volume END
    FROM eod.prices p
    LEFT JOIN rev r ON r.symbol = p.symbol AND r.date = p.date
    LEFT JOIN bulk_days bd ON bd.day = p.date
    LEFT JOIN covered cv ON cv.symbol = p.symbol AND cv.bucket = eod.date_bucket(p.date)
          AND p.date BETWEEN cv.lo AND cv.hi
   WHERE p_as_of IS NOT NULL AND p.exchange = p_exchange
     AND (p_symbols IS NULL OR p.symbol = ANY(p_symbols))
     AND (p_start IS NULL OR p.date >= p_start) AND (p_end IS NULL OR p.date <= p_end)
     AND (bd.day IS NOT NULL OR cv.symbol IS NOT NULL)
$$"""

_PRICES_RAW = f"""
CREATE OR REPLACE FUNCTION eod.prices_raw({_ARGS})
RETURNS TABLE (exchange text, symbol text, date date, open double precision,
               high double precision, low double precision, close double precision,
               volume bigint)
LANGUAGE sql STABLE AS $$
  SELECT v.exchange, v.symbol, v.date, v.open, v.high, v.low, v.close, v.volume
    FROM eod.prices_vendor(p_exchange, p_symbols, p_start, p_end, p_as_of) v
$$"""


def _adjusted(name: str, factor: str) -> str:
    """A price function applying `factor` (a column of eod.factor_spans) to OHLC and the
    split factor to volume."""
    return f"""
CREATE OR REPLACE FUNCTION {name}({_ARGS})
RETURNS TABLE (exchange text, symbol text, date date, open double precision,
               high double precision, low double precision, close double precision,
               volume bigint)
LANGUAGE sql STABLE AS $$
  WITH spans AS (
    SELECT * FROM eod.factor_spans(p_exchange, p_symbols, p_start, p_end, p_as_of)),
  floor AS (SELECT min(s.floor_date) AS d FROM spans s)
  SELECT v.exchange, v.symbol, v.date,
         CASE WHEN s.symbol IS NULL THEN v.open ELSE eod.round4(v.open * s.{factor}) END,
         CASE WHEN s.symbol IS NULL THEN v.high ELSE eod.round4(v.high * s.{factor}) END,
         CASE WHEN s.symbol IS NULL THEN v.low ELSE eod.round4(v.low * s.{factor}) END,
         CASE WHEN s.symbol IS NULL THEN v.close ELSE eod.round4(v.close * s.{factor}) END,
         CASE WHEN s.symbol IS NULL THEN v.volume
              ELSE (v.volume / s.split_factor)::bigint END
    FROM eod.prices_raw(p_exchange, p_symbols, p_start, p_end, p_as_of) v
    LEFT JOIN spans s ON s.symbol = v.symbol
          AND s.bucket = eod.date_bucket(greatest(v.date, (SELECT f.d FROM floor f)))
          AND v.date >= s.valid_from AND v.date < s.valid_to
$$"""


#: Migration 4's statements, in order (frozen once shipped).
V4_STATEMENTS: tuple[str, ...] = (
    _ROUND4,
    _BUCKET,
    _BUCKETS,
    _PRODUCT,
    _ACTION_FACTORS,
    _FACTOR_SPANS,
    _PRICES_VENDOR,
    _PRICES_RAW,
    _adjusted("eod.prices_split_adjusted", "split_factor"),
    _adjusted("eod.prices_total_return", "factor"),
)

#: Dataset names in eod.fetch_log that record splits / dividends fetches.
_ACTION_TABLES = ("splits", "dividends")


def add_known_at(conn: psycopg.Connection) -> None:
    """Migration 4's column: when each split / dividend row was first stored.

    Existing rows take the time of the earliest fetch-log entry of their dataset that
    covers them (the fetch was committed with the rows), or the migration's time where
    no entry does (not known before we can show it was). New rows get now() from the
    server default, set by whatever statement inserts them.
    """
    # Updating compressed chunks decompresses the rows touched (see writer.py).
    conn.execute("SELECT set_config('timescaledb.max_tuples_decompressed_per_dml_transaction',"
                 " '0', true) WHERE EXISTS (SELECT 1 FROM pg_extension"
                 " WHERE extname = 'timescaledb')")
    migrated_at = conn.execute("SELECT now()").fetchone()[0]
    for table in _ACTION_TABLES:
        # TimescaleDB refuses a non-constant default when adding a column to a
        # hypertable with a columnstore: add it with the migration's time as a constant
        # (existing rows), then make now() the default for new rows.
        conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} timestamptz "
                             "NOT NULL DEFAULT {}").format(
            sql.Identifier(SCHEMA, table), sql.Identifier(KNOWN_AT), sql.Literal(migrated_at)))
        conn.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT now()").format(
            sql.Identifier(SCHEMA, table), sql.Identifier(KNOWN_AT)))
        conn.execute(
            f"UPDATE eod.{table} t SET {KNOWN_AT} = l.at FROM ("
            f" SELECT a.exchange, a.symbol, a.date, min(f.fetched_at) AS at"
            f"   FROM eod.{table} a JOIN eod.fetch_log f ON f.exchange = a.exchange"
            f"    AND f.dataset = %s AND (f.symbol IS NULL OR f.symbol = a.symbol)"
            f"    AND a.date BETWEEN f.start_date AND f.end_date"
            f"  GROUP BY a.exchange, a.symbol, a.date) l"
            f" WHERE (t.exchange, t.symbol, t.date) = (l.exchange, l.symbol, l.date)"
            f"   AND t.{KNOWN_AT} > l.at",
            (table,))


def create_functions(conn: psycopg.Connection) -> None:
    """Migration 4's functions (see the module docstring)."""
    for statement in V4_STATEMENTS:
        conn.execute(statement)
