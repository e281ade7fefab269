"""Dagster resources: the warehouse connection."""

from __future__ import annotations

import logging

import dagster as dg
import psycopg
from pydantic import PrivateAttr

from eod_pipeline.warehouse.connection import connect, resolve_database_url
from eod_pipeline.warehouse.migrations import StorageMode, ensure_schema

log = logging.getLogger(__name__)


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL/TimescaleDB warehouse.

    `database_url` unset means `EOD_DATABASE_URL`, else the embedded cluster that the
    project starts itself (see `eod_pipeline.warehouse.embedded`). The schema is brought
    to the newest version on first connection of each process (idempotent, locked).
    """

    database_url: str | None = None
    _url: str | None = PrivateAttr(default=None)
    _mode: StorageMode | None = PrivateAttr(default=None)

    def url(self) -> str:
        if self._url is None:
            self._url = resolve_database_url(self.database_url)
        return self._url

    def connect(self) -> psycopg.Connection:
        conn = connect(self.url())
        if self._mode is None:
            self._mode = ensure_schema(conn)
        return conn

    @property
    def mode(self) -> StorageMode:
        if self._mode is None:
            self.connect().close()
        assert self._mode is not None
        return self._mode
