"""Pipeline settings: which exchanges to keep, from when, and the run policies.

Read from the environment, optionally over a TOML file named by `EOD_CONFIG`, through the
one settings model (`eod_pipeline/settings.py`, where the defaults and their reasons live);
this module adds what depends on the day and the exchange registry. Validated
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
import re
from collections.abc import Mapping
from dataclasses import dataclass

from eod_pipeline.markets.registry import ExchangeInfo, exchange_info
from eod_pipeline.settings import (
    DEFAULT_BATCH_ROWS,
    DEFAULT_EXCHANGES,
    DEFAULT_MAX_FAILED_SHARE,
    DEFAULT_REFRESH_LOOKBACK_DAYS,
    DEFAULT_REVISION_DAYS,
    DEFAULT_START,
    EXCHANGES_ENV,
    START_DATE_ENV,
    ConfigError,
    pipeline_env,
)

__all__ = [
    "DEFAULT_BATCH_ROWS", "DEFAULT_EXCHANGES", "DEFAULT_MAX_FAILED_SHARE",
    "DEFAULT_REFRESH_LOOKBACK_DAYS", "DEFAULT_REVISION_DAYS", "DEFAULT_START", "ConfigError",
    "ExchangeSetting", "PipelineConfig", "load_config", "parse_exchanges",
]

_ENTRY = re.compile(r"^(?P<code>[A-Z0-9]+)(?::(?P<start>[^:]+))?$")


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
                    setting: str = EXCHANGES_ENV) -> tuple[ExchangeSetting, ...]:
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


def load_config(env: Mapping[str, str] | None = None, today: dt.date | None = None
                ) -> PipelineConfig:
    """Settings from `env` (default os.environ) over the optional EOD_CONFIG file.

    A facade over `eod_pipeline.settings.pipeline_env` (read once per environment, types
    and ranges checked there) that adds what depends on the day: start dates in the future
    and the exchange registry."""
    today = today or dt.date.today()
    settings = pipeline_env(env)
    default_start = settings.start_date
    if default_start > today:
        raise ConfigError(f"{START_DATE_ENV}: start date {default_start} is in the future "
                          f"(today is {today})")
    if settings.exchanges:
        exchanges = parse_exchanges(settings.exchanges, default_start, today)
    elif settings.file_exchanges is not None:
        exchanges = parse_exchanges(settings.file_exchanges, default_start, today,
                                    "EOD_CONFIG [exchanges]")
    else:
        exchanges = parse_exchanges(DEFAULT_EXCHANGES, default_start, today)
    return PipelineConfig(exchanges=exchanges, max_failed_share=settings.max_failed_share,
                          refresh_delay=dt.timedelta(minutes=settings.refresh_delay_minutes),
                          batch_rows=settings.batch_rows, revision_days=settings.revision_days,
                          refresh_lookback=dt.timedelta(days=settings.refresh_lookback_days))
