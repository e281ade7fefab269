"""What `eod-pipeline doctor` asks the warehouse: schema state and TimescaleDB storage.

Kept here so the SQL stays in the warehouse package; the command only judges the answers.
Everything is a read, and nothing calls a TimescaleDB function unless the server preloads
the library (calling one without the preload is FATAL for the session).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from eod_pipeline.warehouse.migrations import MIGRATIONS, latest_version
from eod_pipeline.warehouse.storage import (
    StorageMode,
    TimescaleProbe,
    probe_timescaledb,
    recorded_mode,
)
from eod_pipeline.warehouse.tables import SCHEMA


@dataclass(frozen=True)
class SchemaState:
    """The warehouse's schema bookkeeping, as found."""

    exists: bool
    applied: frozenset[int]
    mode: StorageMode | None

    @property
    def version(self) -> int:
        return max(self.applied, default=0)

    @property
    def pending(self) -> list[int]:
        return [m.version for m in MIGRATIONS if m.version not in self.applied]

    @property
    def newer_than_code(self) -> bool:
        return self.version > latest_version()


def server_version(conn: psycopg.Connection) -> str:
    row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def schema_state(conn: psycopg.Connection) -> SchemaState:
    exists = conn.execute("SELECT to_regclass('eod.schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return SchemaState(False, frozenset(), None)
    applied = frozenset(r[0] for r in conn.execute("SELECT version FROM eod.schema_migrations"))
    return SchemaState(True, applied, recorded_mode(conn))


def timescaledb_state(conn: psycopg.Connection) -> TimescaleProbe:
    return probe_timescaledb(conn)


@dataclass(frozen=True)
class HypertableStats:
    """One hypertable's chunks and sizes (bytes; before/after None while nothing is
    compressed)."""

    table: str
    chunks: int
    compressed_chunks: int
    total_bytes: int
    before_compression_bytes: int | None
    after_compression_bytes: int | None


def hypertable_stats(conn: psycopg.Connection) -> list[HypertableStats]:
    """Per hypertable in the `eod` schema: chunks, compressed chunks, sizes.

    Uses `hypertable_compression_stats` and `hypertable_size` (TimescaleDB 2.x, still in
    2.28 beside the newer `hypertable_columnstore_stats` alias). Needs the extension
    loaded: call only where `probe_timescaledb(conn).usable`.
    """
    rows = conn.execute(
        "SELECT h.hypertable_name, h.num_chunks,"
        " coalesce(s.number_compressed_chunks, 0),"
        " hypertable_size(format('%%I.%%I', h.hypertable_schema, h.hypertable_name)::regclass),"
        " s.before_compression_total_bytes, s.after_compression_total_bytes "
        "FROM timescaledb_information.hypertables h "
        "LEFT JOIN LATERAL hypertable_compression_stats("
        "  format('%%I.%%I', h.hypertable_schema, h.hypertable_name)::regclass) s ON TRUE "
        "WHERE h.hypertable_schema = %s ORDER BY h.hypertable_name",
        (SCHEMA,),
    ).fetchall()
    return [HypertableStats(f"{SCHEMA}.{r[0]}", int(r[1]), int(r[2]), int(r[3] or 0),
                            None if r[4] is None else int(r[4]),
                            None if r[5] is None else int(r[5]))
            for r in rows]
