"""Exchanges outside the pipeline's built-in registry, served like EODHD serves them: in
the exchanges list, with their time zone and hours in `/exchange-details/`, and their
real holidays (from `exchange_calendars`)."""

from __future__ import annotations

from datetime import date

from eod_pipeline.markets.registry import EXCHANGES as BUILT_IN
from eod_pipeline.markets.stored import DEFAULT_DATA_DELAY
from eod_pipeline_tests.fixtures.simulator import SIM_NOW
from eod_pipeline_tests.simulator.helpers import fetch, history_frame, ticker_path
from eodhd_simulator import SimulatorServer


def test_the_list_has_real_eodhd_exchanges_beyond_the_registry(
        simulator: SimulatorServer) -> None:
    listed = {e["Code"]: e for e in fetch(simulator, "/exchanges-list/").json()}
    beyond = set(listed) - set(BUILT_IN)
    assert {"VI", "WAR"} <= beyond
    assert listed["WAR"] == {"Name": "Warsaw Stock Exchange", "Code": "WAR",
                             "OperatingMIC": "XWAR", "Country": "Poland", "Currency": "PLN",
                             "CountryISO2": "PL", "CountryISO3": "POL"}


def test_exchange_details_give_zone_hours_and_holidays(simulator: SimulatorServer) -> None:
    vi = fetch(simulator, "/exchange-details/VI",
               **{"from": "2026-12-01", "to": "2026-12-31"}).json()
    assert vi["Timezone"] == "Europe/Vienna"
    hours = vi["TradingHours"]
    # Winter: CET is UTC+1.
    assert (hours["Open"], hours["Close"], hours["OpenUTC"], hours["CloseUTC"]) == (
        "09:00:00", "17:30:00", "08:00:00", "16:30:00")
    assert hours["WorkingDays"] == "Mon,Tue,Wed,Thu,Fri"
    assert [h["Date"] for h in vi["ExchangeHolidays"]] == ["2026-12-24", "2026-12-25",
                                                           "2026-12-31"]
    war = fetch(simulator, "/exchange-details/WAR",
                **{"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert war["Timezone"] == "Europe/Warsaw"
    # WAR serves the map shape of ExchangeHolidays (the contract documents both).
    assert war["ExchangeHolidays"] == {"0": {"Holiday": "National Independence Day",
                                             "Date": "2026-11-11", "Type": "official"}}


def test_bars_skip_the_holiday_and_are_out_after_the_assumed_delay(
        simulator: SimulatorServer) -> None:
    uni = simulator.universe
    code = uni.symbols("WAR", as_of=date(2026, 11, 20), delisted=False)[0].code
    rows = fetch(simulator, ticker_path("eod", code, "WAR"),
                 **{"from": "2026-11-09", "to": "2026-11-13"}).json()
    assert [r["date"] for r in rows] == ["2026-11-09", "2026-11-10", "2026-11-12",
                                         "2026-11-13"]
    assert history_frame(rows).equals(
        uni.history("WAR", code, date(2026, 11, 9), date(2026, 11, 13), SIM_NOW))
    # The simulator publishes an exchange it has no registry record for at the delay
    # the pipeline assumes for such exchanges, so the two agree on when a day is out.
    assert uni.exchange_info("WAR").data_delay == DEFAULT_DATA_DELAY
