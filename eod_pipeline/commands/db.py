"""`eod-pipeline db start|stop|url|migrate`: the warehouse's server and schema.

Why a command for it: the embedded cluster is started only explicitly, by `db start` (or
the demo), never as a side effect of a run, sensor or command connecting; it outlives the
process that started it (runs, the webserver and the CLI share it), so something has to
stop it, and `psql "$(eod-pipeline db url)"` is the quickest way into the data.

`db migrate` (and `db start`) are where the schema changes: runs, sensors, `status` and
`plan` only check it. `db migrate --timescaledb | --plain` is the one way to convert the
time-series tables between storage modes, since that rewrites them.
"""

from __future__ import annotations

import os
import time

import click
import psycopg

from eod_pipeline.commands.common import connection_failure, database_source, n, shown_url
from eod_pipeline.commands.common import warehouse_url as resolve_warehouse_url
from eod_pipeline.warehouse.connection import DATABASE_URL_ENV, connect
from eod_pipeline.warehouse.embedded import EmbeddedPostgres, EmbeddedPostgresError, default_home
from eod_pipeline.warehouse.migrations import (
    StorageMode,
    WarehouseNotReady,
    change_storage_mode,
    latest_version,
    migrate_schema,
)
from eod_pipeline.warehouse.storage import (
    COLUMNSTORE_AFTER,
    TableConversion,
    probe_timescaledb,
)

#: How the modes are named in what the commands print.
MODE_NAMES = {StorageMode.TIMESCALEDB: "TimescaleDB", StorageMode.POSTGRES: "plain PostgreSQL"}


def _note_external() -> None:
    if os.environ.get(DATABASE_URL_ENV):
        click.echo(f"note: {DATABASE_URL_ENV} is set, so the pipeline uses that database, "
                   "not the embedded cluster", err=True)


@click.group()
def db() -> None:
    """Manage the embedded warehouse (a PostgreSQL cluster in EOD_HOME, default
    ./.eod_pipeline), used when EOD_DATABASE_URL is not set."""


@db.command()
def start() -> None:
    """Create (first time) and start the embedded cluster, apply the schema, print its URL."""
    _note_external()
    cluster = EmbeddedPostgres(default_home())
    try:
        url = cluster.ensure_running()
    except EmbeddedPostgresError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with connect(url) as conn:
            mode = migrate_schema(conn).mode
    except WarehouseNotReady as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"embedded warehouse running: {url} ({MODE_NAMES[mode]}; data in "
               f"{cluster.data_dir})")


@db.command()
def stop() -> None:
    """Stop the embedded cluster (open sessions are ended); the data stay."""
    cluster = EmbeddedPostgres(default_home())
    if not (cluster.data_dir / "postmaster.pid").exists():
        click.echo(f"embedded warehouse not running ({cluster.data_dir})")
        return
    try:
        cluster.stop()
    except EmbeddedPostgresError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"embedded warehouse stopped ({cluster.data_dir})")


@db.command()
def url() -> None:
    """Print the warehouse URL the pipeline uses (password hidden if from EOD_DATABASE_URL).

    Does not start anything: for the embedded cluster it prints the URL it listens on
    once started (`db start`).
    """
    if external := os.environ.get(DATABASE_URL_ENV):
        click.echo(f"(from {DATABASE_URL_ENV}, password not shown)", err=True)
        click.echo(shown_url(external))
        return
    cluster = EmbeddedPostgres(default_home())
    try:
        click.echo(cluster.url())
    except FileNotFoundError:
        raise click.ClickException(
            f"no embedded cluster in {cluster.home} yet: `eod-pipeline db start` creates it"
        ) from None
    if not (cluster.data_dir / "postmaster.pid").exists():
        click.echo("(not running: `eod-pipeline db start`)", err=True)


@db.command()
@click.option("--timescaledb", "target", flag_value=StorageMode.TIMESCALEDB.value,
              help="Also convert the time-series tables to TimescaleDB hypertables with "
                   "the columnstore (needs the extension preloaded by the server).")
@click.option("--plain", "target", flag_value=StorageMode.POSTGRES.value,
              help="Also convert the time-series tables to plain PostgreSQL tables.")
def migrate(target: str | None) -> None:
    """Apply pending schema migrations to the warehouse; with a flag, convert its storage.

    The warehouse is EOD_DATABASE_URL's, else the embedded cluster if it is running
    (`db start` starts it and migrates too).
    A new warehouse is created in the mode the flag names, else TimescaleDB where the
    extension is usable and EOD_TIMESCALEDB is not off. Converting rewrites every
    time-series table in one transaction (all or nothing; runs touching them wait), keeps
    every row, records the new mode and prints the time each table took.
    """
    wanted = StorageMode(target) if target else None
    url = resolve_warehouse_url()
    try:
        conn = connect(url)
    except psycopg.Error as exc:
        raise click.ClickException(
            f"cannot reach the warehouse at {connection_failure(url, exc)}") from None
    click.echo(f"warehouse: {shown_url(url)} ({database_source()})")
    with conn:
        try:
            if wanted is StorageMode.TIMESCALEDB:
                # Before creating anything: a new warehouse must not start out plain.
                probe = probe_timescaledb(conn)
                if not probe.usable:
                    raise WarehouseNotReady(
                        f"Cannot use TimescaleDB: {probe.why_unusable()}")
            started = time.monotonic()
            report = migrate_schema(
                conn, use_timescaledb=None if wanted is None
                else wanted is StorageMode.TIMESCALEDB)
            if report.applied:
                for m in report.applied:
                    click.echo(f"applied migration {m.version}: {m.description}")
                click.echo(f"schema at version {latest_version()} "
                           f"({time.monotonic() - started:.2f} s)")
            else:
                click.echo(f"schema up to date (version {latest_version()})")
            if wanted is None or wanted is report.mode:
                click.echo(f"storage mode: {MODE_NAMES[report.mode]}"
                           + ("" if wanted is None else " (nothing to convert)"))
                return
            started = time.monotonic()
            done = change_storage_mode(conn, wanted)
            took = time.monotonic() - started
        except WarehouseNotReady as exc:
            raise click.ClickException(str(exc)) from None
        except psycopg.Error as exc:
            raise click.ClickException(
                f"migrating {connection_failure(url, exc)} failed; nothing was "
                "changed by the failed step") from None
    click.echo(f"converting the time-series tables: {MODE_NAMES[report.mode]} -> "
               f"{MODE_NAMES[wanted]}")
    click.echo(_conversion_table(done))
    click.echo(f"storage mode: {MODE_NAMES[wanted]} (was {MODE_NAMES[report.mode]}); "
               f"conversion took {took:.2f} s")
    if wanted is StorageMode.TIMESCALEDB:
        click.echo(f"the columnstore policy compresses chunks older than {COLUMNSTORE_AFTER} "
                   "in the background; `eod-pipeline doctor` shows chunks and sizes")


def _conversion_table(done: list[TableConversion]) -> str:
    width = max(len(c.table) for c in done)
    rows_width = max(len(n(c.rows)) for c in done)
    return "\n".join(
        f"  {c.table.ljust(width)}  {n(c.rows).rjust(rows_width)} rows  "
        f"{c.seconds:7.2f} s  {c.became}" for c in done)
