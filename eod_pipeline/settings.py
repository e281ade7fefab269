"""Every setting of the pipeline, in one place: names, defaults, meaning, validation.

Three groups, one model each, all read from the environment (EOD_*, EODHD_*):

- `EodhdEnv`: the EODHD client (token, base URL, pacing); the token is a `SecretStr`.
- `PipelineEnv`: which exchanges, from when, the run policies; optionally over the TOML
  file named by `EOD_CONFIG` (the environment wins over the file).
- `WarehouseEnv`: where the warehouse is (`EOD_DATABASE_URL`, or the embedded cluster in
  `EOD_HOME`, started explicitly with `eod-pipeline db start`), and its storage mode.

Why one module: before, `config.py`, `eodhd/settings.py`, `warehouse/connection.py` and
the resources each read the environment their own way, at their own moment, and the
deployment files forwarded only some of the variables. Now `ALL_SETTINGS` lists every
variable once; `deploy/eod-pipeline.env.example`, the compose file and the README are
checked against it.

Each group is read once per process for a given environment and cached (`eodhd_env`,
`pipeline_env`, `warehouse_env`): the key is the EOD_*/EODHD_* variables themselves, so
a test or command that changes one gets a fresh read, and nobody else re-parses.
Validation failures raise `ConfigError` with a message that starts with the variable's
name and says what is expected, e.g. `EOD_BATCH_ROWS: '1e5x' is not a whole number`.
`config.load_config` and `eodhd.settings.EodhdSettings.from_env` are thin facades over
these models for code (and tests) that pass an explicit environment.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import json
import os
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# ----- the variables -----------------------------------------------------------------------

EODHD_TOKEN_ENV: Final[str] = "EODHD_API_TOKEN"
EODHD_BASE_URL_ENV: Final[str] = "EODHD_BASE_URL"
EODHD_REQUESTS_PER_MINUTE_ENV: Final[str] = "EODHD_REQUESTS_PER_MINUTE"
EXCHANGES_ENV: Final[str] = "EOD_EXCHANGES"
START_DATE_ENV: Final[str] = "EOD_START_DATE"
MAX_FAILED_SHARE_ENV: Final[str] = "EOD_MAX_FAILED_SHARE"
REFRESH_DELAY_ENV: Final[str] = "EOD_REFRESH_DELAY_MINUTES"
BATCH_ROWS_ENV: Final[str] = "EOD_BATCH_ROWS"
REVISION_DAYS_ENV: Final[str] = "EOD_REVISION_DAYS"
REFRESH_LOOKBACK_ENV: Final[str] = "EOD_REFRESH_LOOKBACK_DAYS"
CONFIG_FILE_ENV: Final[str] = "EOD_CONFIG"
DATABASE_URL_ENV: Final[str] = "EOD_DATABASE_URL"
TIMESCALEDB_ENV: Final[str] = "EOD_TIMESCALEDB"
HOME_ENV: Final[str] = "EOD_HOME"
PG_BIN_ENV: Final[str] = "EOD_PG_BIN"

#: Documented production base URL (eodhd-api.md, Requests).
DEFAULT_BASE_URL: Final[str] = "https://eodhd.com/api"
#: 10 % below EODHD's documented 1,000 requests/minute (see eodhd/settings.py).
DEFAULT_REQUESTS_PER_MINUTE: Final[int] = 900
#: Exchanges kept when nothing is configured: the three the simulator serves, so the
#: offline quickstart works with no settings at all.
DEFAULT_EXCHANGES: Final[str] = "US,LSE,XETRA"
#: Start date for exchanges configured without one.
DEFAULT_START: Final[dt.date] = dt.date(2020, 1, 2)
#: A partition with more failed tickers than this share is not reported as complete.
DEFAULT_MAX_FAILED_SHARE: Final[float] = 0.02
#: Rows per batch a fetch hands to the warehouse (config.py says why).
DEFAULT_BATCH_ROWS: Final[int] = 100_000
#: Trading days before the newest one that the daily refresh fetches again.
DEFAULT_REVISION_DAYS: Final[int] = 1
#: Calendar days back in which the daily refresh fills days that are not materialized.
DEFAULT_REFRESH_LOOKBACK_DAYS: Final[int] = 30

#: Every variable the code reads: name -> (default as written in an env file, meaning).
#: `None` as the default means "unset" (the token has no default on purpose).
ALL_SETTINGS: Final[dict[str, tuple[str | None, str]]] = {
    EODHD_TOKEN_ENV: (None, "your EODHD API token (required; no default)"),
    EODHD_BASE_URL_ENV: (DEFAULT_BASE_URL, "API base URL"),
    EODHD_REQUESTS_PER_MINUTE_ENV: (str(DEFAULT_REQUESTS_PER_MINUTE),
                                    "client pacing, requests per minute"),
    EXCHANGES_ENV: (DEFAULT_EXCHANGES, "exchanges to keep: CODE or CODE:YYYY-MM-DD, "
                    "comma-separated"),
    START_DATE_ENV: (DEFAULT_START.isoformat(), "start of exchanges given without one"),
    MAX_FAILED_SHARE_ENV: (str(DEFAULT_MAX_FAILED_SHARE),
                           "share of failed tickers a partition tolerates (0..1)"),
    REFRESH_DELAY_ENV: ("0", "extra minutes after an exchange's documented data delay"),
    BATCH_ROWS_ENV: (str(DEFAULT_BATCH_ROWS), "rows per COPY batch (and commit)"),
    REVISION_DAYS_ENV: (str(DEFAULT_REVISION_DAYS),
                        "trading days the daily refresh fetches again"),
    REFRESH_LOOKBACK_ENV: (str(DEFAULT_REFRESH_LOOKBACK_DAYS),
                           "calendar days back the daily refresh fills missed days"),
    CONFIG_FILE_ENV: (None, "optional TOML file with the pipeline settings"),
    DATABASE_URL_ENV: (None, "the warehouse; unset: the embedded cluster, which must have "
                       "been started with `eod-pipeline db start`"),
    TIMESCALEDB_ENV: ("auto", "storage mode of a new warehouse: auto or off"),
    HOME_ENV: (None, "project data directory (embedded cluster), default ./.eod_pipeline"),
    PG_BIN_ENV: (None, "directory of initdb/pg_ctl/postgres for the embedded cluster"),
}


#: Settings a run container does not take from the env file: the embedded cluster's
#: (a deployment has EOD_DATABASE_URL) and the optional TOML file (mount one to use it).
HOST_ONLY_SETTINGS: Final[frozenset[str]] = frozenset({HOME_ENV, PG_BIN_ENV, CONFIG_FILE_ENV})


def container_settings() -> list[str]:
    """The variables every process running the code needs (code server, run containers):
    what compose's code service and the DockerRunLauncher's `env_vars` forward."""
    return [name for name in ALL_SETTINGS if name not in HOST_ONLY_SETTINGS]


def env_file_text() -> str:
    """`deploy/eod-pipeline.env.example`: every variable with its default and meaning
    (a test keeps the file equal to this)."""
    lines = ["# Every setting of eod-pipeline, with its default. Generated from",
             "# eod_pipeline/settings.py (ALL_SETTINGS); README.md, \"Configuration reference\".",
             "# Copy to .env next to docker-compose.yml: compose reads it and hands every",
             "# setting to the code service (and, with DockerRunLauncher, to run containers).",
             ""]
    for name, (default, meaning) in ALL_SETTINGS.items():
        lines.append(f"# {meaning}")
        if name == EODHD_TOKEN_ENV:
            lines.append(f"{name}=")
        elif name == DATABASE_URL_ENV:
            lines.append("# (compose sets it to its timescaledb service; set EOD_DB_* there)")
            lines.append(f"#{name}=postgresql://user:password@host:5432/eod")
        elif default is None:
            lines.append(f"#{name}=")
        else:
            lines.append(f"{name}={default}")
        lines.append("")
    return "\n".join(lines)


class ConfigError(ValueError):
    """A setting is invalid; the message names it."""


# ----- the models --------------------------------------------------------------------------


class _Env(BaseSettings):
    """Common behaviour: built from one explicit mapping (see `_read`), immutable, blank
    values count as unset."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):  # type: ignore[override]
        # Only what `_read` hands over: os.environ or the mapping a caller passed, never
        # both mixed (tests pass complete environments as dicts).
        return (init_settings,)


class EodhdEnv(_Env):
    """The EODHD client's settings."""

    token: SecretStr | None = Field(None, alias=EODHD_TOKEN_ENV)
    base_url: str = Field(DEFAULT_BASE_URL, alias=EODHD_BASE_URL_ENV)
    requests_per_minute: float = Field(DEFAULT_REQUESTS_PER_MINUTE,
                                       alias=EODHD_REQUESTS_PER_MINUTE_ENV)


class PipelineEnv(_Env):
    """Which exchanges and the run policies; validated against `today` in `config.py`."""

    exchanges: str | None = Field(None, alias=EXCHANGES_ENV)
    #: The `[exchanges]` table of the EOD_CONFIG file, as `CODE:START,...`.
    file_exchanges: str | None = Field(None, alias="_file_exchanges")
    start_date: dt.date = Field(DEFAULT_START, alias=START_DATE_ENV)
    max_failed_share: float = Field(DEFAULT_MAX_FAILED_SHARE, alias=MAX_FAILED_SHARE_ENV)
    refresh_delay_minutes: float = Field(0.0, alias=REFRESH_DELAY_ENV)
    batch_rows: int = Field(DEFAULT_BATCH_ROWS, alias=BATCH_ROWS_ENV)
    revision_days: int = Field(DEFAULT_REVISION_DAYS, alias=REVISION_DAYS_ENV)
    refresh_lookback_days: int = Field(DEFAULT_REFRESH_LOOKBACK_DAYS,
                                       alias=REFRESH_LOOKBACK_ENV)
    config_file: Path | None = Field(None, alias=CONFIG_FILE_ENV)

    @field_validator("max_failed_share")
    @classmethod
    def _share(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ConfigError(f"{MAX_FAILED_SHARE_ENV}: {value} is outside 0..1")
        return value

    @field_validator("batch_rows")
    @classmethod
    def _batch(cls, value: int) -> int:
        return _at_least(BATCH_ROWS_ENV, value, 1)

    @field_validator("revision_days")
    @classmethod
    def _revision(cls, value: int) -> int:
        return _at_least(REVISION_DAYS_ENV, value, 0)

    @field_validator("refresh_lookback_days")
    @classmethod
    def _lookback(cls, value: int) -> int:
        return _at_least(REFRESH_LOOKBACK_ENV, value, 1)


class WarehouseEnv(_Env):
    """Where the warehouse is and how a new one stores its time series."""

    database_url: SecretStr | None = Field(None, alias=DATABASE_URL_ENV)
    timescaledb: str = Field("auto", alias=TIMESCALEDB_ENV)
    home: Path | None = Field(None, alias=HOME_ENV)
    pg_bin: Path | None = Field(None, alias=PG_BIN_ENV)

    @property
    def timescaledb_wanted(self) -> bool:
        """`EOD_TIMESCALEDB=off` keeps plain tables even where the extension exists."""
        return self.timescaledb.strip().lower() not in ("off", "false", "0", "no")


def _at_least(name: str, value: int, minimum: int) -> int:
    if value < minimum:
        raise ConfigError(f"{name}: {value} must be at least {minimum}")
    return value


_M = TypeVar("_M", bound=_Env)

#: What a value of the wrong type is told, per variable (after "NAME: ").
_EXPECTED = {
    EODHD_REQUESTS_PER_MINUTE_ENV: "must be a number, got {value!r}",
    START_DATE_ENV: "{value!r} is not a date (expected YYYY-MM-DD)",
    MAX_FAILED_SHARE_ENV: "{value!r} is not a number (expected 0..1)",
    REFRESH_DELAY_ENV: "{value!r} is not a number of minutes",
    BATCH_ROWS_ENV: "{value!r} is not a whole number",
    REVISION_DAYS_ENV: "{value!r} is not a whole number",
    REFRESH_LOOKBACK_ENV: "{value!r} is not a whole number",
}

#: Keys of the EOD_CONFIG file -> the variable they stand for (the environment wins).
_FILE_KEYS = {
    "start_date": START_DATE_ENV,
    "max_failed_share": MAX_FAILED_SHARE_ENV,
    "refresh_delay_minutes": REFRESH_DELAY_ENV,
    "batch_rows": BATCH_ROWS_ENV,
    "revision_days": REVISION_DAYS_ENV,
    "refresh_lookback_days": REFRESH_LOOKBACK_ENV,
}


def _build(model: type[_M], values: Mapping[str, Any]) -> _M:
    """`model` from `values`, a validation failure as one `ConfigError` naming the
    variable."""
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else model.__name__
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, ConfigError):
            raise ConfigError(str(cause)) from None
        value = error.get("input")
        template = _EXPECTED.get(name, "{value!r} is invalid")
        raise ConfigError(f"{name}: {template.format(value=value)}") from None


def _snapshot(env: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    """The project's variables in `env` (default os.environ), blank ones dropped: the
    cache key, and the only input of the models. Reads of os.environ inside
    `demo_settings_source()` get the demo's recorded settings beneath the environment."""
    demo = _DEMO_SOURCE.get() if env is None else None
    env = os.environ if env is None else env
    values = {k: v.strip() for k, v in env.items()
              if k.startswith(("EOD_", "EODHD_")) and v and v.strip()}
    if demo is not None:
        values = {**demo.applied(values), **values}
    return tuple(sorted(values.items()))


@functools.lru_cache(maxsize=64)
def _eodhd(snapshot: tuple[tuple[str, str], ...]) -> EodhdEnv:
    return _build(EodhdEnv, dict(snapshot))


@functools.lru_cache(maxsize=64)
def _warehouse(snapshot: tuple[tuple[str, str], ...]) -> WarehouseEnv:
    return _build(WarehouseEnv, dict(snapshot))


@functools.lru_cache(maxsize=64)
def _pipeline(snapshot: tuple[tuple[str, str], ...]) -> PipelineEnv:
    env = dict(snapshot)
    values: dict[str, Any] = {}
    if path := env.get(CONFIG_FILE_ENV):
        file = _from_file(Path(path))
        for key, name in _FILE_KEYS.items():
            if key in file:
                values[name] = file[key]
        if isinstance(file.get("exchanges"), dict):
            parts = []
            for code, value in file["exchanges"].items():
                start = value.get("start") if isinstance(value, dict) else value
                parts.append(f"{code}:{start}" if start else code)
            values["_file_exchanges"] = ",".join(parts)
    values.update(env)
    return _build(PipelineEnv, values)


def _from_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{CONFIG_FILE_ENV}: file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{CONFIG_FILE_ENV}: {path} is not valid TOML: {exc}") from None


def eodhd_env(env: Mapping[str, str] | None = None) -> EodhdEnv:
    """The EODHD settings of `env` (default os.environ), read once and cached."""
    return _eodhd(_snapshot(env))


def pipeline_env(env: Mapping[str, str] | None = None) -> PipelineEnv:
    """The pipeline settings of `env` over its EOD_CONFIG file, read once and cached."""
    return _pipeline(_snapshot(env))


def warehouse_env(env: Mapping[str, str] | None = None) -> WarehouseEnv:
    """The warehouse settings of `env` (default os.environ), read once and cached."""
    return _warehouse(_snapshot(env))


# ----- the demo's recorded settings: a source beneath the environment ----------------------

#: The file `eod-pipeline demo` writes in its home (EOD_HOME, default ./.eod_pipeline): the
#: settings it gave the pipeline, so that `status`, `plan` and `doctor` run in the same
#: folder see the demo's simulator, exchanges and start dates instead of the defaults.
DEMO_SETTINGS_FILE: Final[str] = "demo.json"

#: The recorded settings, in groups that count as one choice: when the environment sets any
#: variable of a group's second set, none of the demo's values of that group apply. So a
#: real token is never sent to the demo's simulator URL, and exchanges from EOD_EXCHANGES,
#: EOD_START_DATE or an EOD_CONFIG file are never mixed with the demo's.
DEMO_GROUPS: Final[tuple[tuple[frozenset[str], frozenset[str]], ...]] = (
    (frozenset({EODHD_TOKEN_ENV, EODHD_BASE_URL_ENV}),
     frozenset({EODHD_TOKEN_ENV, EODHD_BASE_URL_ENV})),
    (frozenset({EXCHANGES_ENV, START_DATE_ENV}),
     frozenset({EXCHANGES_ENV, START_DATE_ENV, CONFIG_FILE_ENV})),
)


@dataclass(frozen=True)
class DemoSettings:
    """What a demo recorded in its home: `values` (EOD_*/EODHD_* settings, the token being
    the simulator's public one), and where its home and Dagster instance are."""

    path: Path
    values: Mapping[str, str]
    home: Path
    dagster_home: Path | None = None

    def applied(self, env: Mapping[str, str]) -> dict[str, str]:
        """The recorded values that apply under `env` (explicit variables win, by group)."""
        out: dict[str, str] = {}
        for recorded, overriding in DEMO_GROUPS:
            if not any((env.get(name) or "").strip() for name in overriding):
                out.update({k: v for k, v in self.values.items() if k in recorded})
        return out

    def overridden(self, env: Mapping[str, str]) -> list[str]:
        """Variables of `env` that keep recorded values from applying, for messages."""
        return sorted({name for recorded, overriding in DEMO_GROUPS for name in overriding
                       if (env.get(name) or "").strip()
                       and any(k in recorded for k in self.values)})


def demo_settings_path(env: Mapping[str, str] | None = None) -> Path:
    """Where a demo run with this environment records its settings: EOD_HOME (only from
    the environment: the file's place is the home), else ./.eod_pipeline."""
    env = os.environ if env is None else env
    home = (env.get(HOME_ENV) or "").strip()
    return (Path(home) if home else Path.cwd() / ".eod_pipeline").absolute() / DEMO_SETTINGS_FILE


def write_demo_settings(home: Path, values: Mapping[str, str],
                        dagster_home: Path | None = None) -> Path:
    """Record the demo's settings in `home` (called by `eod-pipeline demo`); the path."""
    unknown = sorted(set(values) - {k for recorded, _ in DEMO_GROUPS for k in recorded})
    if unknown:
        raise ValueError(f"not a demo setting: {', '.join(unknown)}")
    path = home.absolute() / DEMO_SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "written_by": "eod-pipeline demo (SIMULATED data)",
        "home": str(home.absolute()),
        "dagster_home": str(dagster_home) if dagster_home else None,
        "settings": dict(values),
    }, indent=2) + "\n")
    return path


def read_demo_settings(env: Mapping[str, str] | None = None) -> DemoSettings | None:
    """The settings a demo recorded in this environment's home, or None if none did. A
    file that does not parse is a `ConfigError` naming it and the fix."""
    path = demo_settings_path(env)
    try:
        data = json.loads(path.read_text())
        settings = {str(k): str(v) for k, v in data["settings"].items()}
        dagster_home = data.get("dagster_home")
        return DemoSettings(path, settings, path.parent,
                            Path(dagster_home) if dagster_home else None)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a settings file the demo wrote ({exc}); delete it, "
                          "or run `eod-pipeline demo` again to rewrite it") from None


_DEMO_SOURCE: contextvars.ContextVar[DemoSettings | None] = contextvars.ContextVar(
    "eod_pipeline_demo_settings", default=None)


@contextmanager
def demo_settings_source(env: Mapping[str, str] | None = None
                         ) -> Iterator[DemoSettings | None]:
    """Within the block, settings read from os.environ (`eodhd_env()`, `pipeline_env()`,
    `warehouse_env()`, hence `load_config()`) have the demo's recorded values beneath the
    environment, when this folder has them; yields them (None: no demo recorded here).

    Only the CLI's `status`, `plan` and `doctor` open it, and say so: Dagster processes
    and everything else keep reading the environment alone, so a demo run in a folder
    never silently changes what a real deployment there does."""
    demo = read_demo_settings(env)
    token = _DEMO_SOURCE.set(demo)
    try:
        yield demo
    finally:
        _DEMO_SOURCE.reset(token)
