"""Dagster resources: the warehouse connection."""


import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import dagster as dg
import psycopg
from pydantic import Field, PrivateAttr

from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.eodhd.settings import EodhdSettings
from eod_pipeline.warehouse.connection import connect, resolve_database_url
from eod_pipeline.warehouse.migrations import StorageMode, check_schema

log = logging.getLogger(__name__)
T = TypeVar("T")


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL/TimescaleDB warehouse.

    `database_url` unset means `EOD_DATABASE_URL`, else the embedded cluster that the
    project starts itself (see `eod_pipeline.warehouse.embedded`).

    Connecting never migrates or converts anything: the first connection of each
    resource checks, read-only, that the schema is current and reads the recorded storage
    mode (`check_schema`). A warehouse that is absent, behind or unusable on this server
    fails the step with a `WarehouseNotReady` naming the command to run (`eod-pipeline db
    migrate`). Why: migrating in every sensor tick and run worker turned plain tables into
    hypertables, a long locking rewrite, in whichever process connected first.
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
            try:
                self._mode = check_schema(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    @property
    def mode(self) -> StorageMode:
        if self._mode is None:
            self.connect().close()
        assert self._mode is not None
        return self._mode


class EodhdResource(dg.ConfigurableResource):
    """Settings of the EODHD client for a run.

    The token reaches the resource as `dg.EnvVar("EODHD_API_TOKEN")` (see
    `definitions.default_resources`): Dagster keeps and shows the variable's *name* as
    the resource config, in the UI and the event log, and resolves the value only in the
    process that runs the step. Left unset (tests, scripts), the client reads the same
    variable through `eod_pipeline.settings`. The value is excluded from the resource's
    repr and masked in `EodhdSettings`' repr, logs and errors.
    """

    token: str | None = Field(default=None, repr=False,
                              description="Set as dg.EnvVar('EODHD_API_TOKEN'), never as text.")
    base_url: str | None = None
    requests_per_minute: float | None = None
    max_in_flight: int | None = None
    timeout_s: float | None = None
    max_retries: int | None = None

    def settings(self) -> EodhdSettings:
        overrides: dict[str, object] = {}
        if self.token:
            overrides["token"] = self.token
        if self.timeout_s:
            overrides["timeout_s"] = self.timeout_s
        if self.max_retries is not None:
            overrides["max_retries"] = self.max_retries
        if self.base_url:
            overrides["base_url"] = self.base_url
        if self.requests_per_minute:
            overrides["requests_per_minute"] = self.requests_per_minute
        if self.max_in_flight:
            overrides["max_in_flight"] = self.max_in_flight
        return EodhdSettings.from_env(**overrides)

    def run(self, coro_factory: Callable[[EodhdClient], Awaitable[T]]) -> tuple[T, dict]:
        """Run `coro_factory(client)` to completion; return its result and the usage."""

        async def go() -> tuple[T, dict]:
            async with EodhdClient(self.settings()) as client:
                try:
                    result = await coro_factory(client)
                finally:
                    usage = client.usage.as_dict()
                return result, usage

        return asyncio.run(go())


class ClockResource(dg.ConfigurableResource):
    """The time sensors and checks reason about: real time unless `now` is set.

    Why: "is today's data due yet" depends on the clock; tests and the simulated demo set
    it to chosen moments (before the close, after it, on a holiday).
    """

    now_iso: str | None = None

    def now(self) -> dt.datetime:
        if self.now_iso:
            moment = dt.datetime.fromisoformat(self.now_iso)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        return dt.datetime.now(dt.UTC)
