"""Versioned, idempotent schema creation, run at explicit points only.

Each migration has a version number and runs once, inside a transaction, under an advisory
lock, and is recorded in `eod.schema_migrations`. A later release adds migrations at the
end; it never edits one that has shipped, so an existing warehouse is migrated forward
without losing data.

Where migrations run: `eod-pipeline db migrate` / `db start` (deployment start), the demo
and the tests' fixtures (`migrate_schema` / `ensure_schema`). Everything else (Dagster
runs, sensors, `status`, `plan`) calls `check_schema`, which reads and never changes
anything: a process that finds the schema behind fails with a message naming
`eod-pipeline db migrate`, instead of rewriting tables nobody asked it to.

Storage mode (TimescaleDB hypertables with a columnstore, or plain PostgreSQL tables with
the same columns and keys, so every query works in both) is decided when the warehouse is
created and recorded in it; see `storage.py`. Migrations never change it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from psycopg import sql

from eod_pipeline.warehouse import storage as _storage
from eod_pipeline.warehouse import views as _views
from eod_pipeline.warehouse.connection import TIMESCALEDB_ENV, timescaledb_wanted
from eod_pipeline.warehouse.storage import (  # noqa: F401 (re-exported for callers)
    COLUMNSTORE_AFTER,
    HYPERTABLE_CHUNK_INTERVAL,
    StorageMode,
    make_hypertable,
)
from eod_pipeline.warehouse.tables import SCHEMA, TABLES, TableSpec

log = logging.getLogger(__name__)

#: Any constant works; it only has to be the same in every process that migrates.
_MIGRATION_LOCK_KEY = 0x0E0D_5C4E


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


#: The tables migration 1 created, frozen: later tables come from later migrations.
_V1_TABLES = ("exchanges", "symbols", "prices", "splits", "dividends", "price_rejects",
              "exchange_holidays")


def _v1_tables(conn: psycopg.Connection) -> None:
    for name in _V1_TABLES:
        conn.execute(_create_table(TABLES[name]))
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


def _v3_facts(conn: psycopg.Connection) -> None:
    # Facts that make "done" checkable: rejected rows per fetch, every revision the
    # source made to a stored row, and gaps a person has acknowledged (trading halts).
    conn.execute("ALTER TABLE eod.fetch_log "
                 "ADD COLUMN IF NOT EXISTS rejected integer NOT NULL DEFAULT 0")
    for name in ("price_revisions", "gap_acknowledgements"):
        conn.execute(_create_table(TABLES[name]))
    conn.execute("CREATE INDEX IF NOT EXISTS price_revisions_by_key "
                 "ON eod.price_revisions (exchange, symbol, date)")


def _v4_adjusted_views(conn: psycopg.Connection) -> None:
    # Raw prices plus factors: when each split / dividend was stored (point-in-time
    # reads), and the adjusted "views" (SQL functions) computed from them (views.py).
    _views.add_known_at(conn)
    _views.create_functions(conn)


def _v5_exchange_details_and_symbol_changes(conn: psycopg.Connection) -> None:
    # Trading hours of any EODHD exchange (so codes outside the built-in registry can be
    # configured without an API call at load), and EODHD's ticker changes (FB -> META).
    for name in ("exchange_details", "symbol_changes"):
        conn.execute(_create_table(TABLES[name]))
    conn.execute("CREATE INDEX IF NOT EXISTS symbol_changes_by_new "
                 "ON eod.symbol_changes (exchange, new_symbol)")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[psycopg.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "exchanges, symbols, prices, splits, dividends, rejects, holidays", _v1_tables),
    Migration(2, "fetch log (resume and ticker date bounds)", _v2_fetch_log),
    Migration(3, "fetch-log rejects, price revisions, gap acknowledgements", _v3_facts),
    Migration(4, "action known_at, adjustment factors and adjusted price functions",
              _v4_adjusted_views),
    Migration(5, "exchange details (trading hours), symbol changes",
              _v5_exchange_details_and_symbol_changes),
)

#: The tables that become hypertables in TimescaleDB mode (re-exported from storage).
HYPERTABLES = _storage.HYPERTABLES


class WarehouseNotReady(RuntimeError):
    """The warehouse cannot be used as it is; the message says which command fixes it."""


def timescaledb_available(conn: psycopg.Connection) -> bool:
    """Whether the server has the extension installed (usable or not: see
    `storage.probe_timescaledb` for whether it can be created)."""
    return _storage.probe_timescaledb(conn).installed


@dataclass(frozen=True)
class SchemaReport:
    """What `migrate_schema` did: the storage mode and the migrations it applied."""

    mode: StorageMode
    applied: tuple[Migration, ...]


def _bootstrap(conn: psycopg.Connection) -> None:
    """The bookkeeping every version has: schema, applied migrations, recorded mode.

    Not a numbered migration, so the mode is recorded before any migration runs and
    whatever migrations later releases append.
    """
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
    conn.execute(
        "CREATE TABLE IF NOT EXISTS eod.schema_migrations ("
        " version integer PRIMARY KEY,"
        " description text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    _storage.create_settings_table(conn)


def _decide_mode(conn: psycopg.Connection, use_timescaledb: bool,
                 probe: _storage.TimescaleProbe) -> tuple[StorageMode, str]:
    """The mode of a warehouse that has none recorded, and why.

    A warehouse made before modes were recorded keeps the kind its tables already are
    (converting is `db migrate`'s job); a new one is TimescaleDB where wanted and usable.
    """
    existing = _storage.existing_tables_mode(conn)
    if existing is not None:
        return existing, "kept from the existing tables (made before modes were recorded)"
    if not use_timescaledb:
        return StorageMode.POSTGRES, f"{TIMESCALEDB_ENV}=off when the warehouse was created"
    if probe.usable:
        return StorageMode.TIMESCALEDB, "timescaledb usable when the warehouse was created"
    return StorageMode.POSTGRES, probe.why_unusable()


def migrate_schema(conn: psycopg.Connection, *,
                   use_timescaledb: bool | None = None) -> SchemaReport:
    """Apply pending migrations; decide and record the storage mode on a new warehouse.

    `use_timescaledb` matters only when the warehouse is created (None: the
    `EOD_TIMESCALEDB` setting): an existing warehouse keeps its recorded mode, and
    converting is `change_storage_mode`'s job. In TimescaleDB mode, time-series tables
    that migrations create become hypertables right away (they are new, so empty).

    Idempotent and safe to call from concurrent processes: the work happens in one
    transaction under an advisory lock, and applied versions are skipped. Logs one line
    saying which mode is in use (a warning, with the fix, where TimescaleDB was wanted but
    is installed without the preload). Never runs `CREATE EXTENSION` where it would fail.
    """
    wanted = timescaledb_wanted() if use_timescaledb is None else use_timescaledb
    probe = _storage.probe_timescaledb(conn)
    applied: list[Migration] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        _bootstrap(conn)
        mode = _storage.recorded_mode(conn)
        reason = ""
        if mode is None:
            mode, reason = _decide_mode(conn, wanted, probe)
            _storage.record_mode(conn, mode, reason)
        if mode is StorageMode.TIMESCALEDB:
            if not probe.usable:
                raise WarehouseNotReady(
                    "The warehouse's storage mode is TimescaleDB, but on this server "
                    f"{probe.why_unusable()}; or convert it to plain tables on a server "
                    f"where TimescaleDB works: `{_storage.MIGRATE_COMMAND} --plain`")
            _storage.enable_timescaledb(conn)
        done = {r[0] for r in conn.execute("SELECT version FROM eod.schema_migrations")}
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            migration.apply(conn)
            conn.execute(
                "INSERT INTO eod.schema_migrations (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
            applied.append(migration)
            log.info("Applied warehouse migration %d: %s", migration.version, migration.description)
        if mode is StorageMode.TIMESCALEDB:
            hypertables = _storage.hypertable_names(conn)
            for spec in _storage.hypertable_specs():
                if spec.name not in hypertables:
                    _storage.make_hypertable(conn, spec)
    _log_mode(mode, wanted, probe, reason)
    return SchemaReport(mode, tuple(applied))


def _log_mode(mode: StorageMode, wanted: bool, probe: _storage.TimescaleProbe,
              reason: str) -> None:
    if mode is StorageMode.TIMESCALEDB:
        log.info("Warehouse mode: TimescaleDB (hypertables with columnstore on %s)",
                 ", ".join(t.name for t in _storage.hypertable_specs()))
    elif wanted and probe.installed and not probe.preloaded:
        # The one line a server as TimescaleDB's packages leave it gets.
        log.warning("Warehouse mode: plain PostgreSQL tables: timescaledb is installed on "
                    "this server but not preloaded: %s, then run `%s --timescaledb`",
                    _storage.PRELOAD_FIX, _storage.MIGRATE_COMMAND)
    else:
        why = reason or ("recorded when the warehouse was created" if probe.usable
                         else "timescaledb extension not available")
        log.info("Warehouse mode: plain PostgreSQL (%s; same tables and queries, no "
                 "hypertables or compression)", why)


def ensure_schema(conn: psycopg.Connection, *,
                  use_timescaledb: bool | None = None) -> StorageMode:
    """`migrate_schema`, returning only the storage mode (tests, benchmarks, `db start`).

    `use_timescaledb=False` creates a new warehouse with plain tables even where the
    extension works (the load benchmark uses it to measure both kinds); None follows
    `EOD_TIMESCALEDB`. It never converts an existing warehouse.
    """
    return migrate_schema(conn, use_timescaledb=use_timescaledb).mode


def change_storage_mode(conn: psycopg.Connection, target: StorageMode
                        ) -> list[_storage.TableConversion]:
    """Convert the time-series tables to `target` and record it; one transaction under
    the migration lock, so a failure changes nothing. Call after `migrate_schema`.

    Takes exclusive locks on the tables for as long as the copy takes: runs and sensors
    touching them wait. Raises `WarehouseNotReady` if TimescaleDB is the target and
    cannot be used here.
    """
    probe = _storage.probe_timescaledb(conn)
    if target is StorageMode.TIMESCALEDB and not probe.usable:
        raise WarehouseNotReady(f"Cannot convert to TimescaleDB: {probe.why_unusable()}")
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        if target is StorageMode.TIMESCALEDB:
            done = _storage.convert_to_timescaledb(conn)
        else:
            done = _storage.convert_to_plain(conn)
        _storage.record_mode(conn, target, f"converted by `{_storage.MIGRATE_COMMAND}`")
    log.info("Warehouse storage mode is now %s", target.value)
    return done


def check_schema(conn: psycopg.Connection) -> StorageMode:
    """The storage mode of a warehouse whose schema is current; raise otherwise.

    Read-only and cheap: what every process that is not an explicit migration point runs
    on connecting (Dagster runs and sensors, `status`, `plan`). Raises `WarehouseNotReady`
    naming the command to run when the schema is absent or behind, when it is newer than
    this code, and when a TimescaleDB warehouse is on a server that cannot load it
    (writing there would put rows beside the hypertable's chunks, not in them).
    """
    with conn.transaction():
        exists = conn.execute("SELECT to_regclass('eod.schema_migrations')").fetchone()
        if not exists or exists[0] is None:
            raise WarehouseNotReady(
                "The warehouse has no schema yet: run `eod-pipeline db migrate` (or "
                "`eod-pipeline db start` for the embedded cluster) to create it")
        done = {r[0] for r in conn.execute("SELECT version FROM eod.schema_migrations")}
        latest = latest_version()
        if done and max(done) > latest:
            raise WarehouseNotReady(
                f"The warehouse schema is at version {max(done)}, newer than this code "
                f"knows ({latest}): upgrade eod-pipeline before running it against it")
        pending = [m.version for m in MIGRATIONS if m.version not in done]
        if pending:
            raise WarehouseNotReady(
                f"The warehouse schema is behind this code (migrations "
                f"{', '.join(map(str, pending))} of {latest} not applied): run "
                "`eod-pipeline db migrate`")
        mode = _storage.recorded_mode(conn)
        if mode is None:
            raise WarehouseNotReady(
                "The warehouse has no recorded storage mode (made by an older version): "
                "run `eod-pipeline db migrate` to record it")
        if mode is StorageMode.TIMESCALEDB:
            probe = _storage.probe_timescaledb(conn)
            if not probe.usable:
                raise WarehouseNotReady(
                    f"The warehouse's storage mode is TimescaleDB, but {probe.why_unusable()}")
    return mode


def schema_version(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "SELECT coalesce(max(version), 0) FROM eod.schema_migrations"
    ).fetchone()
    return int(row[0]) if row else 0


def latest_version() -> int:
    return MIGRATIONS[-1].version
