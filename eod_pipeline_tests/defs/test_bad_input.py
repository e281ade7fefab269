"""Bad input, a table of it: each gets the exact error below and leaves stored data alone.

Configuration values and client settings are refused when they are read; partition keys,
run options, API answers and frames are refused by a real pipeline run against the
simulator and a real warehouse, whose contents are compared before and after.
(Command-line arguments have their own table in eod_pipeline_tests/test_cli.py.)
"""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.config import ConfigError, load_config
from eod_pipeline.defs.assets.prices import price_asset_key
from eod_pipeline.eodhd.settings import EodhdSettings, SettingsError
from eod_pipeline.warehouse.reader import read_slice
from eod_pipeline.warehouse.tables import TABLES
from eod_pipeline.warehouse.validation import FrameRejectedError
from eod_pipeline.warehouse.writer import write_frames

TODAY = dt.date(2026, 11, 23)

CONFIG_CASES = [
    ({"EOD_EXCHANGES": "US,NOPE"}, "EOD_EXCHANGES: unknown exchange code 'NOPE'. Known codes:"),
    ({"EOD_EXCHANGES": "US:2015-13-01"},
     "EOD_EXCHANGES (US): '2015-13-01' is not a date (expected YYYY-MM-DD)"),
    ({"EOD_EXCHANGES": "US:2099-01-01"},
     "EOD_EXCHANGES (US): start date 2099-01-01 is in the future (today is 2026-11-23)"),
    ({"EOD_EXCHANGES": "US;LSE"}, "EOD_EXCHANGES: malformed entry 'US;LSE' (expected CODE or "
                                  "CODE:YYYY-MM-DD, e.g. US,LSE:2015-01-01)"),
    ({"EOD_EXCHANGES": "us"}, "EOD_EXCHANGES: malformed entry 'us'"),
    ({"EOD_EXCHANGES": "US,LSE,US"}, "EOD_EXCHANGES: exchange 'US' is listed twice"),
    ({"EOD_EXCHANGES": " , "}, "EOD_EXCHANGES: no exchanges given (e.g. US,LSE:2015-01-01)"),
    ({"EOD_START_DATE": "yesterday"},
     "EOD_START_DATE: 'yesterday' is not a date (expected YYYY-MM-DD)"),
    ({"EOD_MAX_FAILED_SHARE": "lots"},
     "EOD_MAX_FAILED_SHARE: 'lots' is not a number (expected 0..1)"),
    ({"EOD_MAX_FAILED_SHARE": "1.5"}, "EOD_MAX_FAILED_SHARE: 1.5 is outside 0..1"),
    ({"EOD_REFRESH_DELAY_MINUTES": "soon"},
     "EOD_REFRESH_DELAY_MINUTES: 'soon' is not a number of minutes"),
    ({"EOD_BATCH_ROWS": "0"}, "EOD_BATCH_ROWS: 0 must be at least 1"),
    ({"EOD_BATCH_ROWS": "1e5x"}, "EOD_BATCH_ROWS: '1e5x' is not a whole number"),
    ({"EOD_CONFIG": "/nonexistent/eod.toml"},
     "EOD_CONFIG: file /nonexistent/eod.toml does not exist"),
]


@pytest.mark.parametrize(("env", "message"), CONFIG_CASES,
                         ids=[next(iter(e.values())) for e, _ in CONFIG_CASES])
def test_bad_configuration_is_refused_naming_the_setting(env, message):
    with pytest.raises(ConfigError) as err:
        load_config(env, today=TODAY)
    assert str(err.value).startswith(message)


def test_bad_toml_file_is_refused(tmp_path: Path):
    path = tmp_path / "eod.toml"
    path.write_text("[exchanges\nUS = 1")
    with pytest.raises(ConfigError, match=f"EOD_CONFIG: {path} is not valid TOML"):
        load_config({"EOD_CONFIG": str(path)}, today=TODAY)


@pytest.mark.parametrize(("env", "message"), [
    ({}, "environment variable EODHD_API_TOKEN is not set; export your EODHD API token there"),
    ({"EODHD_API_TOKEN": "t", "EODHD_REQUESTS_PER_MINUTE": "fast"},
     "environment variable EODHD_REQUESTS_PER_MINUTE must be a number, got 'fast'"),
])
def test_bad_client_settings_are_refused(env, message):
    with pytest.raises(SettingsError) as err:
        EodhdSettings.from_env(env)
    assert str(err.value).startswith(message)


def _snapshot(url: str) -> dict[str, pl.DataFrame]:
    with psycopg.connect(url) as conn:
        # Every table, the fetch log and the rejects included: they drive resume, so a
        # refused run must not touch them either.
        return {name: read_slice(conn, spec) for name, spec in TABLES.items()}


def _assert_unchanged(url: str, before: dict[str, pl.DataFrame]) -> None:
    after = _snapshot(url)
    for name, frame in before.items():
        assert_frame_equal(after[name], frame)


@pytest.fixture
def loaded(harness):
    harness.load_reference("US")
    assert harness.backfill("US", "2026-11-02", "2026-11-20").success
    return harness


def _failure(result) -> str:
    """Every step failure's message with its causes (the user's error is the cause of
    Dagster's wrapper error)."""
    messages = []
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            while error is not None:
                messages.append(error.message)
                error = error.cause
    return "\n".join(messages)


def test_pipeline_bad_inputs_fail_clearly_and_change_nothing(loaded, monkeypatch):
    h = loaded
    before = _snapshot(h.warehouse_url)
    key = price_asset_key("US")

    # A partition key that is not a trading date partition (a Saturday).
    with pytest.raises(dg.DagsterUnknownPartitionError,
                       match="Could not find a partition with key `2026-11-21`"):
        h.materialize(key, partition_key="2026-11-21")
    _assert_unchanged(h.warehouse_url, before)

    # A run option that is not a strategy.
    # Refused by Dagster's config check before any run exists (the launchpad offers only
    # the two strategies).
    with pytest.raises(dg.DagsterInvalidConfigError,
                       match=r"(?s)strategy.*not in enum type ForcedStrategy got cheapest"):
        h.materialize(key, partition_key="2026-11-20", raise_on_error=False,
                      run_config={"ops": {"eod_prices__US": {"config": {
                          "strategy": "cheapest"}}}})
    _assert_unchanged(h.warehouse_url, before)

    # A token the API refuses.
    monkeypatch.setenv("EODHD_API_TOKEN", "not-a-valid-token")
    refused = h.materialize(key, partition_key="2026-11-20", raise_on_error=False,
                            run_config={"ops": {"eod_prices__US": {"config": {
                                "refetch": True}}}})
    assert "Unauthenticated: the API token was refused (check EODHD_API_TOKEN)" in (
        _failure(refused))
    assert "not-a-valid-token" not in str(refused.all_events)
    monkeypatch.undo()
    monkeypatch.setenv("EODHD_API_TOKEN", h.sim.token)

    # A ticker the API does not know (a symbol list gone stale): listed, not fatal to
    # others, and with nothing else missing the partition is not complete.
    with psycopg.connect(h.warehouse_url) as conn:
        conn.execute("INSERT INTO eod.symbols (exchange, code, first_seen, last_seen, "
                     "delisted) VALUES ('US', 'NOSUCH', '2026-11-20', '2026-11-20', false)")
    before = _snapshot(h.warehouse_url)
    missing = h.backfill("US", "2026-11-02", "2026-11-20", raise_on_error=False)
    assert "ticker not found: NOSUCH.US" in _failure(missing)
    assert "1 of 1 requests failed (100.0% > 2.0% allowed by EOD_MAX_FAILED_SHARE)" in (
        _failure(missing))
    _assert_unchanged(h.warehouse_url, before)

    # A frame that does not fit its table.
    with psycopg.connect(h.warehouse_url) as conn, pytest.raises(
        FrameRejectedError, match=r"eod\.prices: column 'close' has type String"
    ):
        frame = h.stored("US").head(3).with_columns(pl.col("close").cast(pl.String))
        write_frames(conn, TABLES["prices"], frame)
    _assert_unchanged(h.warehouse_url, before)
