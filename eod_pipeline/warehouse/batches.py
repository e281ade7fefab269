"""A batch of rows together with the facts that must commit with it.

Why: "done" is a fact recorded with the data. A price batch's rows, the rows the checks
refused (`eod.price_rejects`) and the fetch-log entries saying which requests these rows
answer (`eod.fetch_log`) are written by one writer in one transaction, so the log can
never claim rows that are not stored, and never miss rows that are.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from eod_pipeline.warehouse.tables import TableSpec


@dataclass(frozen=True)
class LoggedBatch:
    """Rows for the writer's table, plus append-only rows for other tables.

    `companions` are (table, rows) pairs appended with binary COPY inside the batch's
    transaction; they are facts about the batch (rejects, fetch-log entries), never
    merged or deduplicated.
    """

    rows: pl.DataFrame
    companions: tuple[tuple[TableSpec, pl.DataFrame], ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.rows.is_empty() and all(f.is_empty() for _, f in self.companions)
