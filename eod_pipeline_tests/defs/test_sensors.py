"""The daily refresh sensor evaluated at chosen clock times, against a real warehouse and
a real Dagster instance: it decides from partition status, never from a cursor."""

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import psycopg
import pytest

from eod_pipeline.config import PipelineConfig, parse_exchanges
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.defs.refresh_plan import refresh_range
from eod_pipeline.defs.resources import ClockResource, WarehouseResource
from eod_pipeline.defs.sensors import REFERENCE_KEYS, build_daily_refresh_sensor

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
PIPELINE = PipelineConfig(
    exchanges=parse_exchanges("US:2026-11-02,LSE:2026-11-02", dt.date(2020, 1, 2),
                              dt.date(2026, 11, 23))
)
THANKSGIVING = dt.date(2026, 11, 26)


class Ticker:
    """Evaluates the sensor the way the daemon does, against one instance."""

    def __init__(self, instance: dg.DagsterInstance, warehouse_url: str) -> None:
        self.instance = instance
        self.warehouse_url = warehouse_url
        self.sensor = build_daily_refresh_sensor(PIPELINE)

    def __call__(self, now: dt.datetime) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=self.instance,
            resources={"warehouse": WarehouseResource(database_url=self.warehouse_url),
                       "clock": ClockResource(now_iso=now.isoformat())},
        )
        return self.sensor(context)

    def materialized(self, code: str, *days: str) -> None:
        for day in days:
            self.instance.report_runless_asset_event(
                dg.AssetMaterialization(price_asset_key(code), partition=day))

    def reference(self, *codes: str) -> None:
        for code in codes:
            for key in REFERENCE_KEYS:
                self.instance.report_runless_asset_event(
                    dg.AssetMaterialization(key, partition=code))

    def through(self, code: str, last: str) -> None:
        """Materialize every trading day of November 2026 up to `last`."""
        day = dt.date(2026, 11, 2)
        while day <= dt.date.fromisoformat(last):
            if day.weekday() < 5 and not (code == "US" and day == THANKSGIVING):
                self.materialized(code, day.isoformat())
            day += dt.timedelta(days=1)


@pytest.fixture
def tick(warehouse_url):
    with dg.instance_for_test() as instance:
        yield Ticker(instance, warehouse_url)


def _ranges(result: dg.SensorResult) -> dict[str, tuple[str, str, str | None]]:
    out = {}
    for r in result.run_requests or []:
        if "eod/refresh_range" in r.tags:
            out[r.tags["eod/exchange"]] = (r.tags["dagster/asset_partition_range_start"],
                                           r.tags["dagster/asset_partition_range_end"],
                                           r.tags.get("eod/revise_from"))
    return out


def test_without_reference_data_it_requests_that_first_and_waits(tick):
    result = tick(dt.datetime(2026, 11, 20, 23, 0, tzinfo=NY))
    assert _ranges(result) == {}
    reference = {(r.partition_key, tuple(k.to_user_string() for k in r.asset_selection))
                 for r in result.run_requests}
    assert reference == {(code, ("symbol_lists", "exchange_calendars"))
                         for code in ("US", "LSE")}


def test_before_the_close_the_previous_day_after_it_today_with_a_revision_day(tick):
    tick.reference("US", "LSE")
    tick.through("US", "2026-11-18")
    tick.through("LSE", "2026-11-19")
    before = tick(dt.datetime(2026, 11, 20, 15, 0, tzinfo=NY))
    # 15:00 New York = 20:00 London: LSE's Friday is out (16:30 + 2 h), US's is not.
    assert _ranges(before) == {"US": ("2026-11-18", "2026-11-19", "2026-11-18"),
                               "LSE": ("2026-11-19", "2026-11-20", "2026-11-19")}
    tick.materialized("US", "2026-11-19")
    after = tick(dt.datetime(2026, 11, 20, 16, 20, tzinfo=NY))
    assert _ranges(after)["US"] == ("2026-11-19", "2026-11-20", "2026-11-19")


def test_exactly_at_close_plus_delay(tick):
    tick.reference("US", "LSE")
    tick.through("US", "2026-11-19")
    tick.through("LSE", "2026-11-20")
    assert _ranges(tick(dt.datetime(2026, 11, 20, 16, 14, tzinfo=NY))) == {}
    assert _ranges(tick(dt.datetime(2026, 11, 20, 16, 15, tzinfo=NY)))["US"][1] == "2026-11-20"


def test_days_the_daemon_missed_are_requested_together(tick):
    tick.reference("US", "LSE")
    tick.through("US", "2026-11-16")
    tick.through("LSE", "2026-11-20")
    # Down Tuesday to Thursday: on Friday evening one run covers Tuesday..Friday.
    result = tick(dt.datetime(2026, 11, 20, 18, 0, tzinfo=NY))
    assert _ranges(result) == {"US": ("2026-11-17", "2026-11-20", "2026-11-19")}


def test_a_day_that_was_not_materialized_is_never_skipped(tick):
    """The old sensor stored a holiday it requested in a cursor and skipped the day
    before it forever. Here only partition status counts."""
    tick.reference("US", "LSE")
    tick.through("US", "2026-11-24")
    tick.through("LSE", "2026-11-27")
    with psycopg.connect(tick.warehouse_url) as conn:
        conn.execute("INSERT INTO eod.exchange_holidays (exchange, date, holiday, type) "
                     "VALUES ('US', '2026-11-26', 'Thanksgiving Day', 'official')")
    thanksgiving = tick(dt.datetime(2026, 11, 26, 17, 0, tzinfo=NY))
    assert _ranges(thanksgiving) == {"US": ("2026-11-24", "2026-11-25", "2026-11-24")}
    again = tick(dt.datetime(2026, 11, 26, 18, 0, tzinfo=NY))
    assert _ranges(again) == _ranges(thanksgiving)  # still not materialized: asked again
    assert {r.run_key for r in again.run_requests} == {
        r.run_key for r in thanksgiving.run_requests}  # ...under the same run key


def test_weekend_with_everything_materialized_requests_nothing(tick):
    tick.reference("US", "LSE")
    tick.through("US", "2026-11-20")
    tick.through("LSE", "2026-11-20")
    result = tick(dt.datetime(2026, 11, 21, 18, 0, tzinfo=NY))
    assert result.run_requests == []
    assert "every trading day up to 2026-11-20 is materialized" in (
        result.skip_reason.skip_message)


def test_refresh_range_is_bounded_by_start_and_lookback():
    friday = dt.date(2026, 11, 20)
    window = refresh_range(friday, dt.date(2026, 11, 19), dt.timedelta(days=30), set(),
                           set(), revision_days=1)
    assert (window.start, window.end, window.revise_from) == (
        dt.date(2026, 11, 19), friday, dt.date(2026, 11, 19))
    far = refresh_range(friday, dt.date(2020, 1, 2), dt.timedelta(days=7), set(), set(), 0)
    assert (far.start, far.revise_from) == (dt.date(2026, 11, 13), None)
    assert refresh_range(friday, dt.date(2026, 11, 23), dt.timedelta(days=7), set(),
                         set(), 1) is None
