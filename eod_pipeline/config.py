"""Pipeline settings: which exchanges to keep, from when, and the run policies.

Read from the environment, optionally over a TOML file named by `EOD_CONFIG`; validated
when the Dagster definitions load, so a bad value fails loudly with the setting's name
instead of surfacing as a confusing run failure later.

    EOD_EXCHANGES=US,LSE:2015-01-01      # CODE or CODE:START, comma-separated
    EOD_START_DATE=2020-01-02            # start for codes given without one
    EOD_MAX_FAILED_SHARE=0.02            # share of failed tickers a partition tolerates
    EOD_REFRESH_DELAY_MINUTES=0          # extra wait after the documented data delay
    EOD_BATCH_ROWS=100000                # rows per COPY batch (and per commit) of a fetch
    EOD_REVISION_DAYS=1                  # trading days the daily refresh fetches again
    EOD_REFRESH_LOOKBACK_DAYS=30         # how far back the daily refresh fills missed days

The file form (`EOD_CONFIG=eod.toml`):

    start_date = "2020-01-02"
    max_failed_share = 0.02
    [exchanges]
    US = "2015-01-01"
    LSE = {}            # the default start
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eod_pipeline.markets.registry import ExchangeInfo, exchange_info

#: Exchanges kept when nothing is configured: the three the simulator serves, so the
#: offline quickstart works with no settings at all.
DEFAULT_EXCHANGES = "US,LSE,XETRA"
#: Start date for exchanges configured without one.
DEFAULT_START = dt.date(2020, 1, 2)
#: A partition with more failed tickers than this share is not reported as complete.
DEFAULT_MAX_FAILED_SHARE = 0.02

#: Rows per batch a fetch hands to the warehouse: large enough that COPY runs at full
#: speed, small enough that a batch is ~10 MB in memory and a crash loses little work.
DEFAULT_BATCH_ROWS = 100_000
#: Trading days before the newest one that the daily refresh fetches again, to pick up
#: late corrections: EODHD updates US volumes from the consolidated feed after the first
#: release, and corrections can come days later (../shared/eodhd-api.md, "Revisions").
#: One day catches the volume update at the cost of one more bulk call (100) a day.
DEFAULT_REVISION_DAYS = 1
#: Calendar days back from the newest available day in which the daily refresh requests
#: every trading day that is not materialized (a daemon down over a long weekend, a
#: failed run). Older holes are a backfill's job, which the checks name.
DEFAULT_REFRESH_LOOKBACK_DAYS = 30

_ENTRY = re.compile(r"^(?P<code>[A-Z0-9]+)(?::(?P<start>[^:]+))?$")


class ConfigError(ValueError):
    """A setting is invalid; the message names it."""


@dataclass(frozen=True)
class ExchangeSetting:
    info: ExchangeInfo
    start: dt.date

    @property
    def code(self) -> str:
        return self.info.code


@dataclass(frozen=True)
class PipelineConfig:
    exchanges: tuple[ExchangeSetting, ...]
    max_failed_share: float = DEFAULT_MAX_FAILED_SHARE
    refresh_delay: dt.timedelta = dt.timedelta(0)
    batch_rows: int = DEFAULT_BATCH_ROWS
    revision_days: int = DEFAULT_REVISION_DAYS
    refresh_lookback: dt.timedelta = dt.timedelta(days=DEFAULT_REFRESH_LOOKBACK_DAYS)

    def exchange(self, code: str) -> ExchangeSetting:
        for setting in self.exchanges:
            if setting.code == code:
                return setting
        raise ConfigError(
            f"EOD_EXCHANGES: exchange {code!r} is not configured "
            f"(configured: {', '.join(s.code for s in self.exchanges)})"
        )


def _date(value: str, setting: str, today: dt.date) -> dt.date:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{setting}: {value!r} is not a date (expected YYYY-MM-DD)") from None
    if day > today:
        raise ConfigError(f"{setting}: start date {day} is in the future (today is {today})")
    return day


def parse_exchanges(text: str, default_start: dt.date, today: dt.date,
                    setting: str = "EOD_EXCHANGES") -> tuple[ExchangeSetting, ...]:
    entries = [e.strip() for e in text.split(",") if e.strip()]
    if not entries:
        raise ConfigError(f"{setting}: no exchanges given (e.g. US,LSE:2015-01-01)")
    seen: dict[str, ExchangeSetting] = {}
    for entry in entries:
        match = _ENTRY.match(entry)
        if not match:
            raise ConfigError(
                f"{setting}: malformed entry {entry!r} (expected CODE or CODE:YYYY-MM-DD, "
                "e.g. US,LSE:2015-01-01)"
            )
        code = match["code"]
        if code in seen:
            raise ConfigError(f"{setting}: exchange {code!r} is listed twice")
        try:
            info = exchange_info(code, setting)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        start = _date(match["start"], f"{setting} ({code})", today) if match["start"] else (
            default_start
        )
        seen[code] = ExchangeSetting(info, start)
    return tuple(seen.values())


def _from_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"EOD_CONFIG: file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"EOD_CONFIG: {path} is not valid TOML: {exc}") from None


def load_config(env: Mapping[str, str] | None = None, today: dt.date | None = None
                ) -> PipelineConfig:
    """Settings from `env` (default os.environ) over the optional EOD_CONFIG file."""
    env = os.environ if env is None else env
    today = today or dt.date.today()
    file: dict[str, Any] = _from_file(Path(env["EOD_CONFIG"])) if env.get("EOD_CONFIG") else {}

    default_start = DEFAULT_START
    if raw := env.get("EOD_START_DATE") or file.get("start_date"):
        default_start = _date(str(raw), "EOD_START_DATE", today)

    if env.get("EOD_EXCHANGES"):
        exchanges = parse_exchanges(env["EOD_EXCHANGES"], default_start, today)
    elif isinstance(file.get("exchanges"), dict):
        parts = []
        for code, value in file["exchanges"].items():
            start = value.get("start") if isinstance(value, dict) else value
            parts.append(f"{code}:{start}" if start else code)
        exchanges = parse_exchanges(",".join(parts), default_start, today,
                                    "EOD_CONFIG [exchanges]")
    else:
        exchanges = parse_exchanges(DEFAULT_EXCHANGES, default_start, today)

    share_raw = env.get("EOD_MAX_FAILED_SHARE", file.get("max_failed_share",
                                                          DEFAULT_MAX_FAILED_SHARE))
    try:
        share = float(share_raw)
    except (TypeError, ValueError):
        raise ConfigError(
            f"EOD_MAX_FAILED_SHARE: {share_raw!r} is not a number (expected 0..1)"
        ) from None
    if not 0 <= share <= 1:
        raise ConfigError(f"EOD_MAX_FAILED_SHARE: {share} is outside 0..1")

    delay_raw = env.get("EOD_REFRESH_DELAY_MINUTES", file.get("refresh_delay_minutes", 0))
    try:
        delay = dt.timedelta(minutes=float(delay_raw))
    except (TypeError, ValueError):
        raise ConfigError(
            f"EOD_REFRESH_DELAY_MINUTES: {delay_raw!r} is not a number of minutes"
        ) from None
    batch_raw = env.get("EOD_BATCH_ROWS", file.get("batch_rows", DEFAULT_BATCH_ROWS))
    try:
        batch_rows = int(batch_raw)
    except (TypeError, ValueError):
        raise ConfigError(f"EOD_BATCH_ROWS: {batch_raw!r} is not a whole number") from None
    if batch_rows < 1:
        raise ConfigError(f"EOD_BATCH_ROWS: {batch_rows} must be at least 1")
    revision_days = _whole(env, file, "EOD_REVISION_DAYS", "revision_days",
                           DEFAULT_REVISION_DAYS, minimum=0)
    lookback = _whole(env, file, "EOD_REFRESH_LOOKBACK_DAYS", "refresh_lookback_days",
                      DEFAULT_REFRESH_LOOKBACK_DAYS, minimum=1)
    return PipelineConfig(exchanges=exchanges, max_failed_share=share, refresh_delay=delay,
                          batch_rows=batch_rows, revision_days=revision_days,
                          refresh_lookback=dt.timedelta(days=lookback))


def _whole(env: Mapping[str, str], file: Mapping[str, Any], name: str, key: str,
           default: int, minimum: int) -> int:
    raw = env.get(name, file.get(key, default))
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: {raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}: {value} must be at least {minimum}")
    return value
