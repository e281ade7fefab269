"""The kinds (icons) an asset shows in the UI, told by the warehouse, not assumed.

Why: a `timescaledb` badge on a plain PostgreSQL table tells the user they have
hypertables and compression when they do not. The definitions load asks the warehouse
which tables are hypertables (catalog reads, never starting or migrating anything); when
the warehouse cannot be reached the storage badge is left off rather than guessed.
"""

from __future__ import annotations

#: Kinds of every asset that writes polars frames through the I/O manager.
FRAME_KIND = "polars"


def table_kinds(hypertables: set[str] | None, table: str) -> set[str]:
    """Kinds of an asset whose rows go to `table` (a name in the `eod` schema)."""
    if hypertables is None:
        return {FRAME_KIND}
    return {FRAME_KIND, "timescaledb" if table in hypertables else "postgres"}
