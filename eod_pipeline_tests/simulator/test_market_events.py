"""Events a test places in the simulated market: late corrections, trading halts, and
splits and dividends on chosen days; and the cheap day-by-day clock walk that issue 10's
simulated month relies on. Every check goes over HTTP and against `Universe`, which must
agree, since tests compute their expectations from the universe."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SimulatorFactory
from eod_pipeline_tests.simulator.helpers import fetch, ticker_path
from eodhd_simulator import (
    Correction,
    Halt,
    InjectedDividend,
    InjectedSplit,
    SimulatorServer,
    control,
)

#: A liquid US ticker present all through the simulated years (a SPECIAL_SYMBOLS entry).
CODE = "BRK-B"
#: Wednesday and Thursday before SIM_NOW (Friday 2026-11-20).
BAR_DAY = date(2026, 11, 18)
NEXT_DAY = date(2026, 11, 19)


def _after_data_out(sim: SimulatorServer, day: date) -> None:
    """Set the clock just after `day`'s US data is out."""
    now = sim.publish(day, ["US"])
    assert now == sim.universe.calendar("US").data_out_at(day) + timedelta(minutes=1)
    assert sim.universe.available_through("US", now) == day


def _eod_row(sim: SimulatorServer, code: str, day: date) -> dict[str, Any]:
    rows = fetch(sim, ticker_path("eod", code, "US"), **{"from": day.isoformat()}).json()
    return next(r for r in rows if r["date"] == day.isoformat())


def _bulk_row(sim: SimulatorServer, code: str, day: date) -> dict[str, Any]:
    rows = fetch(sim, "/eod-bulk-last-day/US", date=day.isoformat()).json()
    return next(r for r in rows if r["code"] == code)


def _universe_row(sim: SimulatorServer, code: str, day: date) -> dict[str, Any]:
    as_of = sim.state.now()
    frame = sim.universe.history("US", code, day, day, as_of=as_of)
    bulk = sim.universe.bulk("US", day, as_of=as_of).filter(code=code)
    row = frame.row(0, named=True)
    assert bulk.row(0, named=True)["volume"] == row["volume"]
    assert bulk.row(0, named=True)["close"] == row["close"]
    return row


def test_correction_is_invisible_before_publication(simulator: SimulatorServer) -> None:
    original = simulator.universe.history("US", CODE, BAR_DAY, BAR_DAY, as_of=SIM_NOW).row(
        0, named=True
    )
    # Injected at run time, published by default with the next trading day's data.
    simulator.configure(corrections=[Correction("US", CODE, BAR_DAY, "volume", factor=1.25)])
    (fix,) = simulator.universe.corrections("US", CODE)
    assert fix.published_on == NEXT_DAY

    _after_data_out(simulator, BAR_DAY)
    for row in (
        _eod_row(simulator, CODE, BAR_DAY),
        _bulk_row(simulator, CODE, BAR_DAY),
        _universe_row(simulator, CODE, BAR_DAY),
    ):
        assert row["volume"] == original["volume"]

    _after_data_out(simulator, NEXT_DAY)
    revised = round(original["volume"] * 1.25)
    for row in (
        _eod_row(simulator, CODE, BAR_DAY),
        _bulk_row(simulator, CODE, BAR_DAY),
        _universe_row(simulator, CODE, BAR_DAY),
    ):
        assert row["volume"] == revised
        assert row["close"] == original["close"]
    # Other bars and other tickers are untouched.
    assert (
        _eod_row(simulator, CODE, NEXT_DAY)["volume"]
        == (simulator.universe.history("US", CODE, NEXT_DAY, NEXT_DAY, as_of=SIM_NOW)["volume"][0])
    )


def test_close_correction_with_a_later_publication(simulator: SimulatorServer) -> None:
    published = date(2026, 11, 20)
    simulator.configure(
        corrections=[
            Correction("US", CODE, BAR_DAY, "close", value=123.4567, published_on=published)
        ]
    )
    _after_data_out(simulator, NEXT_DAY)
    assert _eod_row(simulator, CODE, BAR_DAY)["close"] != 123.4567
    _after_data_out(simulator, published)
    row = _eod_row(simulator, CODE, BAR_DAY)
    assert row["close"] == 123.4567
    # adjusted_close is derived from the revised close.
    later = simulator.universe.history("US", CODE, BAR_DAY, published, as_of=SIM_NOW)
    factor = later["adjusted_close"][0] / later["close"][0]
    assert row["adjusted_close"] == pytest.approx(123.4567 * factor, abs=1e-4)
    assert _bulk_row(simulator, CODE, BAR_DAY)["close"] == 123.4567


def test_corrections_over_the_control_endpoint(simulator: SimulatorServer) -> None:
    """A simulator in another process takes events as JSON (dates as ISO text)."""
    payload = {
        "corrections": [
            {"exchange": "US", "code": CODE, "date": "2026-11-18", "field": "volume", "value": 7}
        ]
    }
    answer = control(simulator.base_url, "config", payload)
    assert answer["corrections"][0]["date"] == "2026-11-18"
    assert _eod_row(simulator, CODE, BAR_DAY)["volume"] == 7
    bad = {
        "halts": [{"exchange": "US", "code": "NOPE", "start": "2026-11-02", "end": "2026-11-03"}]
    }
    with pytest.raises(Exception, match="400"):
        control(simulator.base_url, "config", bad)
    # A refused change leaves the earlier events in place.
    assert _eod_row(simulator, CODE, BAR_DAY)["volume"] == 7


def test_halt_leaves_no_rows_in_its_span(simulator_factory: SimulatorFactory) -> None:
    code, start, end = "O'REILLY", date(2026, 11, 2), date(2026, 11, 6)
    sim = simulator_factory(halts=[Halt("US", code, start, end)])
    uni = sim.universe
    rows = fetch(sim, ticker_path("eod", code, "US"), **{"from": "2026-10-26"}).json()
    dates = [date.fromisoformat(r["date"]) for r in rows]
    assert not [d for d in dates if start <= d <= end]
    assert date(2026, 10, 30) in dates and date(2026, 11, 9) in dates
    for day in uni.trading_days("US", start, end):
        bulk = {r["code"] for r in fetch(sim, "/eod-bulk-last-day/US", date=day.isoformat()).json()}
        assert code not in bulk and CODE in bulk  # the rest of the exchange trades
        assert code not in set(uni.bulk("US", day, as_of=SIM_NOW)["code"])
    assert uni.history("US", code, start, end, as_of=SIM_NOW).is_empty()


def test_injected_split_and_dividend(simulator_factory: SimulatorFactory) -> None:
    code = "BF-B"
    split_day, div_day = date(2026, 11, 10), date(2026, 10, 15)
    sim = simulator_factory(
        injected_splits=[InjectedSplit("US", code, split_day, 3, 1)],
        injected_dividends=[InjectedDividend("US", code, div_day, fraction=0.03)],
    )
    uni = sim.universe
    cal = uni.calendar("US")
    history = uni.history("US", code, as_of=SIM_NOW)
    closes = dict(zip(history["date"], history["close"], strict=True))

    splits = fetch(sim, ticker_path("splits", code, "US")).json()
    assert {"date": "2026-11-10", "split": "3.000000/1.000000"} in splits
    divs = {d["date"]: d for d in fetch(sim, ticker_path("div", code, "US")).json()}
    prev_close = closes[cal.previous(div_day - timedelta(days=1))]
    div = divs[div_day.isoformat()]
    assert div["unadjustedValue"] == round(prev_close * 0.03, 4)
    assert div["value"] == pytest.approx(div["unadjustedValue"] / 3, abs=1e-4)  # split later
    # The raw price jumps on the split's ex-date.
    ratio = closes[split_day] / closes[cal.previous(split_day - timedelta(days=1))]
    assert 0.75 / 3 < ratio < 1.3 / 3

    # Each action, once published, rewrites every earlier adjusted_close by its factor.
    for day, factor in ((div_day, 1 - div["unadjustedValue"] / prev_close), (split_day, 1 / 3)):
        prev_day = cal.previous(day - timedelta(days=1))
        assert prev_day is not None
        _after_data_out(sim, prev_day)
        before = fetch(sim, ticker_path("eod", code, "US"), to=prev_day.isoformat()).json()
        assert day.isoformat() not in {
            r["date"] for r in fetch(sim, ticker_path("splits", code, "US")).json()
        } | {r["date"] for r in fetch(sim, ticker_path("div", code, "US")).json()}
        _after_data_out(sim, day)
        after = fetch(sim, ticker_path("eod", code, "US"), to=prev_day.isoformat()).json()
        assert [r["close"] for r in before] == [r["close"] for r in after]
        for old, new in list(zip(before, after, strict=True))[-100:]:
            assert new["adjusted_close"] == pytest.approx(old["adjusted_close"] * factor, rel=2e-3)


def test_bad_events_are_refused(simulator: SimulatorServer) -> None:
    with pytest.raises(ValueError, match="not a trading day"):
        simulator.configure(injected_splits=[InjectedSplit("US", CODE, date(2026, 11, 26))])
    with pytest.raises(ValueError, match="inside a halt"):
        simulator.configure(
            halts=[Halt("US", CODE, date(2026, 11, 2), date(2026, 11, 6))],
            injected_dividends=[InjectedDividend("US", CODE, date(2026, 11, 4))],
        )
    with pytest.raises(ValueError, match="exactly one"):
        Correction("US", CODE, BAR_DAY, "volume", value=1, factor=2)
    with pytest.raises(ValueError, match="field"):
        Correction("US", CODE, BAR_DAY, "adjusted_close", value=1)
    assert simulator.config.halts == () and simulator.config.injected_splits == ()


def test_clock_walk_day_by_day(simulator: SimulatorServer) -> None:
    """Thirty US trading days (Thanksgiving included), one bulk call per day: each day's
    answer is that day's bars, equal to the universe's, and a correction injected on the
    way shows from its publication on."""
    uni = simulator.universe
    days = uni.trading_days("US", date(2026, 10, 20), date(2026, 12, 31))[:30]
    assert date(2026, 11, 26) not in days and days[-1] > date(2026, 11, 26)
    fix_day = days[10]
    for k, day in enumerate(days):
        if k == 5:
            simulator.configure(corrections=[Correction("US", CODE, fix_day, "volume", value=42)])
        _after_data_out(simulator, day)
        rows = fetch(simulator, "/eod-bulk-last-day/US").json()
        assert rows and {r["date"] for r in rows} == {day.isoformat()}
        want = uni.bulk("US", day, as_of=simulator.state.now())
        assert {r["code"]: r["volume"] for r in rows} == dict(
            zip(want["code"], want["volume"], strict=True)
        )
        fixed = _universe_row(simulator, CODE, fix_day) if day >= fix_day else None
        if fixed is not None:
            assert (fixed["volume"] == 42) == (day > fix_day)
