"""The daily refresh sensor and the weekly reference schedule."""


import datetime as dt
import json

import dagster as dg

from eod_pipeline.config import PipelineConfig
from eod_pipeline.defs.assets.corporate_actions import adjustments_asset_key, event_asset_key
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.resources import ClockResource, WarehouseResource
from eod_pipeline.ingest.events import DIVIDEND_EVENTS, SPLIT_EVENTS
from eod_pipeline.markets.calendar import newest_available_day
from eod_pipeline.warehouse import queries

#: How often the sensor looks: the API publishes once a day per exchange; 5 minutes is
#: prompt enough and costs nothing (the sensor spends no API calls).
SENSOR_INTERVAL_S = 300
#: Symbol lists and calendars change slowly: Monday 06:00 UTC, before any market opens
#: in Europe or America and after EODHD's nightly 02:00-04:00 UTC updates.
REFERENCE_CRON = "0 6 * * 1"


def daily_keys(code: str) -> list[dg.AssetKey]:
    """What a day's refresh of one exchange materializes, in dependency order."""
    return [price_asset_key(code), event_asset_key(SPLIT_EVENTS, code),
            event_asset_key(DIVIDEND_EVENTS, code), adjustments_asset_key(code)]


def build_daily_refresh_sensor(pipeline: PipelineConfig) -> dg.SensorDefinition:
    keys = [key for s in pipeline.exchanges for key in daily_keys(s.code)]

    @dg.sensor(
        name="daily_refresh",
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=keys,
        description=(
            "Requests each exchange's newest trading day (prices, splits, dividends and the "
            "re-adjustment they cause) once its data should be out (the "
            "close in the exchange's zone + the data delay + EOD_REFRESH_DELAY_MINUTES), "
            "skipping weekends and holidays. Run keys make a repeated tick harmless; the "
            "cursor remembers the last day requested per exchange."
        ),
    )
    def daily_refresh(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                      clock: ClockResource) -> dg.SensorResult:
        cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        now = clock.now() - pipeline.refresh_delay
        requests: list[dg.RunRequest] = []
        skipped: list[str] = []
        with warehouse.connect() as conn:
            for setting in pipeline.exchanges:
                code = setting.code
                day = newest_available_day(setting.info, now, queries.holidays(conn, code))
                last = cursor.get(code)
                if day < setting.start or (last and dt.date.fromisoformat(last) >= day):
                    skipped.append(f"{code}: {day} already requested or before start")
                    continue
                requests.append(
                    dg.RunRequest(
                        run_key=f"daily_refresh:{code}:{day.isoformat()}",
                        partition_key=day.isoformat(),
                        asset_selection=daily_keys(code),
                        tags={"eod/trigger": "daily_refresh", "eod/exchange": code},
                    )
                )
                cursor[code] = day.isoformat()
        return dg.SensorResult(
            run_requests=requests,
            cursor=json.dumps(cursor, sort_keys=True),
            skip_reason=None if requests else "; ".join(skipped) or "nothing due",
        )

    return daily_refresh


def build_reference_schedule(pipeline: PipelineConfig) -> dg.ScheduleDefinition:
    job = dg.define_asset_job(
        "refresh_reference",
        selection=dg.AssetSelection.assets("symbol_lists", "exchange_calendars"),
        description="Symbol lists and exchange calendars of every configured exchange.",
    )

    @dg.schedule(job=job, cron_schedule=REFERENCE_CRON, execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.RUNNING)
    def weekly_reference(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        week = context.scheduled_execution_time.date().isoformat()
        return [
            dg.RunRequest(run_key=f"reference:{s.code}:{week}", partition_key=s.code)
            for s in pipeline.exchanges
        ]

    return weekly_reference
