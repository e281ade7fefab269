"""One exchange registry: the simulator serves the exchanges the pipeline schedules by."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from eod_pipeline.markets.calendar import newest_available_day
from eod_pipeline.markets.registry import EXCHANGES, ExchangeInfo, exchange_info
from eod_pipeline.markets.stored import info_from_facts
from eodhd_simulator import SimulatorConfig, Universe
from eodhd_simulator.calendar import EXCHANGES as SIMULATED

BUILT_IN = [x for x in SIMULATED if x.code in EXCHANGES]
BEYOND = [x for x in SIMULATED if x.code not in EXCHANGES]


def pipeline_view(simulated: ExchangeInfo) -> ExchangeInfo:
    """What the pipeline schedules `simulated` by: the built-in record, or the one it
    builds from the exchange's stored details (as the simulator's answers give them)."""
    if simulated.code in EXCHANGES:
        return EXCHANGES[simulated.code]
    details = {"timezone": simulated.timezone, "close": simulated.close.strftime("%H:%M:%S"),
               "working_days": "Mon,Tue,Wed,Thu,Fri"}
    info, why = info_from_facts(simulated.code, None, details)
    assert info is not None, why
    return info


def test_the_simulator_serves_exchanges_beyond_the_registry() -> None:
    assert BEYOND, "the simulator must serve a real EODHD exchange outside the registry"


@pytest.mark.parametrize("simulated", BUILT_IN, ids=lambda x: x.code)
def test_simulated_exchanges_are_the_registry_records(simulated: ExchangeInfo) -> None:
    shared = exchange_info(simulated.code)
    assert isinstance(simulated, ExchangeInfo)
    for f in dataclasses.fields(ExchangeInfo):
        assert getattr(simulated, f.name) == getattr(shared, f.name), f.name


def test_the_pipeline_and_the_simulator_agree_on_when_a_day_is_out() -> None:
    """Over two weeks, hour by hour: the pipeline's newest available day (given the
    simulator's holidays) is the day the simulator serves as newest."""
    universe = Universe(SimulatorConfig())
    start = datetime(2026, 11, 16, tzinfo=UTC)
    for info in SIMULATED:
        cal = universe.calendar(info.code)
        holidays = set(universe.exchange_info(info.code).holidays)
        for hour in range(14 * 24):
            now = start + timedelta(hours=hour)
            assert newest_available_day(pipeline_view(info), now, holidays) == (
                cal.available_through(now)
            ), (info.code, now)


def test_listing_facts_of_a_simulated_exchange() -> None:
    lse = exchange_info("LSE")
    assert lse.currency == "GBX"  # prices in pence
    assert lse.exchange_currency == "GBP"  # as EODHD's exchanges list reports it
    assert exchange_info("FOREX").operating_mic is None
    assert exchange_info("US").available_at(date(2026, 11, 20)) == datetime(
        2026, 11, 20, 21, 15, tzinfo=UTC
    )
