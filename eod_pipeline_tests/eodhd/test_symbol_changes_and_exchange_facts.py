"""The client's ticker-change endpoint (cost 5) and the exchange facts any EODHD code
needs to be configured, against the simulator over loopback."""

from __future__ import annotations

import datetime as dt

import polars as pl

from eod_pipeline.eodhd import ENDPOINT_COST, request_cost, schemas
from eod_pipeline.eodhd import parsing as P
from eod_pipeline.markets.fetch import ExchangeFacts, fetch_exchange_facts
from eod_pipeline.markets.stored import info_from_facts
from eod_pipeline.warehouse.tables import EXCHANGE_DETAILS
from eod_pipeline_tests.eodhd.helpers import SIM_DAY, client_for, run
from eod_pipeline_tests.fixtures.simulator import SimulatorFactory
from eodhd_simulator.renames import Rename


def test_symbol_change_history_costs_5_a_request() -> None:
    assert ENDPOINT_COST["symbol-change-history"] == 5
    assert request_cost("symbol-change-history", 200) == 5


def test_symbol_changes_are_parsed_into_the_schema(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(renames=(Rename("US", "BF-B", "BFX", dt.date(2024, 3, 4),
                                            "Brown-Forman Corp"),))

    async def go() -> tuple[pl.DataFrame, pl.DataFrame, dict]:
        async with client_for(sim) as client:
            everything = await client.symbol_changes(dt.date(2022, 7, 22), SIM_DAY)
            none = await client.symbol_changes(dt.date(2025, 1, 1), SIM_DAY)
            return everything, none, client.usage.as_dict()

    everything, none, usage = run(go())
    assert everything.schema == schemas.SYMBOL_CHANGES
    assert everything.to_dicts() == [{"exchange": "US", "old_symbol": "BF-B",
                                      "new_symbol": "BFX", "date": dt.date(2024, 3, 4),
                                      "company_name": "Brown-Forman Corp"}]
    assert none.is_empty() and none.schema == schemas.SYMBOL_CHANGES
    assert usage["calls_spent"] == 10
    assert sim.stats()["credits"][sim.token][SIM_DAY.isoformat()] == 10


def test_a_bad_row_keeps_the_others() -> None:
    body = (b'[{"exchange":"US","old_symbol":"FB","new_symbol":"META",'
            b'"company_name":"Meta Platforms Inc","effective":"2022-06-09"},'
            b'{"exchange":"US","old_symbol":"X","new_symbol":"Y","effective":"soon"}]')
    frame = P.parse_table(body, P.SYMBOL_CHANGES_SPEC)
    assert frame["date"].to_list() == [dt.date(2022, 6, 9), None]


def test_exchange_facts_of_codes_beyond_the_registry(simulator_factory: SimulatorFactory
                                                     ) -> None:
    sim = simulator_factory()

    async def go() -> tuple[ExchangeFacts, dict]:
        async with client_for(sim) as client:
            facts = await fetch_exchange_facts(client, ["VI", "WAR", "NOPE"], SIM_DAY)
            return facts, client.usage.as_dict()

    facts, usage = run(go())
    assert usage["calls_spent"] == 4  # the list, then one details call per code
    assert facts.details.schema == EXCHANGE_DETAILS.polars_schema
    rows = {r["code"]: r for r in facts.details.to_dicts()}
    assert set(rows) == {"VI", "WAR"}
    assert (rows["VI"]["timezone"], rows["VI"]["open"], rows["VI"]["close"],
            rows["VI"]["working_days"]) == ("Europe/Vienna", "09:00:00", "17:30:00",
                                            "Mon,Tue,Wed,Thu,Fri")
    assert facts.failures["NOPE"].startswith("ExchangeNotFoundError")
    listed = {r["code"]: r for r in facts.listed.to_dicts()}
    info, why = info_from_facts("WAR", listed["WAR"], rows["WAR"])
    assert info is not None, why
    assert (info.timezone, info.close, info.currency, info.operating_mic) == (
        "Europe/Warsaw", dt.time(17), "PLN", "XWAR")
