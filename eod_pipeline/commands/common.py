"""What the commands share: argument types, error mapping, warehouse and quota access, tables.

Error policy (why it lives here): every command turns the project's own exceptions into
one clear line and an exit code a script can act on, instead of a traceback:
- a bad argument -> click's usage error naming the option, exit 2 (click's convention);
- an invalid setting (`ConfigError`) -> the setting's message, exit 2;
- anything the environment is missing (no PostgreSQL binaries, database down) -> the
  reason, exit 1.
Nothing printed may contain the EODHD token: messages come from the client's redacted
errors or from our own text, and URLs are shown through `redact_url` / the redactor.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import psycopg

from eod_pipeline.config import ConfigError, PipelineConfig, load_config
from eod_pipeline.eodhd.errors import EodhdError
from eod_pipeline.eodhd.models import UserInfo
from eod_pipeline.eodhd.redaction import Redactor
from eod_pipeline.eodhd.settings import ENV_BASE_URL, ENV_TOKEN, EodhdSettings
from eod_pipeline.markets.calendar import WEEKEND, trading_days
from eod_pipeline.markets.registry import EXCHANGES, exchange_info
from eod_pipeline.settings import (
    DEFAULT_BASE_URL,
    DemoSettings,
    demo_settings_source,
    eodhd_env,
    warehouse_env,
)
from eod_pipeline.warehouse.connection import (
    DATABASE_URL_ENV,
    connect,
    redact_url,
    resolve_database_url,
)
from eod_pipeline.warehouse.embedded import EmbeddedPostgresError
from eod_pipeline.warehouse.migrations import (
    StorageMode,
    WarehouseNotReady,
    check_schema,
    ensure_schema,
)

#: Exit code for invalid settings, the same as click's for invalid arguments: both are
#: "fix what you typed or exported", unlike 1 ("something in the environment failed").
CONFIG_EXIT_CODE = 2

#: Seconds the free `/user` call may take before a command gives up on it: it is only
#: information, so a slow or unreachable API must not hold `plan` or `doctor` for long.
USER_CALL_TIMEOUT_S = 10.0


class ConfigProblem(click.ClickException):
    """An invalid pipeline setting (EOD_EXCHANGES, EOD_CONFIG, ...), reported with exit 2."""

    exit_code = CONFIG_EXIT_CODE


def pipeline_config(env: Mapping[str, str] | None = None) -> PipelineConfig:
    """`load_config`, with a `ConfigError` turned into a one-line message and exit 2."""
    try:
        return load_config(env)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None


def use_demo_settings() -> DemoSettings | None:
    """Read the settings `eod-pipeline demo` recorded in this folder (EOD_HOME, default
    ./.eod_pipeline) beneath the environment, for the rest of the running command, and
    say so in one line on stderr. The explicit environment still wins (by group: see
    `eod_pipeline.settings.DEMO_GROUPS`). None when no demo recorded settings here."""
    ctx = click.get_current_context()
    try:
        demo = ctx.with_resource(demo_settings_source())
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    if demo is None:
        return None
    shown = _relative(demo.path)
    applied = demo.applied(os.environ)
    overridden = demo.overridden(os.environ)
    if not applied:
        click.echo(f"not using the demo's settings from {shown}: your "
                   f"{', '.join(overridden)} win", err=True)
        return None
    wins = f"; your {', '.join(overridden)} win over the rest" if overridden else ""
    click.echo(f"using the demo's settings from {shown} ({', '.join(sorted(applied))})"
               f"{wins}", err=True)
    return demo


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def no_trading_days(start: dt.date, end: dt.date, holidays: set[dt.date]) -> str | None:
    """None if start..end has a trading day; else the sentence saying why it has none
    (weekend, the exchange's holidays, or both), for every command taking a range."""
    if next(trading_days(start, end, holidays), None) is not None:
        return None
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    closed = sorted(d for d in days if d.weekday() not in WEEKEND)
    kind = "holiday" if days and len(closed) == len(days) else (
        "weekend/holiday" if closed else "weekend")
    named = f" ({', '.join(f'{d} holiday' for d in closed)})" if closed else ""
    return f"no trading days between {start} and {end}: {kind}{named}"


class IsoDate(click.ParamType):
    """A calendar date written YYYY-MM-DD; anything else is refused with that hint."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.date:
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not a date (expected YYYY-MM-DD)", param, ctx)


def _stored_code(code: str) -> bool:
    """Whether `code` is an EODHD code beyond the built-in list whose facts are stored."""
    try:
        exchange_info(code)
    except ValueError:
        return False
    return True


class ExchangeCode(click.ParamType):
    """An EODHD exchange code the pipeline knows (registry), normalized to upper case."""

    name = "CODE"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        code = str(value).strip().upper()
        if code not in EXCHANGES and not _stored_code(code):
            self.fail(
                f"{value!r} is not an exchange code this pipeline knows "
                f"(known: {', '.join(sorted(EXCHANGES))})",
                param, ctx,
            )
        return code


def configured_exchange_start(config: PipelineConfig, code: str,
                              param_hint: str = "'--exchange'") -> dt.date:
    """The configured start of `code`, or a usage error saying what is configured."""
    for setting in config.exchanges:
        if setting.code == code:
            return setting.start
    configured = ", ".join(s.code for s in config.exchanges)
    raise click.BadParameter(
        f"{code!r} is not configured (EOD_EXCHANGES: {configured})", param_hint=param_hint
    )


# ----- warehouse ---------------------------------------------------------------------------


def warehouse_url(*, start_embedded: bool = False) -> str:
    """The warehouse URL: EOD_DATABASE_URL, else the embedded cluster if it is running.

    The embedded cluster is started only at the explicit start points, which pass
    `start_embedded=True`: `db start` and the demo. Everywhere else (`status`, `plan`,
    `db migrate`, ...) a missing warehouse is one message naming both fixes (set
    EOD_DATABASE_URL, or run `eod-pipeline db start`), exit 1.
    """
    try:
        return resolve_database_url(start_embedded=start_embedded)
    except EmbeddedPostgresError as exc:
        raise click.ClickException(str(exc)) from None


def database_source() -> str:
    """Where the URL comes from, for messages: the setting or the embedded cluster."""
    return DATABASE_URL_ENV if warehouse_env().database_url else "embedded cluster"


@contextmanager
def warehouse(*, apply_schema: bool = True, start_embedded: bool = False
              ) -> Iterator[tuple[psycopg.Connection, StorageMode]]:
    """A connection to the warehouse and its storage mode.

    `apply_schema=True` migrates the schema first: only for the explicit migration
    points (`db start`, the demo). `apply_schema=False` (`status`, `plan`) only checks
    that the schema is current, like a Dagster run, and fails with the command to run
    when it is not. Database errors while the body runs become one line and exit 1, so
    no server state (an unusable extension, a dropped connection) ends in a traceback.
    """
    url = warehouse_url(start_embedded=start_embedded)
    try:
        conn = connect(url, connect_timeout=10, application_name="eod-pipeline-cli")
    except psycopg.Error as exc:
        raise click.ClickException(
            f"cannot reach the warehouse at {connection_failure(url, exc)}"
        ) from None
    with conn:
        try:
            mode = ensure_schema(conn) if apply_schema else check_schema(conn)
            yield conn, mode
        except WarehouseNotReady as exc:
            raise click.ClickException(str(exc)) from None
        except psycopg.Error as exc:
            raise click.ClickException(
                f"the warehouse at {connection_failure(url, exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


#: `scheme://user:PASSWORD@` and `password=PASSWORD` in free text.
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)


def shown_url(url: str) -> str:
    """`redact_url`, or a placeholder when the URL does not even parse (redact_url would
    raise, and the raw text holds the password)."""
    try:
        return redact_url(url)
    except psycopg.Error:
        return "(unparseable database URL)"


def scrub(text: str, url: str) -> str:
    """`text` (e.g. a driver error that may quote the URL) without the URL's password."""
    text = _KEYWORD_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text))
    try:
        password = psycopg.conninfo.conninfo_to_dict(url).get("password")
    except psycopg.Error:
        password = None
    return text.replace(str(password), "***") if password else text


def connection_failure(url: str, exc: BaseException) -> str:
    """One line saying which database (redacted, and from where) failed and why."""
    return f"{shown_url(url)} ({database_source()}): {scrub(_first_line(exc), url)}"


# ----- EODHD account ---------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaLookup:
    """The outcome of a free `/user` call: `info`, or `reason` why there is none."""

    info: UserInfo | None
    reason: str = ""
    base_url: str = ""


def token_is_set(env: Mapping[str, str] | None = None) -> bool:
    """Whether a token is configured (in the environment, or the demo's in demo mode)."""
    try:
        return eodhd_env(env).token is not None
    except ConfigError:
        return bool((os.environ if env is None else env).get(ENV_TOKEN, "").strip())


def lookup_quota(env: Mapping[str, str] | None = None) -> QuotaLookup:
    """Today's standing from `/user` (costs 0 calls), never raising.

    One attempt plus one retry and a short timeout: this is a status display, and a long
    retry budget would make `plan` or `doctor` hang when the API is down.
    """
    # `env` stays None for os.environ: the settings then include the demo's in demo mode.
    if not token_is_set(env):
        return QuotaLookup(None, f"{ENV_TOKEN} not set")
    settings = EodhdSettings.from_env(
        env, max_retries=1, max_rate_limit_retries=1, timeout_s=USER_CALL_TIMEOUT_S,
        max_retry_after_s=5.0, backoff_cap_s=2.0,
    )
    base_url = Redactor([settings.token]).redact(settings.base_url)

    async def ask() -> UserInfo:
        from eod_pipeline.eodhd.client import EodhdClient

        async with EodhdClient(settings) as client:
            return await client.user()

    try:
        return QuotaLookup(asyncio.run(ask()), base_url=base_url)
    except EodhdError as exc:  # messages are redacted by the client
        return QuotaLookup(None, f"{type(exc).__name__}: {exc}", base_url=base_url)
    except Exception as exc:  # anything else: show the class only, the text may hold a URL
        return QuotaLookup(None, f"{type(exc).__name__} talking to {base_url}",
                           base_url=base_url)


def api_base_url(env: Mapping[str, str] | None = None) -> str:
    """EODHD_BASE_URL (or the demo's simulator in demo mode), else the production URL."""
    try:
        return eodhd_env(env).base_url
    except ConfigError:
        return (os.environ if env is None else env).get(ENV_BASE_URL, "").strip() or (
            DEFAULT_BASE_URL)


# ----- output ------------------------------------------------------------------------------


def n(value: int) -> str:
    """An integer with thousands separators: quota and cost numbers run to 100,000s."""
    return f"{value:,}"


def utc(moment: dt.datetime | None) -> str:
    if moment is None:
        return "never"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]],
          right: Sequence[int] = ()) -> str:
    """A plain aligned text table; columns whose index is in `right` are right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        parts = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells[1:])
    return "\n".join(out)
