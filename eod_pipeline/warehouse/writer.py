"""Write polars frames into a warehouse table with binary COPY, idempotently.

Two paths, chosen per write (../shared/platform-notes.md measured both on this kind of
machine: a straight binary COPY runs at ~2x the speed of a staged upsert):

- **copy**: the target slice holds no rows, or none of the batch's series (e.g. tickers)
  over its dates, so every row is new: binary COPY straight into the table. Each batch
  runs under a savepoint; should a key exist after all (duplicates within the batch or
  across batches of one stream, or a concurrent writer), that batch alone is redone as a
  merge.
- **merge**: rows may exist. The batch is COPYed into a session-local staging table and
  classified against the table by one LEFT JOIN on the key (changes.py): only new keys and
  changed rows, with their stored values, are kept. From that: the changed rows' old and
  new values go to the revisions table, changed rows are updated, new keys inserted.
  Unchanged rows are not written at all (a reload of identical data joins once and writes
  nothing). Rows the batch does not mention are never deleted: a partly failed fetch must
  not erase good history.

A merged batch is deduplicated on the primary key first (keeping the last occurrence):
PostgreSQL refuses an upsert that touches one row twice (SQLSTATE 21000). The straight COPY
skips that work (and keeps the producer's row order, which B-tree inserts like): a batch
with duplicate keys fails its COPY with a unique violation and is merged instead.

On TimescaleDB hypertables the classified rows are written by `INSERT ... ON CONFLICT DO
UPDATE ... WHERE changed`, the statement ../shared/platform-notes.md checked against
compressed chunks; on plain tables by an UPDATE joined on the key and a plain INSERT.

Streams commit batch by batch: a long backfill keeps what it has paid for if it fails half
way, and the next run resumes from what is stored. A single frame is one transaction.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import pgpq
import polars as pl
import psycopg
from psycopg import sql

from eod_pipeline.warehouse.batches import LoggedBatch
from eod_pipeline.warehouse.changes import MergeStatements
from eod_pipeline.warehouse.slices import TableSlice
from eod_pipeline.warehouse.tables import REVISIONS, TableSpec
from eod_pipeline.warehouse.validation import validate_frame

#: Session memory for the merge. Staging tables are temp tables, held in `temp_buffers`
#: (default 8MB: a 2M-row batch would spill to disk); the merge's hash join wants
#: `work_mem` (default 4MB) to hold the staged keys. Sized for batches up to ~2M rows.
_TEMP_BUFFERS = "512MB"
_MERGE_WORK_MEM = "256MB"

#: Rows per Arrow record batch handed to the binary COPY encoder: ~8 MB of COPY data per
#: write, large enough that per-call overhead vanishes, small enough not to double memory.
_COPY_CHUNK_ROWS = 100_000
#: TimescaleDB's cap on rows a DML transaction may decompress (default 100,000; 0 lifts
#: it). Measured here: a daily upsert of ~3,150 rows into compressed chunks of a
#: 4,000-ticker exchange exceeded it (BENCHMARKS.md).
_DECOMPRESS_LIMIT_GUC = "timescaledb.max_tuples_decompressed_per_dml_transaction"
#: The run id recorded with revisions written outside a Dagster run (tests, tools).
NO_RUN = "-"
#: Times a batch is redone after the server broke a deadlock by aborting it. TimescaleDB's
#: columnstore policy takes an AccessExclusiveLock on the chunk it converts; an upsert
#: into that chunk at the same moment deadlocks with it and PostgreSQL aborts one side
#: (seen here on 2.28.3 within seconds of a policy being added). The batch's transaction
#: rolled back whole, so redoing it is safe; the policy retries its chunk on its own.
DEADLOCK_RETRIES = 3


@dataclass
class WriteReport:
    """What one write did, for the materialization's metadata."""

    table: str
    mode: str = "copy"
    batches: int = 0
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates_dropped: int = 0
    #: Updated rows whose old and new values were recorded in the revisions table.
    revised: int = 0
    #: Rows appended to companion tables (rejects, fetch-log entries), by table.
    companions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    modes_used: set[str] = field(default_factory=set)

    @property
    def unchanged(self) -> int:
        """Rows whose stored values already equalled the new ones (nothing written)."""
        return self.rows - self.inserted - self.updated

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _copy_statement(target: sql.Composable, spec: TableSpec) -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        target, sql.SQL(", ").join(map(sql.Identifier, spec.column_names))
    )


def copy_frame(cur: psycopg.Cursor, target: sql.Composable, spec: TableSpec,
               frame: pl.DataFrame) -> None:
    """Binary COPY of `frame` (columns in table order) into `target`.

    pgpq encodes the Arrow columns to PostgreSQL's binary COPY format in compiled code, a
    call per 100,000 rows instead of a Python call per row. Measured here on 1M price
    rows: 0.43 s of client CPU against 1.50 s for psycopg's `write_row`, which matters
    because the same process is parsing API answers while it writes. Columns are cast to
    the table's exact types first: binary COPY has no implicit casts (an int8 sent to an
    int4 column is an error).
    """
    table = frame.select(spec.column_names).cast(dict(spec.polars_schema)).to_arrow()
    encoder = pgpq.ArrowToPostgresBinaryEncoder(table.schema)
    with cur.copy(_copy_statement(target, spec)) as copy:
        copy.write(encoder.write_header())
        for batch in table.to_batches(max_chunksize=_COPY_CHUNK_ROWS):
            copy.write(encoder.write_batch(batch))
        copy.write(encoder.finish())


Batch = pl.DataFrame | LoggedBatch


def _as_batches(frames: Batch | Iterable[Batch]) -> Iterator[Batch]:
    if isinstance(frames, pl.DataFrame | LoggedBatch):
        yield frames
    else:
        yield from frames


class TableWriter:
    """Writes batches of one table slice over one connection (not thread-safe)."""

    def __init__(self, conn: psycopg.Connection, spec: TableSpec,
                 where: TableSlice | None = None, run_id: str = NO_RUN) -> None:
        self.conn = conn
        self.spec = spec
        self.where = where
        self.run_id = run_id
        self._revisions = REVISIONS.get(spec.name)
        self.report = WriteReport(table=spec.qualified_name)
        self._target = sql.Identifier(*spec.qualified_name.split("."))
        self._stage = sql.Identifier(f"_stage_{spec.name}")
        self._changes = sql.Identifier(f"_changes_{spec.name}")
        self._statements = MergeStatements(spec, self._target, self._stage, self._changes)
        self._stage_ready = False
        self._hypertable = False
        self._slice_empty: bool | None = None

    def slice_is_empty(self) -> bool:
        where = self.where.where() if self.where else sql.SQL("TRUE")
        row = self.conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {} WHERE {})").format(self._target, where)
        ).fetchone()
        return bool(row and row[0])

    def write(self, frames: Batch | Iterable[Batch]) -> WriteReport:
        """Validate, deduplicate and store every batch; return the cumulative report."""
        started = time.perf_counter()
        try:
            for frame in _as_batches(frames):
                self.write_batch(frame)
        finally:
            self.report.seconds += time.perf_counter() - started
            modes = self.report.modes_used
            self.report.mode = "merge" if "merge" in modes else "copy"
        return self.report

    def write_batch(self, batch: Batch) -> None:
        """Store one batch, and its companion facts, in one transaction; refuse it whole
        if it does not fit."""
        frame, companions = ((batch.rows, batch.companions) if isinstance(batch, LoggedBatch)
                             else (batch, ()))
        validate_frame(self.spec, frame, self.where)
        for spec, extra in companions:
            validate_frame(spec, extra, None)
        frame = frame.select(self.spec.column_names)
        self.report.batches += 1
        if frame.is_empty() and not any(extra.height for _, extra in companions):
            return
        for attempt in range(DEADLOCK_RETRIES + 1):
            before = copy.deepcopy(self.report)
            try:
                written = self._transaction(frame, companions)
                break
            except psycopg.errors.DeadlockDetected:
                # Nothing of the batch is stored: forget its counts and the session
                # objects created inside the aborted transaction, then redo it.
                self.report = before
                self._stage_ready = False
                if attempt == DEADLOCK_RETRIES:
                    raise
        self.report.rows += written

    def _transaction(self, frame: pl.DataFrame,
                     companions: tuple[tuple[TableSpec, pl.DataFrame], ...]) -> int:
        """The batch's rows and companion rows in one transaction; rows written."""
        with self.conn.transaction():
            if not frame.is_empty():
                frame = self._store(frame)
            for spec, extra in companions:
                if extra.height:
                    copy_frame(self.conn.cursor(),
                               sql.Identifier(*spec.qualified_name.split(".")), spec, extra)
                    self.report.companions[spec.name] = (
                        self.report.companions.get(spec.name, 0) + extra.height)
        return frame.height

    def _store(self, frame: pl.DataFrame) -> pl.DataFrame:
        """COPY or merge `frame` (inside the caller's transaction); the rows written."""
        if self._slice_empty is None:
            self._slice_empty = not self.spec.primary_key or self.slice_is_empty()
        if (self._slice_empty or self._keys_all_new(frame)) and self._try_copy(frame):
            self.report.inserted += frame.height
            self.report.modes_used.add("copy")
            return frame
        frame = self._deduplicate(frame)
        self._merge(frame)
        self.report.modes_used.add("merge")
        return frame

    def _keys_all_new(self, frame: pl.DataFrame) -> bool:
        """Whether no stored row shares a series (the key without its time column) and a
        date range with `frame`: then every key is new and the batch can COPY straight.

        Why: a resumed backfill writes tickers its slice does not hold yet. Classifying
        such a batch by a LEFT JOIN makes the planner probe the index once per row (the
        new keys lie outside the table's statistics): 5.5 s for 500,000 rows into
        hypertables against 3.1 s for a straight COPY (BENCHMARKS.md). This asks one
        range question per series instead.
        """
        spec = self.spec
        time_column = spec.time_column
        if not time_column or time_column not in spec.primary_key or frame.is_empty():
            return False
        series = [c for c in spec.primary_key if c != time_column]
        if not series:
            return False
        keys = frame.select(series).unique()
        arrays = sql.SQL(", ").join(
            sql.SQL("{}::{}[]").format(sql.Literal(keys[c].to_list()),
                                       sql.SQL(spec.column(c).pg_type))
            for c in series)
        names = sql.SQL(", ").join(map(sql.Identifier, series))
        matches = sql.SQL(" AND ").join(
            sql.SQL("t.{c} = k.{c}").format(c=sql.Identifier(c)) for c in series)
        bounds = frame.select(pl.col(time_column).min().alias("lo"),
                              pl.col(time_column).max().alias("hi")).row(0)
        row = self.conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM unnest({arrays}) AS k({names})"
                    " JOIN {target} t ON {matches} AND t.{time} BETWEEN %s AND %s)").format(
                arrays=arrays, names=names, target=self._target, matches=matches,
                time=sql.Identifier(time_column)),
            bounds).fetchone()
        return bool(row and row[0])

    def _deduplicate(self, frame: pl.DataFrame) -> pl.DataFrame:
        key = list(self.spec.primary_key)
        # Distinct key hashes prove distinct keys; hashing is ~5x cheaper than unique().
        if frame.select(pl.struct(key).hash().n_unique()).item() == frame.height:
            return frame
        before = frame.height
        frame = frame.unique(subset=key, keep="last")
        self.report.duplicates_dropped += before - frame.height
        return frame

    def _try_copy(self, frame: pl.DataFrame) -> bool:
        if not self.spec.primary_key:
            copy_frame(self.conn.cursor(), self._target, self.spec, frame)
            return True
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                copy_frame(cur, self._target, self.spec, frame)
            return True
        except psycopg.errors.UniqueViolation:
            # Keys exist after all (a duplicate within the batch, or another writer):
            # merge this batch; later ones ask again.
            self._slice_empty = False
            return False

    def _is_hypertable(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass('timescaledb_information.hypertables') IS NOT NULL"
        ).fetchone()
        if not (row and row[0]):
            return False
        schema, table = self.spec.qualified_name.split(".")
        return self.conn.execute(
            "SELECT 1 FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = %s AND hypertable_name = %s",
            (schema, table),
        ).fetchone() is not None

    def _ensure_stage(self, cur: psycopg.Cursor) -> None:
        if not self._stage_ready:
            self._hypertable = self._is_hypertable()
            try:
                with self.conn.transaction():
                    cur.execute(f"SET temp_buffers = '{_TEMP_BUFFERS}'")
            except psycopg.errors.InvalidParameterValue:
                pass  # this session used temp tables before; the setting is fixed now
            # A session-local temp table: not WAL-logged, invisible to other sessions.
            cur.execute(
                sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS)").format(
                    self._stage, self._target
                )
            )
            cur.execute(self._statements.create_changes())
            self._stage_ready = True
        cur.execute(sql.SQL("TRUNCATE {}, {}").format(self._stage, self._changes))

    def _merge(self, frame: pl.DataFrame) -> None:
        """Stage the batch, classify it against the table in one join, then record the
        revisions and write the changed and new rows from that classification
        (changes.py says why one join)."""
        with self.conn.cursor() as cur:
            self._ensure_stage(cur)
            copy_frame(cur, self._stage, self.spec, frame)
            # Temp tables have no statistics until analyzed; without them the planner
            # guesses a tiny table and picks nested loops over millions of rows.
            cur.execute(sql.SQL("ANALYZE {}").format(self._stage))
            cur.execute(f"SET LOCAL work_mem = '{_MERGE_WORK_MEM}'")
            if self._hypertable:
                # A merge into compressed chunks decompresses the rows it touches;
                # TimescaleDB refuses a transaction past 100,000 of them by default, so
                # a past exchange-day of 400+ tickers (or one long refetch) would fail.
                # The batch bounds what one transaction touches instead.
                cur.execute(f"SET LOCAL {_DECOMPRESS_LIMIT_GUC} = 0")
            statements = self._statements
            cur.execute(statements.classify())
            if cur.rowcount == 0:
                return  # every staged row equals its stored row: nothing to write
            counted = cur.execute(statements.counts()).fetchone()
            new, changed = counted if counted else (0, 0)
            if changed and self._revisions is not None:
                # Before the rows change, in the same transaction: the writer is the one
                # place that sees both values, and a revision recorded anywhere else could
                # be missed or recorded for a change that never committed.
                cur.execute(statements.record_revisions(self._revisions, self.run_id))
                self.report.revised += max(cur.rowcount, 0)
            if self._hypertable:
                self._upsert(cur)
                return
            # Statistics for the UPDATE's join: few changed rows are reached by the key.
            cur.execute(sql.SQL("ANALYZE {}").format(self._changes))
            try:
                with self.conn.transaction():
                    updated = inserted = 0
                    if changed:
                        cur.execute(statements.update_changed())
                        updated = max(cur.rowcount, 0)
                    if new:
                        cur.execute(statements.insert_new())
                        inserted = max(cur.rowcount, 0)
            except psycopg.errors.UniqueViolation:
                # Another session inserted one of our new keys after the classification
                # saw it missing: redo the write with the upsert, which is safe against that.
                self._upsert(cur)
                return
            self.report.inserted += inserted
            self.report.updated += updated

    def _upsert(self, cur: psycopg.Cursor) -> None:
        """Write the classified rows with INSERT ... ON CONFLICT DO UPDATE; count them."""
        counted = cur.execute(self._statements.upsert()).fetchone()
        inserted, updated = counted if counted else (0, 0)
        self.report.inserted += inserted
        self.report.updated += updated


def write_frames(conn: psycopg.Connection, spec: TableSpec,
                 frames: Batch | Iterable[Batch],
                 where: TableSlice | None = None, run_id: str = NO_RUN) -> WriteReport:
    """Store `frames` (one frame or batch, or a stream of them) into `spec`'s table."""
    return TableWriter(conn, spec, where, run_id).write(frames)
