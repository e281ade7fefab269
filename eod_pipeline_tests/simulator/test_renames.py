"""Ticker changes in the simulator: renames continue a company's history under a new
code, reused codes rename the delisted holder `_old`, and `/symbol-change-history`
reports the changes as EODHD does (US only, since 2022-07-22, 5 calls)."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest

from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SimulatorFactory
from eod_pipeline_tests.simulator.helpers import fetch, history_frame, ticker_path
from eodhd_simulator import SimulatorConfig, Universe
from eodhd_simulator.renames import Rename

#: The effective date of the rename the tests make (a Monday).
EFFECTIVE = date(2024, 3, 4)
REUSED_ON = date(2025, 2, 3)


def _codes() -> tuple[str, str, str, str]:
    """From the default US universe: two companies trading through the test's dates, a
    code delisted before REUSED_ON, and an LSE company."""
    uni = Universe(SimulatorConfig(now=SIM_NOW))
    steady = [s.code for s in uni.symbols("US")
              if s.type == "Common Stock" and s.delisted_on is None
              and s.listed_on < date(2014, 1, 1) and "-" not in s.code and "_" not in s.code]
    gone = next(s.code for s in uni.symbols("US")
                if s.delisted_on is not None and date(2015, 1, 1) < s.delisted_on < REUSED_ON)
    lse = next(s.code for s in uni.symbols("LSE")
               if s.delisted_on is None and s.listed_on < date(2014, 1, 1)
               and s.type == "Common Stock" and s.code.isalpha())
    return steady[3], steady[4], gone, lse


OLD, TAKER, GONE, LSE_OLD = _codes()
RENAMES = (
    Rename("US", OLD, "META", EFFECTIVE, "Meta Platforms Inc"),
    # TAKER takes the code of a delisted company, which becomes GONE_old.
    Rename("US", TAKER, GONE, REUSED_ON),
    Rename("LSE", LSE_OLD, "NEWCO", EFFECTIVE),
    # Before the endpoint's data starts: modelled, never reported.
    Rename("US", "BF-B", "BF-X", date(2020, 6, 1)),
)


@pytest.fixture(scope="module")
def plain() -> Universe:
    return Universe(SimulatorConfig(now=SIM_NOW))


@pytest.fixture(scope="module")
def renamed() -> Universe:
    return Universe(SimulatorConfig(now=SIM_NOW, renames=RENAMES))


def test_a_renamed_history_continues_under_the_new_code(plain: Universe,
                                                         renamed: Universe) -> None:
    whole = plain.history("US", OLD, as_of=SIM_NOW)
    before = renamed.history("US", OLD, as_of=SIM_NOW)
    after = renamed.history("US", "META", as_of=SIM_NOW)
    assert before["date"].max() < EFFECTIVE == after["date"].min()
    raw = ["date", "open", "high", "low", "close", "volume"]
    assert pl.concat([before, after]).select(raw).equals(whole.select(raw))
    # Under the new code the adjusted closes are the company's, as before the change.
    assert after.equals(whole.filter(pl.col("date") >= EFFECTIVE))


def test_symbol_lists_follow_the_rename(renamed: Universe) -> None:
    def listed(day: date, delisted: bool) -> set[str]:
        return {s.code for s in renamed.symbols("US", as_of=day, delisted=delisted)}

    day_before = date(2024, 3, 1)
    assert OLD in listed(day_before, False) and "META" not in listed(day_before, False)
    assert "META" in listed(EFFECTIVE, False) and OLD not in listed(EFFECTIVE, False)
    assert OLD in listed(EFFECTIVE, True)
    meta = renamed.symbol("US", "META")
    assert meta is not None and meta.name == "Meta Platforms Inc"
    assert meta.isin == renamed.symbol("US", OLD).isin  # one company


def test_a_reused_code_renames_the_delisted_holder_old(plain: Universe,
                                                       renamed: Universe) -> None:
    assert renamed.reused_codes == [("US", GONE, f"{GONE}_old")]
    # The delisted company's history, unchanged, under GONE_old ...
    assert renamed.history("US", f"{GONE}_old", as_of=SIM_NOW).equals(
        plain.history("US", GONE, as_of=SIM_NOW))
    # ... and GONE is now the taker's, from the day it took the code.
    taken = renamed.history("US", GONE, as_of=SIM_NOW)
    assert taken["date"].min() == REUSED_ON
    assert taken.equals(plain.history("US", TAKER, REUSED_ON, as_of=SIM_NOW))


def test_the_endpoints_serve_the_renamed_market(simulator_factory: SimulatorFactory,
                                                renamed: Universe) -> None:
    sim = simulator_factory(renames=RENAMES)
    meta = fetch(sim, ticker_path("eod", "META", "US"))
    assert history_frame(meta.json()).equals(renamed.history("US", "META", as_of=SIM_NOW))
    assert fetch(sim, ticker_path("eod", f"{GONE}_old", "US")).status == 200
    codes = {r["Code"] for r in fetch(sim, "/exchange-symbol-list/US").json()}
    gone = {r["Code"] for r in fetch(sim, "/exchange-symbol-list/US", delisted=1).json()}
    assert {"META", GONE} <= codes and {OLD, f"{GONE}_old"} <= gone
    bulk = {r["code"] for r in fetch(sim, "/eod-bulk-last-day/US", date="2024-03-04").json()}
    assert "META" in bulk and OLD not in bulk


def test_symbol_change_history_is_us_only_since_2022_07_22_and_costs_5(
        simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(renames=RENAMES)
    rows = fetch(sim, "/symbol-change-history").json()
    assert rows == [
        {"exchange": "US", "old_symbol": OLD, "new_symbol": "META",
         "company_name": "Meta Platforms Inc", "effective": "2024-03-04"},
        {"exchange": "US", "old_symbol": TAKER, "new_symbol": GONE,
         "company_name": sim.universe.symbol("US", GONE).name, "effective": "2025-02-03"},
    ]
    window = fetch(sim, "/symbol-change-history", **{"from": "2024-01-01", "to": "2024-12-31"})
    assert [r["new_symbol"] for r in window.json()] == ["META"]
    assert fetch(sim, "/user").json()["apiRequests"] == 10
    csv = fetch(sim, "/symbol-change-history", fmt="csv", **{"from": "2024-03-04"})
    assert csv.text.splitlines() == [
        "exchange,old_symbol,new_symbol,company_name,effective",
        f"US,{OLD},META,Meta Platforms Inc,2024-03-04",
        f"US,{TAKER},{GONE},{sim.universe.symbol('US', GONE).name},2025-02-03",
    ]


def test_a_change_dated_after_the_clock_is_not_reported_yet(
        simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(renames=RENAMES, now=SIM_NOW.replace(year=2024, month=3, day=1))
    assert fetch(sim, "/symbol-change-history").json() == []


@pytest.mark.parametrize(("rename", "message"), [
    (Rename("US", "NOSUCH", "X", EFFECTIVE), "no ticker NOSUCH"),
    (Rename("US", OLD, TAKER, EFFECTIVE), f"{TAKER} is held by a listed company"),
    (Rename("US", OLD, "X", date(2010, 1, 4)), f"{OLD} is not trading then"),
    (Rename("NOPE", OLD, "X", EFFECTIVE), "renames on unknown exchanges: ['NOPE']"),
])
def test_impossible_renames_are_refused(rename: Rename, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Universe(SimulatorConfig(now=SIM_NOW, renames=(rename,)))


def test_renames_parse_from_json() -> None:
    config = SimulatorConfig(renames=[{"exchange": "US", "old": "A", "new": "B",
                                       "date": "2024-03-04"}])
    assert config.renames == (Rename("US", "A", "B", EFFECTIVE),)
