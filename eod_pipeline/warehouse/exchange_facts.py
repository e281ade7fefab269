"""Read the stored EODHD exchange facts (`eod.exchanges`, `eod.exchange_details`) for the
exchange registry, without starting, migrating or waiting on anything.

Why here: the registry looks up a code outside its built-in list while the Dagster
definitions load (`markets/stored.py`); that read must stay a look (short connect
timeout, autocommit, every failure an answer of "not known here") so a warehouse that is
down, empty or not migrated yet never breaks a load that only uses built-in codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import psycopg

from eod_pipeline.warehouse.connection import redact_url
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.storage import LOOK_TIMEOUT_S
from eod_pipeline.warehouse.tables import EXCHANGE_DETAILS, EXCHANGES, TableSpec


@dataclass(frozen=True)
class StoredFacts:
    """What one warehouse holds: the exchanges list and the details rows (None: the table
    could not be read), and why not when it could not."""

    where: str
    listed: pl.DataFrame | None
    details: pl.DataFrame | None
    problem: str = ""


def _read(conn: psycopg.Connection, spec: TableSpec) -> tuple[pl.DataFrame | None, str]:
    try:
        return read_slice(conn, spec), ""
    except psycopg.errors.UndefinedTable:
        return None, f"{spec.qualified_name} does not exist (run `eod-pipeline db migrate`)"
    except psycopg.Error as exc:
        return None, f"{spec.qualified_name} unreadable ({type(exc).__name__})"


def read_exchange_facts(url: str) -> StoredFacts:
    """The stored exchanges list and details at `url` (the password never in `where`)."""
    where = f"the warehouse {redact_url(url)}"
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=LOOK_TIMEOUT_S,
                             application_name="eod-pipeline-registry") as conn:
            listed, why_listed = _read(conn, EXCHANGES)
            details, why_details = _read(conn, EXCHANGE_DETAILS)
    except psycopg.Error as exc:
        return StoredFacts(where, None, None, f"not reachable ({type(exc).__name__})")
    return StoredFacts(where, listed, details, "; ".join(p for p in (why_listed, why_details)
                                                        if p))
