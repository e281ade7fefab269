"""The daily refresh sensor evaluated at chosen clock times, against a real warehouse."""

import datetime as dt
import json
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from eod_pipeline.config import PipelineConfig, parse_exchanges
from eod_pipeline.defs.resources import ClockResource, WarehouseResource
from eod_pipeline.defs.sensors import build_daily_refresh_sensor

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
PIPELINE = PipelineConfig(
    exchanges=parse_exchanges("US:2026-01-02,LSE:2026-01-02", dt.date(2020, 1, 2),
                              dt.date(2026, 11, 23))
)


@pytest.fixture
def tick(warehouse_url):
    sensor = build_daily_refresh_sensor(PIPELINE)
    with dg.instance_for_test() as instance:

        def evaluate(now: dt.datetime, cursor: str | None) -> dg.SensorResult:
            context = dg.build_sensor_context(
                instance=instance,
                cursor=cursor,
                resources={"warehouse": WarehouseResource(database_url=warehouse_url),
                           "clock": ClockResource(now_iso=now.isoformat())},
            )
            return sensor(context)

        yield evaluate


def _requested(result: dg.SensorResult) -> dict[str, str]:
    return {r.tags["eod/exchange"]: r.partition_key for r in result.run_requests or []}


def test_before_the_close_requests_the_previous_day_and_after_it_today(tick):
    before = tick(dt.datetime(2026, 11, 20, 15, 0, tzinfo=NY), None)
    # 15:00 New York = 20:00 London: LSE's Friday is out (16:30 + 2 h), US's is not.
    assert _requested(before) == {"US": "2026-11-19", "LSE": "2026-11-20"}
    after = tick(dt.datetime(2026, 11, 20, 16, 20, tzinfo=NY), before.cursor)
    assert _requested(after) == {"US": "2026-11-20"}
    assert after.run_requests[0].run_key == "daily_refresh:US:2026-11-20"
    assert json.loads(after.cursor) == {"LSE": "2026-11-20", "US": "2026-11-20"}


def test_exactly_at_close_plus_delay(tick):
    cursor = json.dumps({"US": "2026-11-19", "LSE": "2026-11-20"})
    assert _requested(tick(dt.datetime(2026, 11, 20, 16, 14, tzinfo=NY), cursor)) == {}
    assert _requested(tick(dt.datetime(2026, 11, 20, 16, 15, tzinfo=NY), cursor)) == {
        "US": "2026-11-20"}


def test_weekend_requests_nothing_new(tick):
    cursor = json.dumps({"US": "2026-11-20", "LSE": "2026-11-20"})
    result = tick(dt.datetime(2026, 11, 21, 18, 0, tzinfo=NY), cursor)
    assert _requested(result) == {}
    assert "already requested" in result.skip_reason.skip_message


def test_weekend_after_a_missed_friday_requests_friday(tick):
    cursor = json.dumps({"US": "2026-11-19", "LSE": "2026-11-19"})
    result = tick(dt.datetime(2026, 11, 22, 12, 0, tzinfo=LONDON), cursor)
    assert _requested(result) == {"US": "2026-11-20", "LSE": "2026-11-20"}


def test_holiday_is_skipped(tick, warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("INSERT INTO eod.exchange_holidays (exchange, date, holiday, type) "
                     "VALUES ('US', '2026-11-26', 'Thanksgiving Day', 'official')")
    cursor = json.dumps({"US": "2026-11-25", "LSE": "2026-11-26"})
    result = tick(dt.datetime(2026, 11, 26, 17, 0, tzinfo=NY), cursor)
    assert _requested(result) == {}
    friday = tick(dt.datetime(2026, 11, 27, 17, 0, tzinfo=NY), cursor)
    assert _requested(friday)["US"] == "2026-11-27"


def test_two_ticks_in_a_row_request_once(tick):
    now = dt.datetime(2026, 11, 20, 23, 0, tzinfo=NY)
    first = tick(now, None)
    second = tick(now, first.cursor)
    assert len(first.run_requests) == 2
    assert second.run_requests == []
    # Even without the cursor (e.g. restored from an old one), run keys dedupe runs.
    again = tick(now, None)
    assert {r.run_key for r in again.run_requests} == {r.run_key for r in first.run_requests}
