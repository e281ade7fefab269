"""The simulator's exchange calendars come from `exchange_calendars`, and, like EODHD,
`/exchange-details/` announces only the holidays in a window around today, while the price
answers follow the full calendar (issue 10, "Proof": real calendars in the simulator)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from eod_pipeline_tests.fixtures.simulator import SIM_NOW
from eod_pipeline_tests.simulator.helpers import fetch
from eodhd_simulator import SimulatorConfig, SimulatorServer, Universe
from eodhd_simulator.calendar import DETAILS_WINDOW

NY = ZoneInfo("America/New_York")

#: US holidays the old hand rules lacked (and served bars on), plus Thanksgiving.
US_HOLIDAYS_2024 = {
    date(2024, 1, 15): "Martin Luther King",
    date(2024, 2, 19): "President",
    date(2024, 5, 27): "Memorial",
    date(2024, 6, 19): "Juneteenth",
    date(2024, 9, 2): "Labor",
    date(2024, 11, 28): "Thanksgiving",
}
#: Friday after Thanksgiving: NYSE trades until 13:00 New York time.
BLACK_FRIDAY_2024 = date(2024, 11, 29)


@pytest.fixture(scope="module")
def universe() -> Universe:
    return Universe(SimulatorConfig(now=SIM_NOW))


@pytest.mark.parametrize("day", sorted(US_HOLIDAYS_2024))
def test_us_holidays_have_no_rows(simulator: SimulatorServer, day: date) -> None:
    uni = simulator.universe
    assert US_HOLIDAYS_2024[day] in uni.exchange_info("US").holidays[day]
    assert not uni.calendar("US").is_trading_day(day)
    assert uni.bulk("US", day, as_of=SIM_NOW).is_empty()
    assert fetch(simulator, "/eod-bulk-last-day/US", date=day.isoformat()).json() == []
    history = fetch(simulator, "/eod/BRK-B.US", **{"from": "2024-01-01", "to": "2024-12-31"})
    dates = {r["date"] for r in history.json()}
    assert dates and day.isoformat() not in dates


def test_us_early_close_trades(simulator: SimulatorServer) -> None:
    uni = simulator.universe
    day = BLACK_FRIDAY_2024
    assert uni.exchange_info("US").early_closes[day][1] == time(13, 0)
    rows = fetch(simulator, "/eod-bulk-last-day/US", date=day.isoformat()).json()
    assert rows and {r["date"] for r in rows} == {day.isoformat()}
    assert len(rows) == uni.bulk("US", day, as_of=SIM_NOW).height
    # isOpen follows the early close.
    simulator.set_clock(datetime(2024, 11, 29, 12, 30, tzinfo=NY))
    assert fetch(simulator, "/exchange-details/US").json()["isOpen"] is True
    simulator.set_clock(datetime(2024, 11, 29, 13, 30, tzinfo=NY))
    assert fetch(simulator, "/exchange-details/US").json()["isOpen"] is False


def test_every_exchange_holiday_is_a_weekday_without_rows(universe: Universe) -> None:
    for info in universe.exchanges():
        cal = universe.calendar(info.code)
        assert all(d.weekday() < 5 for d in info.holidays)
        assert not set(info.holidays) & set(cal.days)
        assert not set(info.early_closes) & set(info.holidays)
        assert set(info.early_closes) <= set(cal.days)
    # Calendars reach from before history_start to past the clock's year.
    us = universe.calendar("US")
    assert us.days[0] <= universe.history_start
    assert us.days[-1].year >= SIM_NOW.year + 1


def _listed(details: dict) -> list[str]:
    hol = details["ExchangeHolidays"]
    return [h["Date"] for h in (hol.values() if isinstance(hol, dict) else hol)]


@pytest.mark.parametrize("exchange", ["US", "LSE", "XETRA"])
def test_details_announce_only_the_window(simulator: SimulatorServer, exchange: str) -> None:
    uni = simulator.universe
    start, end = uni.details_window(exchange, SIM_NOW)
    today = SIM_NOW.astimezone(uni.exchange_info(exchange).tz).date()  # Berlin: Saturday
    assert (start, end) == (today - DETAILS_WINDOW, today + DETAILS_WINDOW)
    listed = _listed(fetch(simulator, f"/exchange-details/{exchange}").json())
    assert listed == [d.isoformat() for d, _ in uni.holidays(exchange, start, end)]
    assert listed
    # Older holidays are real (no bars) but unannounced.
    unannounced = uni.holidays(exchange, date(2024, 1, 1), start - DETAILS_WINDOW)
    assert unannounced
    assert not {d.isoformat() for d, _ in unannounced} & set(listed)
    for day, _ in unannounced:
        assert uni.bulk(exchange, day, as_of=SIM_NOW).is_empty()
    # `from`/`to` widen the window.
    wide = _listed(
        fetch(
            simulator, f"/exchange-details/{exchange}", **{"from": "2024-01-01", "to": "2024-12-31"}
        ).json()
    )
    assert wide == [
        d.isoformat() for d, _ in uni.holidays(exchange, date(2024, 1, 1), date(2024, 12, 31))
    ]


def test_window_moves_with_the_clock(simulator: SimulatorServer) -> None:
    """Walking the clock forward announces holidays that were outside the window."""
    thanksgiving_2027 = date(2027, 11, 25)
    assert thanksgiving_2027.isoformat() not in _listed(
        fetch(simulator, "/exchange-details/US").json()
    )
    simulator.set_clock(datetime(2027, 6, 1, 12, tzinfo=UTC))
    assert thanksgiving_2027.isoformat() in _listed(fetch(simulator, "/exchange-details/US").json())


def test_clock_past_the_calendars_is_refused(simulator: SimulatorServer) -> None:
    last = simulator.universe.last_year
    with pytest.raises(ValueError, match="past the simulated calendars"):
        simulator.set_clock(datetime(last + 1, 1, 5, tzinfo=UTC))
