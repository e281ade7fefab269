"""The merge's SQL: classify a staged batch against its table once, then write from that.

Why one classification: a merge must record revisions (old and new values of every row it
changes, for point-in-time reads) and then update the changed rows and insert the new
ones. Done as two statements over the whole staged batch (revisions INSERT ... SELECT,
then MERGE) that is two hash joins of every staged row against the table: a reload of 2M
unchanged rows took 4.5-6.0 s with both against 2.9-3.0 s with one (BENCHMARKS.md, "Load").
Here one LEFT JOIN on the primary key keeps only the rows that need writing, new keys and
changed rows with their stored values, in a session-local table (`changes`). The
revisions, the UPDATE and the INSERT read that table; an unchanged reload joins once and
writes nothing. The changed and new rows are usually few, so the planner (after an
ANALYZE of `changes`) reaches them by the primary key instead of scanning the table again.

"Changed" is `IS DISTINCT FROM` over the value columns as a row, so NULL -> value and
value -> NULL are changes and NULL -> NULL is not.

Column names in `changes`: the table's own, then `_old_<column>` per value column (the
stored values) and `_is_new`; the leading underscore keeps them apart from the table's.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from eod_pipeline.warehouse.tables import TableSpec

#: Marks a staged key the table does not hold yet (column of `changes`).
IS_NEW = "_is_new"
#: Prefix of the columns of `changes` that hold a changed row's stored values.
OLD_PREFIX = "_old_"

_ident = sql.Identifier


def _join(parts: list[sql.Composable], sep: str = ", ") -> sql.Composed:
    return sql.SQL(sep).join(parts)


def _cols(alias: str, names: list[str] | tuple[str, ...]) -> sql.Composed:
    return _join([sql.SQL(f"{alias}.{{}}").format(_ident(c)) for c in names])


@dataclass(frozen=True)
class MergeStatements:
    """Statements of one table's merge; `stage` holds the deduplicated batch (same
    columns as the table) and `changes` is the classification table they fill and read."""

    spec: TableSpec
    target: sql.Identifier
    stage: sql.Identifier
    changes: sql.Identifier

    @property
    def values(self) -> list[str]:
        """The value (non-key) columns: what a change is judged on and what it writes."""
        return [c for c in self.spec.column_names if c not in self.spec.primary_key]

    def _match(self, left: str, right: str) -> sql.Composed:
        return _join([sql.SQL(f"{left}.{{c}} = {right}.{{c}}").format(c=_ident(c))
                      for c in self.spec.primary_key], " AND ")

    def _differs(self, left: str, right: str) -> sql.Composed:
        return sql.SQL("({}) IS DISTINCT FROM ({})").format(
            _cols(left, self.values), _cols(right, self.values))

    def _classified(self, on: sql.Composable, where: sql.Composable) -> sql.Composed:
        """SELECT of staged rows with the stored values beside them (NULL for new keys)."""
        old = [sql.SQL("t.{} AS {}").format(_ident(c), _ident(OLD_PREFIX + c))
               for c in self.values]
        # A key column is NOT NULL, so a NULL one on the table's side means "no such row".
        is_new = sql.SQL("t.{} IS NULL AS {}").format(
            _ident(self.spec.primary_key[0]), _ident(IS_NEW))
        return sql.SQL("SELECT {cols} FROM {s} AS s LEFT JOIN {t} AS t ON {on} WHERE {where}"
                       ).format(cols=_join([_cols("s", self.spec.column_names), *old, is_new]),
                                s=self.stage, t=self.target, on=on, where=where)

    def create_changes(self) -> sql.Composed:
        """The session's classification table, typed from the table itself, empty."""
        return sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {c} AS {q} WITH NO DATA").format(
            c=self.changes, q=self._classified(sql.SQL("FALSE"), sql.SQL("TRUE")))

    def classify(self) -> sql.Composed:
        """The one join: every staged row that is new or changes a stored row."""
        new = sql.SQL("t.{} IS NULL").format(_ident(self.spec.primary_key[0]))
        where = (sql.SQL("{} OR {}").format(new, self._differs("t", "s")) if self.values
                 else new)
        return sql.SQL("INSERT INTO {c} {q}").format(
            c=self.changes, q=self._classified(self._match("t", "s"), where))

    def counts(self) -> sql.Composed:
        """(new rows, changed rows) in `changes`."""
        return sql.SQL("SELECT count(*) FILTER (WHERE {n}), count(*) FILTER (WHERE NOT {n}) "
                       "FROM {c}").format(n=_ident(IS_NEW), c=self.changes)

    def record_revisions(self, revisions: TableSpec, run_id: str) -> sql.Composed:
        """Append each changed row's key, stored values, new values, run and time to
        `revisions` (whose columns are in that order, see tables.revisions_of)."""
        return sql.SQL(
            "INSERT INTO {r} ({cols}) SELECT {key}, {old}, {new}, {run}, now() FROM {c} "
            "WHERE NOT {n}"
        ).format(
            r=_ident(*revisions.qualified_name.split(".")),
            cols=_join([_ident(c) for c in revisions.column_names]),
            key=_join([_ident(c) for c in self.spec.primary_key]),
            old=_join([_ident(OLD_PREFIX + c) for c in self.values]),
            new=_join([_ident(c) for c in self.values]),
            run=sql.Literal(run_id),
            c=self.changes,
            n=_ident(IS_NEW),
        )

    def update_changed(self) -> sql.Composed:
        """UPDATE of the changed rows. The value test is repeated so that a row another
        session changed to our values in the meantime is not counted (READ COMMITTED
        re-checks the WHERE on the newest row version)."""
        return sql.SQL(
            "UPDATE {t} AS t SET {sets} FROM {c} AS c WHERE NOT c.{n} AND {match} AND {diff}"
        ).format(
            t=self.target,
            sets=_join([sql.SQL("{x} = c.{x}").format(x=_ident(c)) for c in self.values]),
            c=self.changes,
            n=_ident(IS_NEW),
            match=self._match("t", "c"),
            diff=self._differs("t", "c"),
        )

    def insert_new(self) -> sql.Composed:
        """Plain INSERT of the new keys: a unique violation here means another session
        inserted one of them since the classification (the caller then upserts)."""
        return sql.SQL("INSERT INTO {t} ({cols}) SELECT {cols} FROM {c} WHERE {n}").format(
            t=self.target, cols=_join([_ident(c) for c in self.spec.column_names]),
            c=self.changes, n=_ident(IS_NEW))

    def upsert(self) -> sql.Composed:
        """`INSERT ... ON CONFLICT DO UPDATE ... WHERE changed` of the classified rows,
        counted as (inserted, updated).

        The hypertable write: ../shared/platform-notes.md checked this statement against
        compressed chunks, where it decompresses only the batches of the keys it
        writes (an UPDATE joined to another table may decompress whole chunks). Also the
        plain tables' fallback when a new key appeared after the classification.
        """
        cols = _join([_ident(c) for c in self.spec.column_names])
        if self.values:
            action = sql.SQL("DO UPDATE SET {sets} WHERE {diff}").format(
                sets=_join([sql.SQL("{x} = EXCLUDED.{x}").format(x=_ident(c))
                            for c in self.values]),
                diff=self._differs("t", "EXCLUDED"))
        else:
            action = sql.SQL("DO NOTHING")
        return sql.SQL(
            "WITH written AS (INSERT INTO {t} AS t ({cols}) SELECT {cols} FROM {c} "
            "ON CONFLICT ({key}) {action} RETURNING (xmax = 0) AS inserted) "
            "SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) "
            "FROM written"
        ).format(t=self.target, cols=cols, c=self.changes,
                 key=_join([_ident(c) for c in self.spec.primary_key]), action=action)
