"""Fault injection with exact outcomes: faulted APIs, killed runs, a restarted database and
an exhausted quota all converge to the source's data, and the token leaks nowhere."""

import datetime as dt
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.warehouse.embedded import EmbeddedPostgres
from eod_pipeline.warehouse.migrations import ensure_schema
from eod_pipeline_tests.defs.harness import kill_mid_run
from eod_pipeline_tests.fixtures.simulator import SIM_TOKEN

MULTI_YEAR = ("2023-01-02", "2026-11-20")


def _md(result, code="US"):
    mats = result.asset_materializations_for_node(f"eod_prices__{code}")
    return {k: v.value for k, v in mats[0].metadata.items()}


def _logged(h) -> int:
    with psycopg.connect(h.warehouse_url) as conn:
        return conn.execute("SELECT count(*) FROM eod.fetch_log WHERE dataset = 'prices'"
                            ).fetchone()[0]


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def _assert_equals_source_except_rejects(h, start: str, end: str) -> None:
    stored = h.stored("US")
    expected = h.expected("US", dt.date.fromisoformat(start), dt.date.fromisoformat(end))
    key = ["exchange", "symbol", "date"]
    assert stored.select(key).is_duplicated().sum() == 0
    joined = stored.join(expected, on=key, how="left", suffix="_src")
    assert joined.filter(pl.col("close_src").is_null()).is_empty(), "rows the source lacks"
    for col in ("open", "high", "low", "close", "adjusted_close", "volume"):
        assert joined.filter(pl.col(col) != pl.col(f"{col}_src")).is_empty(), col
    missing = expected.join(stored, on=key, how="anti")
    with psycopg.connect(h.warehouse_url) as conn:
        rejected = conn.execute("SELECT count(*) FROM eod.price_rejects").fetchone()[0]
        reasons = conn.execute("SELECT count(*) FROM eod.price_rejects WHERE reason = ''"
                               ).fetchone()[0]
    assert missing.height <= rejected and reasons == 0


def assert_token_nowhere(h, token: str = SIM_TOKEN) -> None:
    """Not in the event log, the captured compute logs, or any warehouse table."""
    for record in h.instance.get_run_records():
        for event in h.instance.all_logs(record.dagster_run.run_id):
            assert token not in str(event)
    # Everything the instance wrote (captured compute logs, event and run storage) lives
    # under its root directory; the scan must find the captured step logs, or it proves
    # nothing.
    files = [p for p in Path(h.instance.root_directory).rglob("*") if p.is_file()]
    assert any(p.suffix in (".err", ".out") for p in files), "no captured compute logs"
    for path in files:
        assert token.encode() not in path.read_bytes(), path
    with psycopg.connect(h.warehouse_url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'eod'")]
        for table in tables:
            hit = conn.execute(
                f'SELECT count(*) FROM eod."{table}" t WHERE t::text LIKE %s',
                (f"%{token}%",)).fetchone()[0]
            assert hit == 0, table


def test_faulted_multi_year_backfill_equals_the_source(harness_factory):
    h = harness_factory(
        "US:2023-01-02",
        symbols_per_exchange=80,
        error_5xx_rate=0.08, truncate_rate=0.05, hang_rate=0.03, malformed_rate=0.001,
        # 429s: a small window the client does not know about (no rate headers).
        per_minute_limit=20, rate_window_s=1.0, rate_header_share=0.0, retry_after_share=0.5,
        eodhd={"timeout_s": 1.0, "max_in_flight": 8, "requests_per_minute": 60_000},
    )
    h.sim.configure(error_5xx_rate=0.0, truncate_rate=0.0, hang_rate=0.0)
    h.load_reference("US")
    h.sim.configure(error_5xx_rate=0.08, truncate_rate=0.05, hang_rate=0.03)
    result = h.backfill("US", *MULTI_YEAR)
    assert result.success
    md = _md(result)
    assert md["failed"] == 0
    assert md["rows_rejected"] > 0
    # Faults were injected (which request each one hits depends on timing: the quota
    # check before the stream may absorb some), and the data converged regardless.
    stats = h.sim.stats()
    assert sum(stats["faults"].get(k, 0) for k in ("5xx", "hang", "truncate")) > 0
    assert stats["rate_limited"] > 0
    _assert_equals_source_except_rejects(h, *MULTI_YEAR)
    assert_token_nowhere(h)


def test_quota_exhausted_mid_backfill_stops_keeps_and_resumes(harness_factory):
    h = harness_factory("US:2023-01-02", symbols_per_exchange=80, latency_s=0.02,
                        pipeline={"batch_rows": 2000})
    h.load_reference("US")
    state: dict = {}

    def run() -> None:
        state["result"] = h.backfill("US", *MULTI_YEAR, raise_on_error=False)

    worker = threading.Thread(target=run)
    worker.start()
    _wait_for(lambda: _logged(h) >= 5)
    used = sum(n for per_day in h.sim.stats()["credits"].values() for n in per_day.values())
    h.sim.configure(daily_quota=used)
    worker.join(60)
    assert not worker.is_alive(), "the run went on after the quota ran out"
    result = state["result"]
    assert not result.success
    errors = str(result.all_events)
    assert "QuotaExhaustedError" in errors and "resets" in errors
    kept = _logged(h)
    assert kept >= 5 and len(h.stored("US")) > 0
    # The next day (quota reset), a re-run spends calls only on what is missing.
    h.sim.configure(daily_quota=100_000)
    h.sim.reset()
    before = h.calls()
    again = h.backfill("US", *MULTI_YEAR)
    md = _md(again)
    tickers = len(h.sim.universe.symbols("US"))
    assert md["tickers_to_fetch"] <= tickers - kept
    assert h.calls() - before == md["calls_spent"] == md["tickers_to_fetch"]
    assert_frame_equal(h.stored("US"), h.expected("US", *map(dt.date.fromisoformat,
                                                               MULTI_YEAR)))
    assert_token_nowhere(h)


def test_sigkill_mid_backfill_then_rerun_converges_paying_only_for_the_missing(
    harness_factory,
):
    h = harness_factory("US:2023-01-02", symbols_per_exchange=80, latency_s=0.03)
    h.load_reference("US")
    kill_mid_run(h, [price_asset_key("US")],
                 {"dagster/asset_partition_range_start": MULTI_YEAR[0],
                  "dagster/asset_partition_range_end": MULTI_YEAR[1]},
                 lambda: _logged(h) >= 10,
                 {"EOD_EXCHANGES": "US:2023-01-02", "EOD_BATCH_ROWS": "2000"})
    kept = _logged(h)
    tickers = len(h.sim.universe.symbols("US"))
    assert 10 <= kept < tickers
    before = h.calls()
    result = h.backfill("US", *MULTI_YEAR)
    md = _md(result)
    # Only what was not recorded is fetched again (the recorded part is never paid twice).
    assert md["tickers_to_fetch"] <= tickers - kept
    assert h.calls() - before == md["calls_spent"] == md["tickers_to_fetch"]
    assert_frame_equal(h.stored("US"), h.expected("US", *map(dt.date.fromisoformat,
                                                               MULTI_YEAR)))


@pytest.fixture
def own_cluster():
    """A PostgreSQL server of this test's own, so restarting it disturbs no other test."""
    home = Path(tempfile.mkdtemp(prefix="eod-restart-"))
    os.chmod(home, 0o755)
    cluster = EmbeddedPostgres(home)
    url = cluster.ensure_running()
    with psycopg.connect(url) as conn:
        ensure_schema(conn)
    yield cluster, url
    cluster.stop()
    shutil.rmtree(home, ignore_errors=True)


def test_database_restart_mid_load_leaves_whole_batches_and_rerun_converges(
    harness_factory, own_cluster
):
    cluster, url = own_cluster
    h = harness_factory("US:2023-01-02", symbols_per_exchange=80, latency_s=0.03,
                        pipeline={"batch_rows": 2000})
    h.warehouse_url = url
    h.load_reference("US")
    state: dict = {}
    worker = threading.Thread(
        target=lambda: state.setdefault("r", h.backfill("US", *MULTI_YEAR,
                                                        raise_on_error=False)))
    worker.start()
    _wait_for(lambda: _logged(h) >= 5)
    cluster.stop()
    cluster.ensure_running()
    worker.join(120)
    assert not state["r"].success
    # Every ticker stored is stored whole: batches commit atomically, never half.
    stored = h.stored("US")
    expected = h.expected("US", *map(dt.date.fromisoformat, MULTI_YEAR))
    for symbol in stored["symbol"].unique():
        assert_frame_equal(stored.filter(pl.col("symbol") == symbol),
                           expected.filter(pl.col("symbol") == symbol))
    assert h.backfill("US", *MULTI_YEAR).success
    assert_frame_equal(h.stored("US"), expected)


def test_invalid_partition_key_is_refused_and_changes_nothing(harness):
    harness.load_reference("US")
    with pytest.raises(dg.DagsterUnknownPartitionError, match="2026-11-21"):
        harness.materialize(price_asset_key("US"), partition_key="2026-11-21")  # a Saturday
    assert harness.stored("US").is_empty()


def test_a_failing_check_stage_fails_the_run_promptly_with_its_error(harness_factory):
    # Rejected rows cannot be stored (their table is gone), so the check stage fails.
    # The run must end with that error, not wait for an end-of-stream the failed stage
    # might not send.
    h = harness_factory("US:2023-01-02", symbols_per_exchange=40, malformed_rate=0.002,
                        pipeline={"batch_rows": 2000})
    h.load_reference("US")
    with psycopg.connect(h.warehouse_url) as conn:
        conn.execute("DROP TABLE eod.price_rejects")
    state: dict = {}
    worker = threading.Thread(target=lambda: state.setdefault(
        "r", h.backfill("US", *MULTI_YEAR, raise_on_error=False)))
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "the run waited for an end-of-stream that never came"
    result = state["r"]
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "price_rejects" in str(failure.event_specific_data.error)
