"""Every endpoint against the simulator over loopback: exact schemas, exact values.

The simulator's universe says what each answer must contain (`sim.universe`), so the
tests compare whole frames, not just shapes.
"""

from __future__ import annotations

import datetime as dt
import urllib.request

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.eodhd import (
    EodhdClient,
    ExchangeNotFoundError,
    InsufficientQuotaError,
    TickerNotFoundError,
    schemas,
)
from eod_pipeline.eodhd import parsing as P
from eod_pipeline_tests.eodhd.helpers import SIM_DAY, SIM_NOW, client_for, run, settings_for
from eodhd_simulator import SimulatorServer

#: Codes that must survive URL encoding: &, ', -, non-ASCII (the contract).
SPECIAL = [
    ("US", "BRK-B"),
    ("US", "O'REILLY"),
    ("US", "PB&J"),
    ("LSE", "M&G"),
    ("LSE", "L&GX"),
    ("XETRA", "MÜV2"),
    ("XETRA", "SGE"),
]


def test_exchanges(simulator: SimulatorServer) -> None:
    async def go() -> pl.DataFrame:
        async with client_for(simulator) as client:
            return await client.exchanges()

    df = run(go())
    assert df.schema == schemas.EXCHANGES
    expected = {e.code for e in simulator.universe.exchanges()}
    assert set(df["code"]) == expected
    virtual = df.filter(pl.col("operating_mic").is_null())
    assert virtual.height >= 1  # virtual exchanges have OperatingMIC null


def test_symbols_listed_delisted_and_all(simulator: SimulatorServer) -> None:
    async def go() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        async with client_for(simulator) as client:
            listed = await client.symbols("US")
            gone = await client.symbols("US", delisted=True)
            both = await client.all_symbols("US")
            return listed, gone, both

    listed, gone, both = run(go())
    uni = simulator.universe
    for frame, flag in ((listed, False), (gone, True)):
        assert frame.schema == schemas.SYMBOLS
        assert frame["delisted"].to_list() == [flag] * frame.height
        want = {s.code for s in uni.symbols("US", as_of=SIM_DAY, delisted=flag)}
        assert set(frame["code"]) == want
    assert both.height == listed.height + gone.height
    assert_frame_equal(both.filter(~pl.col("delisted")), listed)
    # Null ISIN survives as null; venues are the real US venues.
    oreilly = listed.filter(pl.col("code") == "O'REILLY").row(0, named=True)
    assert oreilly["isin"] is None
    assert set(listed["venue"]) <= {
        "NASDAQ",
        "NYSE",
        "NYSE ARCA",
        "NYSE MKT",
        "BATS",
        "AMEX",
        "OTC",
        "OTCQX",
        "OTCQB",
        "PINK",
        "OTCMKTS",
    }


@pytest.mark.parametrize("exchange", ["US", "LSE", "XETRA"])
def test_exchange_details_both_holiday_forms(simulator: SimulatorServer, exchange: str) -> None:
    start, end = dt.date(2026, 1, 1), dt.date(2026, 12, 31)

    async def go():  # type: ignore[no-untyped-def]
        async with client_for(simulator) as client:
            return await client.exchange_details(exchange, start, end)

    details = run(go())
    info = simulator.universe.exchange_info(exchange)
    assert details.code == exchange
    assert details.timezone == info.timezone
    assert details.open_local == info.open_time
    assert details.close_local == info.close_time
    assert details.working_days == ("Mon", "Tue", "Wed", "Thu", "Fri")
    assert details.holidays.schema == schemas.HOLIDAYS
    want = simulator.universe.holidays(exchange, start, end)
    assert details.holidays["date"].to_list() == [d for d, _ in want]
    assert details.holidays["holiday"].to_list() == [n for _, n in want]
    assert details.holidays.height > 0
    # US and XETRA answer the map form, LSE the list form (both documented).
    assert info.holidays_shape in ("map", "list")


@pytest.mark.parametrize(("exchange", "code"), SPECIAL)
def test_history_round_trips_special_codes(
    simulator: SimulatorServer, exchange: str, code: str
) -> None:
    start, end = dt.date(2020, 1, 1), dt.date(2026, 11, 20)

    async def go() -> pl.DataFrame:
        async with client_for(simulator) as client:
            return await client.eod_history(exchange, code, start, end)

    df = run(go())
    assert df.schema == schemas.EOD_HISTORY
    want = simulator.universe.history(exchange, code, start, end, as_of=SIM_NOW)
    assert df.height > 1000
    assert_frame_equal(df, want)


def test_history_without_range_and_unknown_ticker(simulator: SimulatorServer) -> None:
    async def go() -> pl.DataFrame:
        async with client_for(simulator) as client:
            full = await client.eod_history("US", "BF-B")
            with pytest.raises(TickerNotFoundError) as info:
                await client.eod_history("US", "NOPE&X")
            assert info.value.ticker == "NOPE&X.US"
            with pytest.raises(ExchangeNotFoundError):
                await client.symbols("NOWHERE")
            assert client.usage.calls_spent == 3  # 404s still cost a call
            return full

    full = run(go())
    assert_frame_equal(full, simulator.universe.history("US", "BF-B", as_of=SIM_NOW))


def test_bulk_eod_all_and_with_symbols(simulator: SimulatorServer) -> None:
    async def go() -> tuple[pl.DataFrame, pl.DataFrame, EodhdClient]:
        async with client_for(simulator) as client:
            every = await client.bulk_eod("LSE", SIM_DAY)
            some = await client.bulk_eod("US", SIM_DAY, symbols=["BRK-B", "PB&J", "O'REILLY"])
            return every, some, client

    every, some, client = run(go())
    assert every.schema == schemas.EOD_BULK and some.schema == schemas.EOD_BULK
    want = simulator.universe.bulk("LSE", SIM_DAY, as_of=SIM_NOW)
    assert_frame_equal(every.sort("code"), want.sort("code"))
    assert sorted(some["code"]) == ["BRK-B", "O'REILLY", "PB&J"]
    assert set(some["exchange"]) == {"US"}
    # Costs: 100, and 100 + 3 with symbols; the simulator charged the same.
    assert client.usage.calls_spent == 203
    assert client.usage.calls_by_endpoint["eod-bulk-last-day"] == 203
    charged = simulator.stats()["credits"][simulator.token]
    assert sum(charged.values()) == 203


def _day_with_dividend_missing_dates(sim: SimulatorServer) -> tuple[str, dt.date]:
    for s in sim.universe.symbols("US", as_of=SIM_DAY, delisted=False):
        for d in sim.universe.dividends("US", s.code, as_of=SIM_NOW):
            if d.declaration_date is None or d.payment_date is None or d.record_date is None:
                return s.code, d.date
    pytest.skip("simulator universe has no dividend with an unknown date")


def test_bulk_dividends_empty_dates_are_null(simulator: SimulatorServer) -> None:
    code, day = _day_with_dividend_missing_dates(simulator)

    async def go() -> pl.DataFrame:
        async with client_for(simulator) as client:
            return await client.bulk_dividends("US", day)

    df = run(go())
    assert df.schema == schemas.DIVIDENDS
    row = df.filter(pl.col("code") == code).row(0, named=True)
    want = next(d for d in simulator.universe.dividends("US", code, as_of=SIM_NOW) if d.date == day)
    assert row["date"] == day
    assert row["declaration_date"] == want.declaration_date
    assert row["record_date"] == want.record_date
    assert row["payment_date"] == want.payment_date
    assert row["unadjusted_value"] == pytest.approx(want.value)


def test_bulk_splits_of_a_split_day(simulator: SimulatorServer) -> None:
    splits = simulator.universe.splits("US", "BRK-B", as_of=SIM_NOW)
    assert splits, "BRK-B has splits in the simulator"
    day = splits[-1].date

    async def go() -> pl.DataFrame:
        async with client_for(simulator) as client:
            return await client.bulk_splits("US", day)

    df = run(go())
    assert df.schema == schemas.SPLITS
    row = df.filter(pl.col("code") == "BRK-B").row(0, named=True)
    assert row["date"] == day
    assert (row["numerator"], row["denominator"]) == (splits[-1].numerator, splits[-1].denominator)


@pytest.mark.parametrize(("exchange", "code"), [("US", "BRK-B"), ("LSE", "M&G"), ("XETRA", "MÜV2")])
def test_ticker_splits_and_dividends(simulator: SimulatorServer, exchange: str, code: str) -> None:
    async def go() -> tuple[pl.DataFrame, pl.DataFrame]:
        async with client_for(simulator) as client:
            return await client.splits(exchange, code), await client.dividends(exchange, code)

    splits, divs = run(go())
    assert splits.schema == schemas.SPLITS and divs.schema == schemas.DIVIDENDS
    assert_frame_equal(splits, simulator.universe.splits_frame(exchange, code, as_of=SIM_NOW))
    assert_frame_equal(divs, simulator.universe.dividends_frame(exchange, code, as_of=SIM_NOW))


def test_user_remaining_and_ensure_quota(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(daily_quota=150)

    async def go() -> None:
        async with client_for(sim) as client:
            before = await client.user()
            assert before.daily_limit == 150 and before.requests_today == 0
            assert before.resets_at == dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
            await client.bulk_eod("XETRA", SIM_DAY)
            await client.eod_history("US", "BRK-B", dt.date(2026, 1, 1))
            assert await client.remaining_quota() == 150 - 101
            assert (await client.ensure_quota(49)).remaining == 49
            with pytest.raises(InsufficientQuotaError) as info:
                await client.ensure_quota(50)
            msg = str(info.value)
            assert "50" in msg and "49" in msg and "2026-11-21" in msg
            assert client.usage.by_endpoint["user"] == 4
            assert client.usage.calls_by_endpoint["user"] == 0

    run(go())


def _raw_get(sim: SimulatorServer, path: str) -> tuple[bytes, str]:
    """An answer without fmt=json (EODHD's default CSV), fetched outside the client."""
    sep = "&" if "?" in path else "?"
    with urllib.request.urlopen(f"{sim.base_url}/{path}{sep}api_token={sim.token}") as r:
        return r.read(), r.headers.get("Content-Type", "")


def test_csv_answers_parse_like_json(simulator: SimulatorServer) -> None:
    body, ctype = _raw_get(simulator, "eod/M%26G.LSE?from=2025-01-01")
    assert "csv" in ctype
    csv_frame = P.parse_table(body, P.EOD_HISTORY_SPEC, content_type=ctype)
    assert_frame_equal(
        csv_frame,
        simulator.universe.history("LSE", "M&G", dt.date(2025, 1, 1), as_of=SIM_NOW),
    )
    body, ctype = _raw_get(simulator, f"eod-bulk-last-day/US?date={SIM_DAY}")
    bulk = P.parse_table(body, P.EOD_BULK_SPEC, content_type=ctype)
    assert bulk.schema == schemas.EOD_BULK
    assert_frame_equal(
        bulk.sort("code"), simulator.universe.bulk("US", SIM_DAY, as_of=SIM_NOW).sort("code")
    )
    body, ctype = _raw_get(simulator, "exchange-symbol-list/US")
    syms = P.parse_table(body, P.SYMBOLS_SPEC, content_type=ctype, constants={"delisted": False})
    assert syms.schema == schemas.SYMBOLS
    assert syms.filter(pl.col("code") == "O'REILLY")["isin"].to_list() == [None]


def test_free_plan_warning_key_is_dropped(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(free_tokens=frozenset({"free-token-1"}))

    async def go() -> pl.DataFrame:
        settings = settings_for(sim, token="free-token-1")
        async with EodhdClient(settings, clock=lambda: SIM_NOW) as client:
            return await client.eod_history("US", "BRK-B")

    df = run(go())
    assert df.schema == schemas.EOD_HISTORY
    assert 200 < df.height < 260  # one year of history on the free plan
    assert df.null_count().sum_horizontal().item() == 0


def test_malformed_rows_do_not_fail_the_answer(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(malformed_rate=0.02)

    async def go() -> pl.DataFrame:
        async with client_for(sim) as client:
            return await client.eod_history("US", "BRK-B", dt.date(2016, 1, 1))

    df = run(go())
    clean = sim.universe.history("US", "BRK-B", dt.date(2016, 1, 1), as_of=SIM_NOW)
    assert df.schema == schemas.EOD_HISTORY
    assert df.height == clean.height  # no row lost: validation decides, not the parser
    faults = sim.stats()["faults"]
    assert faults.get("malformed_rows", 0) > 0
    if faults.get("malformed_text_number", 0) or faults.get("malformed_null_close", 0):
        assert df.null_count().sum_horizontal().item() > 0


def test_user_without_clock_keeps_the_servers_count(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    """Frozen simulator clock, real-time HTTP Date: the counter must not be zeroed."""
    sim = simulator_factory(daily_quota=500)

    async def go() -> None:
        async with EodhdClient(settings_for(sim)) as client:  # no clock injected
            await client.eod_history("US", "BRK-B", dt.date(2026, 11, 1))
            info = await client.user()
            assert info.requests_today == 1
            assert info.remaining == 499
            assert info.resets_at > SIM_NOW

    run(go())
