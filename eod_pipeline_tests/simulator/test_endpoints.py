"""The endpoints over real HTTP: answers match the Universe, formats and quirks match the
contract (/work/shared/eodhd-api.md)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SimulatorFactory
from eod_pipeline_tests.simulator.helpers import fetch, history_frame, ticker_path
from eodhd_simulator import SimulatorServer

NY = ZoneInfo("America/New_York")


def test_history_matches_universe(simulator: SimulatorServer) -> None:
    reply = fetch(simulator, "/eod/BRK-B.US")
    assert reply.status == 200
    assert reply.headers["Content-Type"].startswith("application/json")
    got = history_frame(reply.json())
    expected = simulator.universe.history("US", "BRK-B", as_of=SIM_NOW)
    assert got.height > 2500
    assert got.equals(expected)


def test_history_range_order_and_encoded_codes(simulator: SimulatorServer) -> None:
    uni = simulator.universe
    for exchange, code in (("LSE", "M&G"), ("US", "O'REILLY"), ("US", "PB&J")):
        path = ticker_path("eod", code, exchange)
        rows = fetch(simulator, path, **{"from": "2024-01-01", "to": "2024-03-31"}).json()
        expected = uni.history(exchange, code, date(2024, 1, 1), date(2024, 3, 31), SIM_NOW)
        assert history_frame(rows).equals(expected)
        desc = fetch(simulator, path, order="d", **{"from": "2024-01-01", "to": "2024-03-31"})
        assert desc.json() == rows[::-1]
    nonascii = next(s.code for s in uni.symbols("XETRA") if not s.code.isascii())
    assert fetch(simulator, ticker_path("eod", nonascii, "XETRA")).status == 200


def test_two_servers_same_seed_same_bytes(simulator_factory: SimulatorFactory) -> None:
    a, b = simulator_factory(), simulator_factory()
    for path in ("/eod/BF-B.US", "/eod-bulk-last-day/LSE", "/exchange-symbol-list/XETRA"):
        assert fetch(a, path).body == fetch(b, path).body


def test_availability_over_http(simulator: SimulatorServer) -> None:
    tuesday = "2026-11-17"
    simulator.set_clock(datetime(2026, 11, 17, 15, 0, tzinfo=NY))
    assert fetch(simulator, "/eod-bulk-last-day/US", date=tuesday).json() == []
    assert fetch(simulator, "/eod/BRK-B.US").json()[-1]["date"] == "2026-11-16"
    default_bulk = fetch(simulator, "/eod-bulk-last-day/US").json()
    assert {r["date"] for r in default_bulk} == {"2026-11-16"}

    simulator.set_clock(datetime(2026, 11, 17, 17, 0, tzinfo=NY))
    bulk = fetch(simulator, "/eod-bulk-last-day/US", date=tuesday).json()
    assert bulk and {r["date"] for r in bulk} == {tuesday}
    assert fetch(simulator, "/eod/BRK-B.US").json()[-1]["date"] == tuesday


def test_bulk_rows_symbols_and_venues(simulator: SimulatorServer) -> None:
    rows = fetch(simulator, "/eod-bulk-last-day/US").json()
    assert set(rows[0]) == {
        "code",
        "exchange_short_name",
        "date",
        "open",
        "high",
        "low",
        "close",
        "adjusted_close",
        "volume",
    }
    expected = simulator.universe.bulk("US", date(2026, 11, 20), SIM_NOW)
    assert len(rows) == expected.height
    assert {r["code"] for r in rows} == set(expected["code"])
    some = fetch(simulator, "/eod-bulk-last-day/LSE", symbols="M&G,BT-A").json()
    assert sorted(r["code"] for r in some) == ["BT-A", "M&G"]
    nasdaq = fetch(simulator, "/eod-bulk-last-day/NASDAQ").json()
    assert 0 < len(nasdaq) < len(rows)
    assert fetch(simulator, "/eod-bulk-last-day/US", date="2026-11-21").json() == []  # Saturday


def test_bulk_splits_and_dividends_shapes(simulator: SimulatorServer) -> None:
    uni = simulator.universe
    found = {"splits": False, "dividends": False}
    for exchange in ("US", "LSE", "XETRA"):
        for s in uni.symbols(exchange):
            for kind, actions in (
                ("splits", uni.splits(exchange, s.code, SIM_NOW)),
                ("dividends", uni.dividends(exchange, s.code, SIM_NOW)),
            ):
                if found[kind] or not actions:
                    continue
                day = actions[-1].date.isoformat()
                rows = fetch(simulator, f"/eod-bulk-last-day/{exchange}", type=kind, date=day)
                row = next(r for r in rows.json() if r["code"] == s.code)
                if kind == "splits":
                    assert set(row) == {"code", "exchange", "date", "split"}
                    assert row["split"] == actions[-1].text
                else:
                    assert set(row) == {
                        "code",
                        "exchange",
                        "date",
                        "dividend",
                        "currency",
                        "declarationDate",
                        "recordDate",
                        "paymentDate",
                        "period",
                        "unadjustedValue",
                    }
                    assert all(isinstance(row[k], str) for k in ("recordDate", "paymentDate"))
                found[kind] = True
    assert all(found.values())


def test_splits_and_div_endpoints(simulator: SimulatorServer) -> None:
    uni = simulator.universe
    for exchange in ("US", "LSE", "XETRA"):
        for s in uni.symbols(exchange):
            splits = uni.splits(exchange, s.code, SIM_NOW)
            divs = uni.dividends(exchange, s.code, SIM_NOW)
            if not (splits and divs):
                continue
            got = fetch(simulator, ticker_path("splits", s.code, exchange)).json()
            assert got == [{"date": x.date.isoformat(), "split": x.text} for x in splits]
            got_divs = fetch(simulator, ticker_path("div", s.code, exchange)).json()
            assert [d["date"] for d in got_divs] == [d.date.isoformat() for d in divs]
            assert [d["unadjustedValue"] for d in got_divs] == [d.value for d in divs]
            assert set(got_divs[0]) == {
                "date",
                "declarationDate",
                "recordDate",
                "paymentDate",
                "period",
                "value",
                "unadjustedValue",
                "currency",
            }
            frame = uni.dividends_frame(exchange, s.code, SIM_NOW)
            assert frame["value"].to_list() == [d["value"] for d in got_divs]
            return
    pytest.fail("no ticker with both splits and dividends")


def test_symbol_list_active_delisted_and_type(simulator: SimulatorServer) -> None:
    active = fetch(simulator, "/exchange-symbol-list/US").json()
    delisted = fetch(simulator, "/exchange-symbol-list/US", delisted=1).json()
    assert set(active[0]) == {"Code", "Name", "Country", "Exchange", "Currency", "Type", "Isin"}
    assert active and delisted
    assert not {r["Code"] for r in active} & {r["Code"] for r in delisted}
    today = SIM_NOW.date()
    infos = {s.code: s for s in simulator.universe.symbols("US")}
    assert all(
        infos[r["Code"]].delisted_on is None or infos[r["Code"]].delisted_on > today for r in active
    )
    assert all(infos[r["Code"]].delisted_on <= today for r in delisted)
    etfs = fetch(simulator, "/exchange-symbol-list/US", type="etf").json()
    assert etfs and {r["Type"] for r in etfs} == {"ETF"}
    assert any(r["Isin"] is None for r in active)


def test_exchanges_list_and_details(simulator: SimulatorServer) -> None:
    exchanges = {e["Code"]: e for e in fetch(simulator, "/exchanges-list/").json()}
    assert exchanges["FOREX"]["OperatingMIC"] is None
    us = fetch(simulator, "/exchange-details/US").json()
    lse = fetch(
        simulator, "/exchange-details/LSE", **{"from": "2026-01-01", "to": "2026-12-31"}
    ).json()
    assert us["Timezone"] == "America/New_York"
    assert us["TradingHours"]["Close"] == "16:00:00"
    assert us["TradingHours"]["CloseUTC"] == "21:00:00"
    assert us["TradingHours"]["WorkingDays"] == "Mon,Tue,Wed,Thu,Fri"
    assert isinstance(us["ExchangeHolidays"], dict)  # map keyed "0", "1", ...
    assert "0" in us["ExchangeHolidays"]
    assert isinstance(lse["ExchangeHolidays"], list)
    assert {h["Date"] for h in lse["ExchangeHolidays"]} >= {"2026-08-31", "2026-12-25"}
    assert us["isOpen"] is False
    simulator.set_clock(datetime(2026, 11, 20, 11, 0, tzinfo=NY))
    assert fetch(simulator, "/exchange-details/US").json()["isOpen"] is True


def test_csv_when_fmt_is_absent(simulator: SimulatorServer) -> None:
    reply = fetch(simulator, "/eod/BRK-B.US", fmt="csv", **{"from": "2026-11-02"})
    assert reply.headers["Content-Type"].startswith("text/csv")
    lines = reply.text.splitlines()
    assert lines[0] == "Date,Open,High,Low,Close,Adjusted_close,Volume"
    rows = list(csv.DictReader(io.StringIO(reply.text)))
    json_rows = fetch(simulator, "/eod/BRK-B.US", **{"from": "2026-11-02"}).json()
    assert [r["Date"] for r in rows] == [r["date"] for r in json_rows]
    assert [float(r["Adjusted_close"]) for r in rows] == [r["adjusted_close"] for r in json_rows]
    bulk = fetch(simulator, "/eod-bulk-last-day/US", fmt="csv")
    assert bulk.text.splitlines()[0] == "Code,Ex,Date,Open,High,Low,Close,Adjusted_close,Volume"
    assert len(bulk.text.splitlines()) == 1 + len(fetch(simulator, "/eod-bulk-last-day/US").json())


def test_adjusted_close_rewrite_over_http(simulator: SimulatorServer) -> None:
    uni = simulator.universe
    for s in uni.symbols("US"):
        splits = [x for x in uni.splits("US", s.code, SIM_NOW) if x.date.year >= 2018]
        if not splits:
            continue
        day = splits[0].date
        cal = uni.calendar("US")
        prev_day = cal.previous(day - timedelta(days=1))
        assert prev_day is not None
        path = ticker_path("eod", s.code, "US")
        simulator.set_clock(cal.data_out_at(prev_day) + timedelta(minutes=5))
        before = fetch(simulator, path, to=prev_day.isoformat()).json()
        simulator.set_clock(cal.data_out_at(day) + timedelta(minutes=5))
        after = fetch(simulator, path, to=prev_day.isoformat()).json()
        assert [r["close"] for r in before] == [r["close"] for r in after]
        ratio = after[0]["adjusted_close"] / before[0]["adjusted_close"]
        assert ratio == pytest.approx(splits[0].factor, rel=1e-3)
        assert before[-1]["adjusted_close"] == before[-1]["close"]
        assert after[-1]["adjusted_close"] != after[-1]["close"]
        return
    pytest.fail("no US split since 2018")


def test_free_plan_rows_carry_warning(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(free_tokens=frozenset({"free-token"}))
    rows = fetch(sim, "/eod/BRK-B.US", token="free-token").json()
    assert rows and all("warning" in r for r in rows)
    assert date.fromisoformat(rows[0]["date"]) >= SIM_NOW.date() - timedelta(days=366)
    assert fetch(sim, "/user", token="free-token").json()["dailyRateLimit"] == 20
