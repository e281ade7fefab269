"""The daily refresh sensor and the weekly reference schedule."""


import dagster as dg

from eod_pipeline.config import PipelineConfig
from eod_pipeline.defs.assets.corporate_actions import adjustments_asset_key, event_asset_key
from eod_pipeline.defs.assets.prices import REVISE_FROM_TAG, price_asset_key
from eod_pipeline.defs.refresh_plan import refresh_range
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


#: Dagster's run tags that make one run materialize a range of partitions.
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
#: Our tags: which exchange and range a refresh run is for (to find its earlier tries).
TRIGGER_TAG = "eod/trigger"
EXCHANGE_TAG = "eod/exchange"
RANGE_TAG = "eod/refresh_range"
#: Tries of one range before the sensor stops requesting it (the skip reason says so): a
#: run that fails the same way three times needs a person, not a fourth call.
MAX_TRIES = 3
#: Statuses of a run that still may materialize its range.
IN_FLIGHT = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
             dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED)
REFERENCE_KEYS = [dg.AssetKey("symbol_lists"), dg.AssetKey("exchange_calendars")]


def _reference_missing(instance: dg.DagsterInstance, code: str) -> list[str]:
    return [key.to_user_string() for key in REFERENCE_KEYS
            if code not in instance.get_materialized_partitions(key)]


def _tries(instance: dg.DagsterInstance, code: str, window: str
           ) -> tuple[list[dg.DagsterRun], list[dg.DagsterRun]]:
    """Earlier runs of this exchange's range: (in flight, finished)."""
    runs = instance.get_runs(filters=dg.RunsFilter(
        tags={TRIGGER_TAG: "daily_refresh", EXCHANGE_TAG: code, RANGE_TAG: window}))
    flying = [r for r in runs if r.status in IN_FLIGHT]
    return flying, [r for r in runs if r.status not in IN_FLIGHT]


def build_daily_refresh_sensor(pipeline: PipelineConfig) -> dg.SensorDefinition:
    keys = [key for s in pipeline.exchanges for key in daily_keys(s.code)] + REFERENCE_KEYS

    @dg.sensor(
        name="daily_refresh",
        minimum_interval_seconds=SENSOR_INTERVAL_S,
        default_status=dg.DefaultSensorStatus.RUNNING,
        asset_selection=keys,
        description=(
            "Per exchange, requests every trading day that is not materialized, from "
            "EOD_REFRESH_LOOKBACK_DAYS back up to the newest day whose data is out (close + "
            "data delay + EOD_REFRESH_DELAY_MINUTES), as ONE range run of prices, splits, "
            "dividends and re-adjustment; the EOD_REVISION_DAYS trading days before the "
            "newest are fetched again for late corrections. Decides from partition status, "
            "not a cursor; loads an exchange's symbol list and calendar first if missing. "
            "Run keys make a repeated tick harmless."
        ),
    )
    def daily_refresh(context: dg.SensorEvaluationContext, warehouse: WarehouseResource,
                      clock: ClockResource) -> dg.SensorResult:
        now = clock.now() - pipeline.refresh_delay
        instance = context.instance
        requests: list[dg.RunRequest] = []
        notes: list[str] = []
        with warehouse.connect() as conn:
            for setting in pipeline.exchanges:
                code = setting.code
                missing_reference = _reference_missing(instance, code)
                if missing_reference:
                    # Without the calendar a holiday looks like a trading day; without
                    # the symbol list the planner cannot choose per-ticker fetches.
                    requests.append(dg.RunRequest(
                        run_key=f"reference_bootstrap:{code}", partition_key=code,
                        asset_selection=REFERENCE_KEYS,
                        tags={TRIGGER_TAG: "daily_refresh", EXCHANGE_TAG: code}))
                    notes.append(f"{code}: waiting for {', '.join(missing_reference)}")
                    continue
                holidays = queries.holidays(conn, code)
                newest = newest_available_day(setting.info, now, holidays)
                window = refresh_range(
                    newest, setting.start, pipeline.refresh_lookback, holidays,
                    instance.get_materialized_partitions(price_asset_key(code)),
                    pipeline.revision_days)
                if window is None:
                    notes.append(f"{code}: every trading day up to {newest} is materialized")
                    continue
                flying, finished = _tries(instance, code, window.key)
                if flying:
                    notes.append(f"{code}: {window.key} in progress (run {flying[0].run_id})")
                    continue
                if len(finished) >= MAX_TRIES:
                    notes.append(f"{code}: {window.key} failed {len(finished)} times; see "
                                 f"run {finished[0].run_id}, fix and launch it by hand")
                    continue
                tags = {TRIGGER_TAG: "daily_refresh", EXCHANGE_TAG: code,
                        RANGE_TAG: window.key, RANGE_START_TAG: window.start.isoformat(),
                        RANGE_END_TAG: window.end.isoformat()}
                if window.revise_from is not None:
                    tags[REVISE_FROM_TAG] = window.revise_from.isoformat()
                requests.append(dg.RunRequest(
                    run_key=f"daily_refresh:{code}:{window.key}:try{len(finished) + 1}",
                    asset_selection=daily_keys(code), tags=tags))
                notes.append(f"{code}: requested {window.key} ({len(window.missing)} days "
                             "not materialized)")
        context.log.info("; ".join(notes))
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=None if requests else "; ".join(notes) or "nothing due",
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
