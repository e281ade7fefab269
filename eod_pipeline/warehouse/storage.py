"""Storage modes: TimescaleDB hypertables with a columnstore, or plain PostgreSQL tables.

The mode is decided once, when a warehouse is created, and recorded in the warehouse
itself (`eod.warehouse_settings`), because converting a populated table is a long,
locking rewrite: it must never happen as a side effect of some process connecting. Only
`eod-pipeline db migrate --timescaledb | --plain` converts (`convert_to_timescaledb`,
`convert_to_plain`), and records the new mode.

Probing for TimescaleDB never touches a connection's health: with the library installed
but not in `shared_preload_libraries`, `CREATE EXTENSION timescaledb` is FATAL (the server
ends the session, ../shared/timescaledb/README.md), so the extension is created only when
the setting names it and `pg_available_extensions` lists it. The same holds for calling
any TimescaleDB function in a database where the extension exists.

The SQL follows ../shared/platform-notes.md (checked on TimescaleDB 2.28.3 over 15).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

import psycopg
from psycopg import sql

from eod_pipeline.warehouse.embedded import preloads_timescaledb
from eod_pipeline.warehouse.tables import SCHEMA, TABLES, TableSpec

#: Chunk size of the hypertables. EOD data is one row a trading day per symbol, so a year's
#: chunk of a 50,000-symbol exchange is ~12.5M rows: large enough to compress well, small
#: enough that the columnstore policy leaves recent months writable.
HYPERTABLE_CHUNK_INTERVAL = "1 year"
#: Chunks older than this are converted to the columnstore. Late corrections and new
#: corporate actions still rewrite older rows: upserts into compressed chunks work
#: (TimescaleDB 2.11+), they are only slower.
COLUMNSTORE_AFTER = "90 days"

#: What a server that has the library but not the preload needs; said by logs and doctor.
PRELOAD_FIX = ("set shared_preload_libraries = 'timescaledb' in postgresql.conf and "
               "restart the server")
#: The command that applies migrations and converts between modes.
MIGRATE_COMMAND = "eod-pipeline db migrate"

#: The one-row table holding the warehouse's storage mode.
SETTINGS_TABLE = f"{SCHEMA}.warehouse_settings"


class StorageMode(Enum):
    TIMESCALEDB = "timescaledb"
    POSTGRES = "postgres"


def hypertable_specs() -> tuple[TableSpec, ...]:
    """The time-series tables (a `time_column`): hypertables in TimescaleDB mode.

    A function, not only a constant, so tables added to `TABLES` later are included.
    """
    return tuple(t for t in TABLES.values() if t.time_column)


#: The tables that become hypertables in TimescaleDB mode.
HYPERTABLES = hypertable_specs()


# ----- probing --------------------------------------------------------------------------


@dataclass(frozen=True)
class TimescaleProbe:
    """What a server and database say about TimescaleDB, asked without risk."""

    #: `shared_preload_libraries` names timescaledb.
    preloaded: bool
    #: Version the server could install (`pg_available_extensions`), None if absent.
    available_version: str | None
    #: Version created in this database (`pg_extension`), None if not created.
    extension_version: str | None

    @property
    def installed(self) -> bool:
        return self.available_version is not None

    @property
    def usable(self) -> bool:
        """`CREATE EXTENSION timescaledb` (and its functions) can work here."""
        return self.installed and self.preloaded

    def why_unusable(self) -> str:
        """The reason TimescaleDB cannot be used, with the fix; "" if it can."""
        if self.usable:
            return ""
        if not self.installed:
            return ("the timescaledb extension is not installed on this PostgreSQL server "
                    "(install TimescaleDB for its version)")
        return f"timescaledb is installed but not preloaded: {PRELOAD_FIX}"


def probe_timescaledb(conn: psycopg.Connection) -> TimescaleProbe:
    """Ask the server whether TimescaleDB can be used; plain catalog reads only."""
    row = conn.execute(
        "SELECT current_setting('shared_preload_libraries'),"
        " (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'),"
        " (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb')"
    ).fetchone()
    assert row is not None
    return TimescaleProbe(preloaded=preloads_timescaledb(row[0] or ""),
                          available_version=row[1], extension_version=row[2])


def enable_timescaledb(conn: psycopg.Connection) -> None:
    """Create the extension; only call where `probe_timescaledb(conn).usable`."""
    conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")


# ----- the recorded mode ----------------------------------------------------------------


def create_settings_table(conn: psycopg.Connection) -> None:
    """The one-row settings table (idempotent). Created beside `schema_migrations` by
    `ensure_schema`'s bootstrap, not by a numbered migration, so it exists before any
    migration runs and does not depend on their numbering."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS eod.warehouse_settings ("
        " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),"
        " storage_mode text NOT NULL CHECK (storage_mode IN ('timescaledb', 'postgres')),"
        " decided_at timestamptz NOT NULL DEFAULT now(),"
        " note text NOT NULL)"
    )


def recorded_mode(conn: psycopg.Connection) -> StorageMode | None:
    """The recorded storage mode, or None (no settings table or no row yet)."""
    exists = conn.execute("SELECT to_regclass(%s)", (SETTINGS_TABLE,)).fetchone()
    if not exists or exists[0] is None:
        return None
    row = conn.execute("SELECT storage_mode FROM eod.warehouse_settings").fetchone()
    return StorageMode(row[0]) if row else None


def record_mode(conn: psycopg.Connection, mode: StorageMode, note: str) -> None:
    """Record `mode` with why it was chosen (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO eod.warehouse_settings (storage_mode, note) VALUES (%s, %s) "
        "ON CONFLICT (singleton) DO UPDATE SET storage_mode = excluded.storage_mode, "
        "decided_at = now(), note = excluded.note",
        (mode.value, note),
    )


def hypertable_names(conn: psycopg.Connection) -> set[str]:
    """Names of the tables in the `eod` schema that are hypertables.

    Reads TimescaleDB's information views (plain SQL views: safe without the preload);
    empty where the extension was never created in this database.
    """
    has_views = conn.execute(
        "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL"
    ).fetchone()
    if not (has_views and has_views[0]):
        return set()
    return {r[0] for r in conn.execute(
        "SELECT hypertable_name FROM timescaledb_information.hypertables "
        "WHERE hypertable_schema = %s", (SCHEMA,))}


def existing_tables_mode(conn: psycopg.Connection) -> StorageMode | None:
    """The mode a warehouse made before modes were recorded is in, from its tables:
    TimescaleDB if any time-series table is a hypertable, plain if they exist but none
    is, None if there are no time-series tables yet (a new warehouse)."""
    present = [spec for spec in hypertable_specs() if conn.execute(
        "SELECT to_regclass(%s)", (spec.qualified_name,)).fetchone()[0] is not None]
    if not present:
        return None
    hypertables = hypertable_names(conn)
    if any(spec.name in hypertables for spec in present):
        return StorageMode.TIMESCALEDB
    return StorageMode.POSTGRES


# ----- hypertables ------------------------------------------------------------------------


def make_hypertable(conn: psycopg.Connection, spec: TableSpec, name: str | None = None) -> None:
    """Convert `name` (default: the spec's table) to a hypertable with a columnstore.

    Idempotent: converts once and sets the columnstore once, whatever the version.
    Existing rows move into chunks (`migrate_data`), which rewrites the table.
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


# ----- conversion -----------------------------------------------------------------------


@dataclass(frozen=True)
class TableConversion:
    """What converting one table did: its rows, the new kind, the time it took."""

    table: str
    rows: int
    seconds: float
    became: str  # "hypertable" | "plain table" | "unchanged (...)"


def _rows(conn: psycopg.Connection, spec: TableSpec) -> int:
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(SCHEMA, spec.name))
    ).fetchone()
    return int(row[0]) if row else 0


def convert_to_timescaledb(conn: psycopg.Connection) -> list[TableConversion]:
    """Make every time-series table a hypertable with a columnstore and its policy.

    Runs in the caller's transaction (which should hold the migration lock). Rows move
    into chunks; the columnstore policy then compresses chunks older than
    `COLUMNSTORE_AFTER` in the background.
    """
    enable_timescaledb(conn)
    done: list[TableConversion] = []
    already = hypertable_names(conn)
    for spec in hypertable_specs():
        started = time.monotonic()
        make_hypertable(conn, spec)
        done.append(TableConversion(
            spec.qualified_name, _rows(conn, spec), time.monotonic() - started,
            "unchanged (already a hypertable)" if spec.name in already else "hypertable"))
    return done


def _default_time_index(spec: TableSpec) -> str:
    """The index `create_hypertable` makes on the time column by default: it is part of
    being a hypertable, not of the table, so a plain copy leaves it out."""
    return f"{spec.name}_{spec.time_column}_idx"


def _to_plain(conn: psycopg.Connection, spec: TableSpec) -> None:
    """Copy a hypertable into a new plain table of the same name, keys and indexes.

    Why a copy: TimescaleDB cannot turn a hypertable back into a table in place. The new
    table takes the columns, defaults and checks (`LIKE`), its primary key is added after
    the load (faster than maintaining it row by row), and the table's own indexes are
    recreated from their definitions, which name the table by the name it ends up with.
    """
    qualified = sql.Identifier(SCHEMA, spec.name)
    interim = sql.Identifier(SCHEMA, f"{spec.name}__plain")
    oid = conn.execute("SELECT %s::regclass::oid", (spec.qualified_name,)).fetchone()[0]
    primary = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s AND contype = 'p'", (oid,)).fetchone()
    indexes = [r[0] for r in conn.execute(
        "SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = %s AND NOT i.indisprimary AND c.relname <> %s",
        (oid, _default_time_index(spec)))]
    conn.execute(sql.SQL(
        "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING GENERATED INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS)"
    ).format(interim, qualified))
    conn.execute(sql.SQL("INSERT INTO {} SELECT * FROM {}").format(interim, qualified))
    conn.execute(sql.SQL("DROP TABLE {}").format(qualified))
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
        interim, sql.Identifier(spec.name)))
    if primary:
        conn.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
            qualified, sql.Identifier(primary[0]), sql.SQL(primary[1])))
    for definition in indexes:
        conn.execute(sql.SQL(definition))


def convert_to_plain(conn: psycopg.Connection) -> list[TableConversion]:
    """Turn every hypertable among the time-series tables into a plain table, keeping
    every row (compressed chunks are read back transparently). Runs in the caller's
    transaction, so a failure leaves the warehouse as it was. The extension stays in the
    database: other schemas may use it, and plain tables do not need it gone."""
    hypertables = hypertable_names(conn)
    done: list[TableConversion] = []
    for spec in hypertable_specs():
        started = time.monotonic()
        if spec.name in hypertables:
            _to_plain(conn, spec)
            became = "plain table"
        else:
            became = "unchanged (already a plain table)"
        done.append(TableConversion(spec.qualified_name, _rows(conn, spec),
                                    time.monotonic() - started, became))
    return done


# ----- what the tables are --------------------------------------------------------------

#: Seconds to wait for the warehouse when only looking (the UI's labels): a definitions
#: load must not hang on an unreachable server.
LOOK_TIMEOUT_S = 2


def hypertables_at(url: str | None) -> set[str] | None:
    """`hypertable_names` of the warehouse at `url`; None when it cannot be reached (then
    nobody can tell). Catalog reads only, safe on every kind of server."""
    if not url:
        return None
    try:
        with psycopg.connect(url, connect_timeout=LOOK_TIMEOUT_S,
                             application_name="eod-pipeline-labels") as conn:
            return hypertable_names(conn)
    except psycopg.Error:
        return None
