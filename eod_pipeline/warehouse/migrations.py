"""Versioned, idempotent schema creation.

Each migration has a version number and runs once, inside a transaction, under an advisory
lock, and is recorded in `eod.schema_migrations`. A later release adds migrations at the
end; it never edits one that has shipped, so an existing warehouse is migrated forward
without losing data.

TimescaleDB is optional. Where the extension is available, the time-series tables become
hypertables on `date` with a columnstore segmented by (exchange, symbol); where it is not,
they stay plain PostgreSQL tables with the same columns and keys, so every query works in
both modes. The SQL follows ../shared/platform-notes.md (checked on TimescaleDB 2.28.3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

import psycopg
from psycopg import sql

from eod_pipeline.warehouse.tables import SCHEMA, TABLES, TableSpec

log = logging.getLogger(__name__)

#: Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_KEY = 0x0E0D_5C4E

#: Chunk size of the hypertables. EOD data is one row a trading day per symbol, so a year's
#: chunk of a 50,000-symbol exchange is ~12.5M rows: large enough to compress well, small
#: enough that the columnstore policy leaves recent months writable.
HYPERTABLE_CHUNK_INTERVAL = "1 year"
#: Chunks older than this are converted to the columnstore. Late corrections and new
#: corporate actions still rewrite older rows: upserts into compressed chunks work
#: (TimescaleDB 2.11+), they are only slower.
COLUMNSTORE_AFTER = "90 days"


class StorageMode(Enum):
    TIMESCALEDB = "timescaledb"
    POSTGRES = "postgres"


def _create_table(spec: TableSpec) -> sql.Composed:
    cols = [
        sql.SQL("{} {}{}").format(
            sql.Identifier(c.name),
            sql.SQL(c.pg_type),
            sql.SQL("" if c.nullable else " NOT NULL"),
        )
        for c in spec.columns
    ]
    if spec.primary_key:
        cols.append(
            sql.SQL("PRIMARY KEY ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, spec.primary_key))
            )
        )
    return sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} ({})").format(
        sql.Identifier(SCHEMA), sql.Identifier(spec.name), sql.SQL(", ").join(cols)
    )


def _v1_tables(conn: psycopg.Connection) -> None:
    for spec in TABLES.values():
        conn.execute(_create_table(spec))
    conn.execute(
        "CREATE INDEX IF NOT EXISTS price_rejects_by_ticker "
        "ON eod.price_rejects (exchange, symbol, date)"
    )


def _v2_fetch_log(conn: psycopg.Connection) -> None:
    # What has been fetched, so a re-run spends calls only on what is missing, and what
    # the answers said about a ticker's first and last trading dates.
    conn.execute(
        "CREATE TABLE IF NOT EXISTS eod.fetch_log ("
        " exchange text NOT NULL,"
        " dataset text NOT NULL,"       # prices | splits | dividends
        " symbol text,"                 # NULL: a bulk call covering the whole exchange
        " start_date date NOT NULL,"
        " end_date date NOT NULL,"
        " rows integer NOT NULL,"
        " first_date date,"
        " last_date date,"
        " run_id text NOT NULL,"
        " fetched_at timestamptz NOT NULL DEFAULT now())"
    )
    conn.execute(
        "CREATE INDEX IF NOT EXISTS fetch_log_by_exchange "
        "ON eod.fetch_log (exchange, dataset, symbol, start_date)"
    )


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[psycopg.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "exchanges, symbols, prices, splits, dividends, rejects, holidays", _v1_tables),
    Migration(2, "fetch log (resume and ticker date bounds)", _v2_fetch_log),
)

#: The tables that become hypertables where TimescaleDB exists.
HYPERTABLES = tuple(t for t in TABLES.values() if t.time_column)


def timescaledb_available(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def _enable_timescaledb(conn: psycopg.Connection) -> bool:
    """Create the extension if possible; False (with the reason logged) if not."""
    if not timescaledb_available(conn):
        return False
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        # Typical cause: installed but not in shared_preload_libraries.
        log.warning("timescaledb is installed but cannot be enabled: %s", exc.diag.message_primary)
        return False
    return True


def make_hypertable(conn: psycopg.Connection, spec: TableSpec, name: str | None = None) -> None:
    """Convert `name` (default: the spec's table) to a hypertable with a columnstore.

    Idempotent: converts once and sets the columnstore once, whatever the version.
    """
    name = name or spec.qualified_name
    schema, table = name.split(".")
    conn.execute(
        "SELECT create_hypertable(%s::regclass, by_range(%s, %s::interval), "
        "if_not_exists => TRUE, migrate_data => TRUE)",
        (name, spec.time_column, HYPERTABLE_CHUNK_INTERVAL),
    )
    # `compression_enabled` has been in this view since TimescaleDB 2.0; the settings
    # views were renamed across releases.
    enabled = conn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = %s AND hypertable_name = %s",
        (schema, table),
    ).fetchone()
    if not (enabled and enabled[0]):
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} SET (timescaledb.enable_columnstore, "
                "timescaledb.segmentby = 'exchange, symbol', "
                "timescaledb.orderby = {})"
            ).format(
                sql.Identifier(schema, table),
                sql.Literal(f"{spec.time_column}"),
            )
        )
    conn.execute(
        "CALL add_columnstore_policy(%s::regclass, after => %s::interval, "
        "if_not_exists => TRUE)",
        (name, COLUMNSTORE_AFTER),
    )


def ensure_schema(conn: psycopg.Connection, *, use_timescaledb: bool = True) -> StorageMode:
    """Bring the warehouse schema to the newest version; return the storage mode.

    `use_timescaledb=False` keeps plain tables even where the extension exists (the
    `EOD_TIMESCALEDB=off` setting; the load benchmark uses it to measure both kinds).

    Idempotent and safe to call from concurrent processes: the work happens under a
    transaction-scoped advisory lock, and already-applied versions are skipped. Logs one
    line saying which mode is in use.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS eod.schema_migrations ("
            " version integer PRIMARY KEY,"
            " description text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {r[0] for r in conn.execute("SELECT version FROM eod.schema_migrations")}
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            migration.apply(conn)
            conn.execute(
                "INSERT INTO eod.schema_migrations (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
            log.info("Applied warehouse migration %d: %s", migration.version, migration.description)
        timescale = use_timescaledb and _enable_timescaledb(conn)
        if timescale:
            for spec in HYPERTABLES:
                make_hypertable(conn, spec)
    mode = StorageMode.TIMESCALEDB if timescale else StorageMode.POSTGRES
    if mode is StorageMode.TIMESCALEDB:
        log.info("Warehouse mode: TimescaleDB (hypertables with columnstore on %s)",
                 ", ".join(t.name for t in HYPERTABLES))
    else:
        log.info("Warehouse mode: plain PostgreSQL (timescaledb extension not available; "
                 "same tables and queries, no hypertables or compression)")
    return mode


def schema_version(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT coalesce(max(version), 0) FROM eod.schema_migrations"
    ).fetchone()
    return int(row[0]) if row else 0


def latest_version() -> int:
    return MIGRATIONS[-1].version
