"""Partitions: exchanges (static) and trading dates per exchange (daily, local time)."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from eod_pipeline.config import ExchangeSetting, PipelineConfig

#: Saturdays and Sundays never trade: no partitions for them. (Cron strings match the
#: partition's start, midnight in the exchange's zone.) Holidays change yearly and come
#: from the API, so they are skipped by the sensor and checks instead.
WEEKEND_EXCLUSIONS = ["0 0 * * 6,0"]


def window_dates(window: dg.TimeWindow) -> tuple[dt.date, dt.date]:
    """First and last date (inclusive) of a daily window (or range), in its own zone."""
    return window.start.date(), (window.end - dt.timedelta(microseconds=1)).date()


def exchange_partitions(config: PipelineConfig) -> dg.StaticPartitionsDefinition:
    return dg.StaticPartitionsDefinition([s.code for s in config.exchanges])


def trading_date_partitions(setting: ExchangeSetting) -> dg.DailyPartitionsDefinition:
    """One partition per weekday from the configured start, in the exchange's time zone.

    `end_offset=1` makes today's partition exist from local midnight, so the daily sensor
    can request it as soon as the day's data is out (after the close plus the delay).
    """
    return dg.DailyPartitionsDefinition(
        start_date=setting.start.isoformat(),
        timezone=setting.info.timezone,
        end_offset=1,
        exclusions=WEEKEND_EXCLUSIONS,
    )
