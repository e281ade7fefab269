"""Codes beyond the built-in registry: known from the stored EODHD facts, or refused with
the source of the code list named."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import psycopg
import pytest

from eod_pipeline.config import ConfigError, load_config
from eod_pipeline.markets.registry import exchange_info
from eod_pipeline.markets.stored import (
    CACHE_FILE_NAME,
    DEFAULT_DATA_DELAY,
    read_cache,
    write_cache,
)
from eod_pipeline.warehouse.tables import EXCHANGE_DETAILS, EXCHANGES
from eod_pipeline.warehouse.writer import write_frames

TODAY = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


def _listed(*codes: str) -> pl.DataFrame:
    rows = [{"code": c, "name": f"{c} Exchange", "operating_mic": f"X{c}", "country": "Austria",
             "currency": "EUR", "country_iso2": "AT", "country_iso3": "AUT"} for c in codes]
    return pl.DataFrame(rows, schema=EXCHANGES.polars_schema)


def _details(code: str, zone: str = "Europe/Vienna", close: str = "17:30:00",
             days: str = "Mon,Tue,Wed,Thu,Fri") -> pl.DataFrame:
    return pl.DataFrame([{"code": code, "name": f"{code} Exchange", "timezone": zone,
                          "open": "09:00:00", "close": close, "working_days": days,
                          "fetched_at": NOW}], schema=EXCHANGE_DETAILS.polars_schema)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project home with no cache file and no warehouse configured."""
    monkeypatch.setenv("EOD_HOME", str(tmp_path))
    monkeypatch.delenv("EOD_DATABASE_URL", raising=False)
    return tmp_path


def test_a_built_in_code_needs_no_lookup(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An unreachable warehouse would be looked at for any other code; US never is.
    monkeypatch.setenv("EOD_DATABASE_URL", "postgresql://eod@127.0.0.1:1/eod")
    assert exchange_info("US").timezone == "America/New_York"


def test_an_unknown_code_is_refused_naming_where_the_list_comes_from(home: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config({"EOD_EXCHANGES": "US,VI", "EOD_HOME": str(home)}, today=TODAY)
    text = str(err.value)
    assert text.startswith("EOD_EXCHANGES: unknown exchange code 'VI'. Known codes: AS, AU")
    assert "'VI' is not in the built-in list of 29 and not in the stored EODHD exchanges list" \
        in text
    assert f"cache file {home / CACHE_FILE_NAME}: absent or unreadable" in text
    assert "materialize the `exchanges` and `exchange_details` assets first" in text
    assert "python -m eod_pipeline.markets.fetch VI" in text


def test_a_code_in_the_cache_file_is_configurable(home: Path) -> None:
    write_cache(_listed("VI"), _details("VI"))
    config = load_config({"EOD_EXCHANGES": "US,VI:2026-11-02", "EOD_HOME": str(home)},
                         today=TODAY)
    vi = config.exchange("VI").info
    assert (vi.timezone, vi.close, vi.open) == ("Europe/Vienna", dt.time(17, 30), dt.time(9))
    assert vi.data_delay == DEFAULT_DATA_DELAY
    assert (vi.name, vi.currency, vi.operating_mic) == ("VI Exchange", "EUR", "XVI")
    # 17:30 Vienna (CET) + 3 h = 19:30 UTC.
    assert vi.available_at(dt.date(2026, 11, 20)) == dt.datetime(2026, 11, 20, 19, 30,
                                                                 tzinfo=dt.UTC)


def test_writing_the_cache_keeps_exchanges_fetched_before(home: Path) -> None:
    write_cache(_listed("VI"), _details("VI"))
    write_cache(_listed("WAR"), _details("WAR", "Europe/Warsaw", "17:00:00"))
    cached = read_cache(home / CACHE_FILE_NAME)
    assert cached is not None and set(cached) == {"VI", "WAR"}
    assert exchange_info("WAR").timezone == "Europe/Warsaw"


def test_an_exchange_trading_sunday_to_thursday_is_refused_with_the_reason(home: Path) -> None:
    write_cache(_listed("TA"), _details("TA", "Asia/Jerusalem", days="Sun,Mon,Tue,Wed,Thu"))
    with pytest.raises(ValueError, match=r"TA is stored but it trades on Sun,Mon,Tue,Wed,Thu, "
                                         r"and the pipeline's partitions are Mon-Fri only"):
        exchange_info("TA")


def test_the_warehouse_is_read_first_and_names_a_listed_code_without_hours(
        home: Path, warehouse_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    # The cache says Vienna closes at 17:30; the warehouse (fresher, shared) says 17:35.
    write_cache(_listed("VI"), _details("VI"))
    with psycopg.connect(warehouse_url) as conn:
        write_frames(conn, EXCHANGES, _listed("VI", "WAR"))
        write_frames(conn, EXCHANGE_DETAILS, _details("VI", close="17:35:00"))
        conn.commit()
    assert exchange_info("VI").close == dt.time(17, 35)
    with pytest.raises(ValueError) as err:
        exchange_info("WAR")
    assert ("WAR is listed but its trading hours are not stored (the `exchange_details` "
            "asset)") in str(err.value)
    assert "the warehouse postgresql://" in str(err.value)


def test_an_unreachable_warehouse_falls_back_to_the_cache_file(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOD_DATABASE_URL", "postgresql://eod:pw@127.0.0.1:1/eod")
    write_cache(_listed("VI"), _details("VI"))
    assert exchange_info("VI").timezone == "Europe/Vienna"
    with pytest.raises(ValueError) as err:
        exchange_info("NOPE")
    assert "the warehouse postgresql://eod@127.0.0.1:1/eod: not reachable" in str(err.value)
    assert "pw" not in str(err.value)


def test_the_fetch_command_makes_a_code_configurable_outside_dagster(
        home: Path, warehouse_url: str, simulator, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from eod_pipeline.markets.fetch import main
    from eod_pipeline_tests.fixtures.simulator import SIM_TOKEN

    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("EODHD_BASE_URL", simulator.base_url)
    monkeypatch.setenv("EODHD_API_TOKEN", SIM_TOKEN)
    with pytest.raises(ValueError, match="not in the stored EODHD exchanges list"):
        exchange_info("WAR")
    assert main(["war", "NOPE"]) == 0
    out = capsys.readouterr()
    assert "stored 1 exchanges' trading hours in the warehouse" in out.out
    assert "NOPE: not stored: ExchangeNotFoundError" in out.err
    assert SIM_TOKEN not in out.out + out.err
    assert exchange_info("WAR").timezone == "Europe/Warsaw"
    # The cache file alone knows it too (the warehouse gone).
    monkeypatch.setenv("EOD_DATABASE_URL", "postgresql://eod@127.0.0.1:1/eod")
    assert exchange_info("WAR").close == dt.time(17)
