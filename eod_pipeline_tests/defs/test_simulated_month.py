"""A simulated month, unattended: the daily refresh sensor at daemon-like ticks, the runs it
asks for executed, the simulator's clock moving trading day by trading day.

Along the way: a 3-day outage with no ticks, a run process SIGKILLed half way, a run that
fails because the API answers 5xx, a volume correction published the day after its bar,
a split and a dividend, Thanksgiving and its early close. The month lies in the past
(2025) because Dagster only knows partitions up to the real today. At the end the
warehouse equals the source exactly, corrected volumes and adjusted closes included;
every revision is recorded; the calls spent equal what the planner asked for.
"""

import datetime as dt
import time

import dagster as dg
import polars as pl
import psycopg
from polars.testing import assert_frame_equal

from eod_pipeline.defs.resources import ClockResource, WarehouseResource
from eod_pipeline.defs.sensors import build_daily_refresh_sensor
from eod_pipeline.quality import checks as quality
from eod_pipeline.warehouse import queries
from eod_pipeline_tests.defs.harness import kill_mid_run
from eodhd_simulator.events import Correction, InjectedDividend, InjectedSplit

D = dt.date.fromisoformat
START = "2025-10-01"
FIRST, LAST = D("2025-10-20"), D("2025-12-02")  # 31 NYSE sessions, Thanksgiving 11-27
OUTAGE = {D("2025-11-04"), D("2025-11-05"), D("2025-11-06")}
FAILING_DAY = D("2025-11-18")
KILLED_DAY = D("2025-11-20")
CORRECTED_DAY = D("2025-11-10")
SPLIT_DAY, DIVIDEND_DAY = D("2025-11-12"), D("2025-10-29")

def _logged_by_others(h, known: int) -> int:
    with psycopg.connect(h.warehouse_url) as conn:
        n = conn.execute("SELECT count(*) FROM eod.fetch_log WHERE dataset = 'prices'"
                         ).fetchone()[0]
    return n - known


def _kill_mid_run(h, request: dg.RunRequest) -> int:
    """Run `request` in a process of its own, SIGKILL it once it has stored part of its
    requests; return how many requests it had logged."""
    known = _logged_by_others(h, 0)
    h.sim.configure(latency_s=1.0)
    try:
        kill_mid_run(h, list(request.asset_selection), dict(request.tags),
                     lambda: _logged_by_others(h, known) >= 1,
                     {"EOD_EXCHANGES": f"US:{START}", "EOD_BATCH_ROWS": "1"})
    finally:
        h.sim.configure(latency_s=0.0)
    # Requests the dead process left in flight are still answered (and charged) by the
    # server: let them land before the next run's calls are counted.
    settled = h.calls()
    while True:
        time.sleep(1.5)
        if h.calls() == settled:
            break
        settled = h.calls()
    return _logged_by_others(h, known)


def _calls_spent(result: dg.ExecuteInProcessResult) -> tuple[int, int]:
    """(calls the run's steps planned, calls they report spending)."""
    planned = spent = 0
    seen = set()
    for event in result.get_asset_materialization_events():
        md = event.materialization.metadata
        # A range run records one materialization per partition, each with the step's
        # metadata: count each step once.
        if event.asset_key in seen:
            continue
        seen.add(event.asset_key)
        if "calls_spent" in md:
            spent += md["calls_spent"].value
            planned += md["calls_planned"].value if "calls_planned" in md else 0
    for evaluation in result.get_asset_check_evaluations():
        if "calls_spent" in evaluation.metadata:  # the drift check's sample
            spent += evaluation.metadata["calls_spent"].value
            planned += evaluation.metadata["calls_spent"].value
    return planned, spent


def test_a_simulated_month_unattended(harness_factory):
    h = harness_factory(f"US:{START}", now=dt.datetime(2025, 10, 20, 12, tzinfo=dt.UTC),
                        symbols_per_exchange=12, eodhd={"max_retries": 0})
    listed = [s.code for s in h.sim.universe.symbols("US")
              if s.listed_on < D("2026-09-01") and s.is_active(D("2026-12-31"))]
    corrected, split, paying = listed[0], listed[1], listed[2]
    h.sim.configure(
        corrections=[Correction("US", corrected, CORRECTED_DAY, "volume", factor=1.25)],
        injected_splits=[InjectedSplit("US", split, SPLIT_DAY, numerator=3, denominator=1)],
        injected_dividends=[InjectedDividend("US", paying, DIVIDEND_DAY, fraction=0.03)],
    )
    sensor = build_daily_refresh_sensor(h.pipeline)

    def tick() -> list[dg.RunRequest]:
        context = dg.build_sensor_context(instance=h.instance, resources={
            "warehouse": WarehouseResource(database_url=h.warehouse_url),
            "clock": ClockResource(now_iso=h.now.isoformat())})
        return list(sensor(context).run_requests or [])

    log: list[str] = []
    failed_runs = 0
    killed: int | None = None
    day = FIRST
    while day <= LAST:
        h.now = h.sim.publish(day, ["US"])
        if day in OUTAGE:
            day += dt.timedelta(days=1)
            continue
        if day == FAILING_DAY:
            h.sim.configure(error_5xx_rate=0.5)
        spent_today = 0
        for _ in range(4):  # ticks until the sensor has nothing more to ask
            requests = tick()
            if not requests:
                break
            for request in requests:
                before = h.calls()
                if day == KILLED_DAY and killed is None and "eod/refresh_range" in request.tags:
                    killed = _kill_mid_run(h, request)
                    spent_today += h.calls() - before
                    continue
                result = h.materialize(list(request.asset_selection),
                                       partition_key=request.partition_key,
                                       tags=dict(request.tags), raise_on_error=False)
                charged = h.calls() - before
                spent_today += charged
                if "eod/refresh_range" not in request.tags:
                    assert result.success
                    continue
                if not result.success:
                    failed_runs += 1
                    h.sim.configure(error_5xx_rate=0.0)  # the outage of the API ends
                    continue
                planned, spent = _calls_spent(result)
                assert planned == spent == charged, (request.tags, planned, spent, charged)
                if day == KILLED_DAY:  # the retry pays only for what the killed run lacked
                    prices = result.asset_materializations_for_node("eod_prices__US")[0]
                    assert prices.metadata["tickers_to_fetch"].value == 12 - killed
        else:
            raise AssertionError(f"{day}: the sensor kept asking")
        log.append(f"{day} {day:%a}: {spent_today} calls")
        day += dt.timedelta(days=1)

    assert failed_runs == 1
    assert killed is not None and 1 <= killed < 12
    stored = h.stored("US")
    expected = h.expected("US", D(START), LAST)
    assert_frame_equal(stored, expected)  # corrected volume, adjusted closes: all current
    with psycopg.connect(h.warehouse_url) as conn:
        revisions = pl.read_database(
            "SELECT symbol, date, old_volume, new_volume, old_adjusted_close, "
            "new_adjusted_close FROM eod.price_revisions ORDER BY symbol, date", conn)
        holidays = queries.holidays(conn, "US")
        window = (D(START), LAST)
        gaps = quality.gaps(conn, "US", holidays, window)
        coverage = quality.coverage(conn, "US", holidays, window)
        agrees = quality.fetch_log_agrees(conn, "US")
    volume_fix = revisions.filter((pl.col("symbol") == corrected)
                                  & (pl.col("date") == CORRECTED_DAY))
    assert volume_fix.height == 1
    assert volume_fix["new_volume"][0] != volume_fix["old_volume"][0]
    readjusted = set(revisions.filter(pl.col("new_adjusted_close")
                                      != pl.col("old_adjusted_close"))["symbol"])
    assert {split, paying} <= readjusted
    assert gaps.passed and coverage.passed and agrees.passed, (gaps, coverage, agrees)
    print("\n".join(log))
    print(f"rows {stored.height}, revisions {revisions.height} "
          f"({revisions.filter(pl.col('new_volume') != pl.col('old_volume')).height} volume, "
          f"{len(readjusted)} tickers re-adjusted), calls {h.calls()}")
