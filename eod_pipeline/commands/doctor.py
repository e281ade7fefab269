"""`eod-pipeline doctor`: is this machine ready to run the pipeline? One verdict per line.

Why each check exists: they are the things that make a run fail minutes in, or fail
confusingly, checked up front in a few seconds: settings that do not parse, a warehouse
that is unreachable or has a schema newer than the code, no token, a token the API
rejects, a spent daily quota. FAIL means a run would fail; WARN means it would work but
something deserves attention. The exit code is 1 when any line FAILs.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import click
import psycopg

from eod_pipeline.commands.common import (
    api_base_url,
    connection_failure,
    database_source,
    lookup_quota,
    n,
    shown_url,
    token_is_set,
    utc,
)
from eod_pipeline.config import ConfigError, load_config
from eod_pipeline.eodhd.settings import ENV_BASE_URL, ENV_TOKEN
from eod_pipeline.warehouse.connection import (
    TIMESCALEDB_ENV,
    resolve_database_url,
    timescaledb_wanted,
)
from eod_pipeline.warehouse.embedded import EmbeddedPostgresError
from eod_pipeline.warehouse.migrations import (
    HYPERTABLES,
    latest_version,
    schema_version,
    timescaledb_available,
)

#: Below this share of the daily quota left, the API line warns: a backfill may not fit.
LOW_QUOTA_SHARE = 0.1


class Verdict(Enum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True)
class Check:
    verdict: Verdict
    name: str
    detail: str

    def line(self, name_width: int) -> str:
        return f"{self.verdict.value:<4}  {self.name.ljust(name_width)}  {self.detail}"


def check_config() -> Iterator[Check]:
    try:
        config = load_config()
    except ConfigError as exc:
        yield Check(Verdict.FAIL, "config", str(exc))
        return
    exchanges = ", ".join(f"{s.code} from {s.start}" for s in config.exchanges)
    yield Check(Verdict.OK, "config",
                f"valid: {exchanges}; max failed share {config.max_failed_share:.0%}")


def check_warehouse() -> Iterator[Check]:
    """Database reachable, schema version, storage mode; later checks need the first.

    Without EOD_DATABASE_URL this starts the embedded cluster if it is not running, as
    any run would: "reachable" then means "the pipeline can have its warehouse".
    """
    source = database_source()
    try:
        url = resolve_database_url()
    except EmbeddedPostgresError as exc:
        yield Check(Verdict.FAIL, "database", f"embedded cluster unavailable: {exc}")
        return
    try:
        conn = psycopg.connect(url, connect_timeout=5, application_name="eod-pipeline-doctor")
    except psycopg.Error as exc:
        yield Check(Verdict.FAIL, "database", f"not reachable: {connection_failure(url, exc)}")
        return
    with conn:
        version = conn.execute("SHOW server_version").fetchone()
        yield Check(Verdict.OK, "database",
                    f"reachable: {shown_url(url)} ({source}; PostgreSQL "
                    f"{version[0] if version else '?'})")
        yield _schema_check(conn)
        yield _storage_check(conn)


def _schema_check(conn: psycopg.Connection) -> Check:
    latest = latest_version()
    exists = conn.execute("SELECT to_regclass('eod.schema_migrations')").fetchone()
    if not exists or exists[0] is None:
        return Check(Verdict.WARN, "schema",
                     f"not created yet (version 0 of {latest}); the first run, `plan`, "
                     "`status` or `db start` creates it")
    current = schema_version(conn)
    if current == latest:
        return Check(Verdict.OK, "schema", f"version {current} (current)")
    if current < latest:
        return Check(Verdict.WARN, "schema",
                     f"version {current} of {latest}: migrated forward on the next run")
    return Check(Verdict.FAIL, "schema",
                 f"version {current} is newer than this code knows ({latest}): "
                 "upgrade eod-pipeline before running it against this warehouse")


def _storage_check(conn: psycopg.Connection) -> Check:
    row = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if row is not None:
        count = conn.execute(
            "SELECT count(*) FROM timescaledb_information.hypertables "
            "WHERE hypertable_schema = 'eod'"
        ).fetchone()
        return Check(Verdict.OK, "storage",
                     f"TimescaleDB {row[0]} ({count[0] if count else 0} of {len(HYPERTABLES)} "
                     "time-series tables are hypertables)")
    if timescaledb_available(conn) and not timescaledb_wanted():
        return Check(Verdict.OK, "storage",
                     f"plain PostgreSQL ({TIMESCALEDB_ENV}=off; timescaledb is available)")
    if timescaledb_available(conn):
        return Check(Verdict.WARN, "storage",
                     "plain PostgreSQL: timescaledb is installed but not enabled in this "
                     "database (it needs shared_preload_libraries = 'timescaledb'); it is "
                     "enabled when the schema is next applied if it can be")
    return Check(Verdict.OK, "storage",
                 "plain PostgreSQL (timescaledb not installed: same tables and queries, "
                 "no hypertables or compression)")


def check_eodhd() -> Iterator[Check]:
    base = api_base_url()
    overridden = f" ({ENV_BASE_URL})" if os.environ.get(ENV_BASE_URL) else ""
    if not token_is_set():
        yield Check(Verdict.FAIL, "token",
                    f"{ENV_TOKEN} is not set: export your EODHD API token (or run "
                    "`eod-pipeline demo` for simulated data)")
        yield Check(Verdict.WARN, "api", f"not checked without a token ({base}{overridden})")
        return
    yield Check(Verdict.OK, "token", f"{ENV_TOKEN} is set (value not shown)")
    lookup = lookup_quota()
    shown = lookup.base_url or base
    if lookup.info is None:
        yield Check(Verdict.FAIL, "api", f"{shown}{overridden}: {lookup.reason}")
        return
    info = lookup.info
    detail = (f"reachable at {shown}{overridden}: plan {info.subscription_type!r}, "
              f"{n(info.requests_today)} of {n(info.daily_limit)} calls used today, "
              f"{n(info.remaining)} left (resets {utc(info.resets_at)})")
    if info.remaining <= 0:
        yield Check(Verdict.FAIL, "api", f"{detail}: no calls left today")
    elif info.remaining < LOW_QUOTA_SHARE * max(info.daily_limit, 1):
        yield Check(Verdict.WARN, "api", f"{detail}: less than {LOW_QUOTA_SHARE:.0%} left")
    else:
        yield Check(Verdict.OK, "api", detail)


def check_dagster_home() -> Iterator[Check]:
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        yield Check(Verdict.WARN, "dagster home",
                    "DAGSTER_HOME is not set: `dagster dev` keeps runs in a throwaway "
                    "instance (`eod-pipeline demo` sets one up under .eod_pipeline)")
    elif not (Path(home) / "dagster.yaml").is_file():
        yield Check(Verdict.WARN, "dagster home",
                    f"{home} has no dagster.yaml: Dagster defaults apply (no pool limit "
                    "for EODHD steps; see eod_pipeline/templates/dagster.local.yaml)")
    else:
        yield Check(Verdict.OK, "dagster home", f"{home}")


def run_checks() -> list[Check]:
    checks: list[Check] = []
    for group in (check_config, check_warehouse, check_eodhd, check_dagster_home):
        checks.extend(group())
    return checks


@click.command()
def doctor() -> None:
    """Check settings, warehouse, EODHD token, API and quota; one OK/WARN/FAIL per line.

    Exits 1 if any check FAILs. The token is never printed; database URLs are shown
    without their password.
    """
    checks = run_checks()
    width = max(len(c.name) for c in checks)
    for check in checks:
        click.echo(check.line(width))
    fails = sum(c.verdict is Verdict.FAIL for c in checks)
    warns = sum(c.verdict is Verdict.WARN for c in checks)
    if fails:
        click.echo(f"\nverdict: NOT READY ({fails} FAIL, {warns} WARN)")
        click.get_current_context().exit(1)
    click.echo(f"\nverdict: ready ({warns} WARN)" if warns else "\nverdict: ready")
