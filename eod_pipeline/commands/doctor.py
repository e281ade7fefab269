"""`eod-pipeline doctor`: is this machine ready to run the pipeline? One verdict per line.

Why each check exists: they are the things that make a run fail minutes in, or fail
confusingly, checked up front in a few seconds: settings that do not parse, a warehouse
that is unreachable, has a schema behind or ahead of the code (runs never migrate) or a
storage mode the server cannot serve (TimescaleDB installed but not preloaded), no token,
a token the API rejects, a spent daily quota. FAIL means a run would fail; WARN means it
would work but something deserves attention. The exit code is 1 when any line FAILs.
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
    use_demo_settings,
    utc,
)
from eod_pipeline.config import ConfigError, load_config
from eod_pipeline.eodhd.settings import ENV_BASE_URL, ENV_TOKEN
from eod_pipeline.settings import DemoSettings
from eod_pipeline.warehouse import health
from eod_pipeline.warehouse.connection import (
    TIMESCALEDB_ENV,
    WarehouseNotConfigured,
    connect,
    resolve_database_url,
    timescaledb_wanted,
)
from eod_pipeline.warehouse.embedded import EmbeddedPostgresError
from eod_pipeline.warehouse.migrations import latest_version
from eod_pipeline.warehouse.storage import (
    MIGRATE_COMMAND,
    PRELOAD_FIX,
    StorageMode,
    TimescaleProbe,
    hypertable_specs,
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

    Never starts anything: without EOD_DATABASE_URL the embedded cluster must have been
    started (`eod-pipeline db start`), as any run needs; otherwise the FAIL names both
    fixes.
    """
    source = database_source()
    try:
        url = resolve_database_url()
    except WarehouseNotConfigured as exc:
        yield Check(Verdict.FAIL, "database", str(exc))
        return
    except EmbeddedPostgresError as exc:
        yield Check(Verdict.FAIL, "database", f"embedded cluster unavailable: {exc}")
        return
    try:
        conn = connect(url, connect_timeout=5, application_name="eod-pipeline-doctor")
    except psycopg.Error as exc:
        yield Check(Verdict.FAIL, "database", f"not reachable: {connection_failure(url, exc)}")
        return
    with conn:
        try:
            yield Check(Verdict.OK, "database",
                        f"reachable: {shown_url(url)} ({source}; PostgreSQL "
                        f"{health.server_version(conn)})")
            state = health.schema_state(conn)
            probe = health.timescaledb_state(conn)
            yield _schema_check(state)
            yield from _storage_checks(conn, state, probe)
        except psycopg.Error as exc:
            yield Check(Verdict.FAIL, "database", f"query failed: {connection_failure(url, exc)}")


def _schema_check(state: health.SchemaState) -> Check:
    """FAIL whenever a run would refuse the warehouse: runs never migrate."""
    latest = latest_version()
    if not state.exists:
        return Check(Verdict.FAIL, "schema",
                     f"not created yet (version 0 of {latest}): run `{MIGRATE_COMMAND}` "
                     "(the demo and `db start` also create it)")
    if state.newer_than_code:
        return Check(Verdict.FAIL, "schema",
                     f"version {state.version} is newer than this code knows ({latest}): "
                     "upgrade eod-pipeline before running it against this warehouse")
    if state.pending:
        return Check(Verdict.FAIL, "schema",
                     f"version {state.version} of {latest} (pending: "
                     f"{', '.join(map(str, state.pending))}): runs refuse it until you run "
                     f"`{MIGRATE_COMMAND}`")
    if state.mode is None:
        return Check(Verdict.FAIL, "schema",
                     f"version {state.version}, but no storage mode recorded (made by an "
                     f"older version): run `{MIGRATE_COMMAND}` to record it")
    return Check(Verdict.OK, "schema", f"version {state.version} (current)")


def _size(n_bytes: int | None) -> str:
    if n_bytes is None:
        return "-"
    size = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _storage_checks(conn: psycopg.Connection, state: health.SchemaState,
                    probe: TimescaleProbe) -> Iterator[Check]:
    """The recorded storage mode against what the server can do; in TimescaleDB mode one
    line per hypertable (chunks, compressed chunks, size before and after compression)."""
    wanted = timescaledb_wanted()
    mode = state.mode
    if mode is StorageMode.TIMESCALEDB:
        if not probe.usable:
            yield Check(Verdict.FAIL, "storage",
                        f"TimescaleDB mode (recorded), but {probe.why_unusable()}")
            return
        yield from _timescaledb_checks(conn, probe, wanted)
        return
    if mode is StorageMode.POSTGRES:
        if not wanted:
            yield Check(Verdict.OK, "storage", f"plain PostgreSQL ({TIMESCALEDB_ENV}=off)")
        elif probe.usable:
            yield Check(Verdict.OK, "storage",
                        f"plain PostgreSQL (recorded); timescaledb {probe.available_version} "
                        f"is usable here: `{MIGRATE_COMMAND} --timescaledb` converts the "
                        "time-series tables to hypertables with compression")
        elif probe.installed:
            yield Check(Verdict.WARN, "storage",
                        "plain PostgreSQL (recorded); timescaledb is installed but not "
                        f"preloaded: to use it, {PRELOAD_FIX}, then run `{MIGRATE_COMMAND} "
                        "--timescaledb`")
        else:
            yield Check(Verdict.OK, "storage",
                        "plain PostgreSQL (timescaledb not installed: same tables and "
                        "queries, no hypertables or compression)")
        return
    # No mode recorded yet: say what creating the warehouse would choose.
    if not wanted:
        yield Check(Verdict.OK, "storage",
                    f"not decided yet: plain PostgreSQL ({TIMESCALEDB_ENV}=off)")
    elif probe.usable:
        yield Check(Verdict.OK, "storage",
                    f"not decided yet: TimescaleDB {probe.available_version} (usable)")
    elif probe.installed:
        yield Check(Verdict.FAIL, "storage",
                    "timescaledb is installed but unusable, so the warehouse would be "
                    f"created with plain tables: {PRELOAD_FIX} (or set {TIMESCALEDB_ENV}=off "
                    "to choose plain tables)")
    else:
        yield Check(Verdict.OK, "storage",
                    "not decided yet: plain PostgreSQL (timescaledb not installed)")


def _timescaledb_checks(conn: psycopg.Connection, probe: TimescaleProbe,
                        wanted: bool) -> Iterator[Check]:
    stats = {s.table: s for s in health.hypertable_stats(conn)}
    specs = hypertable_specs()
    note = ("" if wanted else f"; {TIMESCALEDB_ENV}=off applies only when a warehouse is "
            f"created: `{MIGRATE_COMMAND} --plain` converts this one")
    yield Check(Verdict.OK if wanted else Verdict.WARN, "storage",
                f"TimescaleDB {probe.extension_version or probe.available_version} "
                f"({sum(s.qualified_name in stats for s in specs)} of {len(specs)} "
                f"time-series tables are hypertables){note}")
    for spec in specs:
        table = spec.qualified_name
        found = stats.get(table)
        if found is None:
            yield Check(Verdict.WARN, table,
                        f"a plain table in a TimescaleDB warehouse: run `{MIGRATE_COMMAND} "
                        "--timescaledb`")
            continue
        sizes = (f"{_size(found.before_compression_bytes)} before, "
                 f"{_size(found.after_compression_bytes)} after compression"
                 if found.compressed_chunks else "nothing compressed yet")
        yield Check(Verdict.OK, table,
                    f"hypertable: {found.chunks} chunks, {found.compressed_chunks} "
                    f"compressed; {sizes}; {_size(found.total_bytes)} in all")


def check_eodhd(demo: DemoSettings | None = None) -> Iterator[Check]:
    """Token and API. In demo mode (the demo's token and simulator URL apply) the token is
    the simulator's public one and an unreachable API is a WARN: the simulator runs only
    while `eod-pipeline demo` does, and nothing real depends on it."""
    base = api_base_url()
    demo_api = demo is not None and ENV_TOKEN in demo.applied(os.environ)
    overridden = (f" (the demo's simulator, {demo.path.name})" if demo_api
                  else f" ({ENV_BASE_URL})" if os.environ.get(ENV_BASE_URL) else "")
    if not token_is_set():
        yield Check(Verdict.FAIL, "token",
                    f"{ENV_TOKEN} is not set: export your EODHD API token (or run "
                    "`eod-pipeline demo` for simulated data)")
        yield Check(Verdict.WARN, "api", f"not checked without a token ({base}{overridden})")
        return
    if demo_api:
        yield Check(Verdict.OK, "token", "the demo's simulator token (public, not an EODHD "
                    f"token; export {ENV_TOKEN} for real data)")
    else:
        yield Check(Verdict.OK, "token", f"{ENV_TOKEN} is set (value not shown)")
    lookup = lookup_quota()
    shown = lookup.base_url or base
    if lookup.info is None:
        if demo_api:
            yield Check(Verdict.WARN, "api",
                        f"{shown}{overridden} does not answer ({lookup.reason}): it runs "
                        "while `eod-pipeline demo` does")
            return
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


def check_dagster_home(demo: DemoSettings | None = None) -> Iterator[Check]:
    home = os.environ.get("DAGSTER_HOME")
    demo_home = demo.dagster_home if demo is not None else None
    if not home and demo_home is not None and (demo_home / "dagster.yaml").is_file():
        yield Check(Verdict.OK, "dagster home",
                    f"the demo's instance {demo_home} (DAGSTER_HOME unset; "
                    "`eod-pipeline demo` uses this one)")
        return
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


def run_checks(demo: DemoSettings | None = None) -> list[Check]:
    checks: list[Check] = []
    checks.extend(check_config())
    checks.extend(check_warehouse())
    checks.extend(check_eodhd(demo))
    checks.extend(check_dagster_home(demo))
    return checks


@click.command()
def doctor() -> None:
    """Check settings, warehouse, EODHD token, API and quota; one OK/WARN/FAIL per line.

    Exits 1 if any check FAILs. The token is never printed; database URLs are shown
    without their password.
    """
    demo = use_demo_settings()
    checks = run_checks(demo)
    width = max(len(c.name) for c in checks)
    for check in checks:
        click.echo(check.line(width))
    fails = sum(c.verdict is Verdict.FAIL for c in checks)
    warns = sum(c.verdict is Verdict.WARN for c in checks)
    if fails:
        click.echo(f"\nverdict: NOT READY ({fails} FAIL, {warns} WARN)")
        click.get_current_context().exit(1)
    click.echo(f"\nverdict: ready ({warns} WARN)" if warns else "\nverdict: ready")
