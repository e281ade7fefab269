"""`eod-pipeline db start|stop|url`: the embedded PostgreSQL cluster under EOD_HOME.

Why a command for it: the cluster starts itself on first use and outlives the process
that started it (runs, the webserver and the CLI share it), so something has to stop it,
and `psql "$(eod-pipeline db url)"` is the quickest way into the data.
"""

from __future__ import annotations

import os

import click
import psycopg

from eod_pipeline.commands.common import shown_url
from eod_pipeline.warehouse.connection import DATABASE_URL_ENV, timescaledb_wanted
from eod_pipeline.warehouse.embedded import EmbeddedPostgres, EmbeddedPostgresError, default_home
from eod_pipeline.warehouse.migrations import StorageMode, ensure_schema


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
    with psycopg.connect(url) as conn:
        mode = ensure_schema(conn, use_timescaledb=timescaledb_wanted())
    kind = "TimescaleDB" if mode is StorageMode.TIMESCALEDB else "plain PostgreSQL"
    click.echo(f"embedded warehouse running: {url} ({kind}; data in {cluster.data_dir})")


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
