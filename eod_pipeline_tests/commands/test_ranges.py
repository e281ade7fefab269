"""A range with no trading day says so (weekend, holiday, or both) instead of "the fetch
log already covers the whole range"; and the demo's ready-made range is a range Dagster's
partition dialog accepts as it opens."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from eod_pipeline.commands.demo import GUIDE, range_key, ready_made_range
from eod_pipeline.config import load_config
from eod_pipeline.defs.partitions import trading_date_partitions
from eod_pipeline_tests.commands.support import clear_settings, fields, run


@pytest.fixture
def us(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse_url: str) -> str:
    clear_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("EOD_EXCHANGES", "US:2025-01-02")
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("INSERT INTO eod.exchange_holidays VALUES "
                     "('US', '2025-11-27', 'Thanksgiving Day', 'official'), "
                     "('US', '2025-12-25', 'Christmas Day', 'official'), "
                     "('US', '2025-12-26', 'Made up for the test', 'official')")
    return warehouse_url


@pytest.mark.parametrize(("start", "end", "said"), [
    ("2025-11-22", "2025-11-23", "no trading days between 2025-11-22 and 2025-11-23: weekend"),
    ("2025-11-27", "2025-11-27",
     "no trading days between 2025-11-27 and 2025-11-27: holiday (2025-11-27 holiday)"),
    ("2025-12-25", "2025-12-28", "no trading days between 2025-12-25 and 2025-12-28: "
     "weekend/holiday (2025-12-25 holiday, 2025-12-26 holiday)"),
], ids=["weekend", "holiday", "both"])
def test_a_range_without_trading_days_says_why(us: str, start: str, end: str, said: str):
    result = run("plan", "--exchange", "US", "--from", start, "--to", end)
    assert result.exit_code == 0, result.output
    assert result.output == f"US: {said}; a run over this range would fetch nothing\n"
    assert "fetch log already covers" not in result.output


def test_a_range_with_a_trading_day_is_planned(us: str):
    result = run("plan", "--exchange", "US", "--from", "2025-11-27", "--to", "2025-11-30")
    assert result.exit_code == 0, result.output
    assert "no trading days" not in result.output
    assert fields(result.output)["trading days"] == "1 (1 not fully fetched yet)"  # Fri 28th


@pytest.mark.parametrize("now", [
    dt.datetime(2026, 11, 27, 15, 10, tzinfo=dt.UTC),   # a Friday before the US close
    dt.datetime(2026, 11, 30, 6, 0, tzinfo=dt.UTC),     # a Monday morning
    dt.datetime(2026, 3, 2, 23, 0, tzinfo=dt.UTC),
])
def test_the_ready_made_range_is_inside_every_exchanges_recent_partitions(now: dt.datetime):
    config = load_config({"EOD_EXCHANGES": "US,LSE,XETRA", "EOD_START_DATE": "2025-01-02"},
                         today=now.date())
    start, end = ready_made_range(config, now)
    assert 40 <= (end - start).days <= 62
    for setting in config.exchanges:
        keys = trading_date_partitions(setting).get_partition_keys(current_time=now)
        assert start.isoformat() in keys and end.isoformat() in keys
    # Dagster's dialog lists the last 90 days until "Show all partitions" is clicked.
    assert (now.date() - start).days < 90
    assert range_key(start, end) == f"[{start}...{end}]"


def test_the_ready_made_range_starts_at_the_configured_start_if_later():
    now = dt.datetime(2026, 11, 27, 23, 0, tzinfo=dt.UTC)
    config = load_config({"EOD_EXCHANGES": "US:2026-11-14"}, today=now.date())
    assert ready_made_range(config, now) == (dt.date(2026, 11, 16), dt.date(2026, 11, 27))


def test_the_guide_says_what_to_click():
    text = GUIDE.format(url="http://127.0.0.1:3000", exchange="US",
                        range="[2026-09-28...2026-11-26]", start="2026-09-28",
                        end="2026-11-26")
    assert '"Custom" with 0 partitions' in text and 'click "All"' in text
    assert "[2026-09-28...2026-11-26]" in text
    assert '"Show all partitions"' in text and "last 90 days" in text
    assert "eod-pipeline plan --exchange US --from 2026-09-28 --to 2026-11-26" in text
