"""The simulated market itself (no server): determinism, calendars, availability,
corporate actions and the adjusted-close rule the pipeline's refetch logic depends on."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from eod_pipeline.eodhd.schemas import EOD_HISTORY
from eod_pipeline_tests.fixtures.simulator import SIM_NOW
from eodhd_simulator import SimulatorConfig, Universe

NY = ZoneInfo("America/New_York")


@pytest.fixture(scope="module")
def universe() -> Universe:
    return Universe(SimulatorConfig())


def test_same_seed_same_market_other_seed_other_market() -> None:
    a, b = Universe(SimulatorConfig()), Universe(SimulatorConfig())
    c = Universe(SimulatorConfig(seed=8))
    for exchange in ("US", "LSE", "XETRA"):
        assert a.symbols(exchange) == b.symbols(exchange)
        assert a.symbols(exchange) != c.symbols(exchange)
    code = "BRK-B"
    assert a.history("US", code, as_of=SIM_NOW).equals(b.history("US", code, as_of=SIM_NOW))
    assert not a.history("US", code, as_of=SIM_NOW).equals(c.history("US", code, as_of=SIM_NOW))


def test_exchanges_include_a_virtual_one(universe: Universe) -> None:
    codes = {e.code: e for e in universe.exchanges()}
    assert {"US", "LSE", "XETRA", "FOREX"} <= set(codes)
    assert codes["FOREX"].operating_mic is None
    assert codes["US"].timezone == "America/New_York"
    forex = universe.history("FOREX", "EURUSD", as_of=SIM_NOW)
    assert forex.height > 2000 and forex["volume"].sum() == 0


def test_symbol_lists_carry_the_awkward_cases(universe: Universe) -> None:
    cfg = universe.config
    for exchange in ("US", "LSE", "XETRA"):
        syms = universe.symbols(exchange)
        assert len(syms) == cfg.symbols_per_exchange
        assert len({s.code for s in syms}) == len(syms)
        delisted = [s for s in syms if s.delisted_on is not None]
        assert 0.05 <= len(delisted) / len(syms) <= 0.3
        assert any(s.isin is None for s in syms)
        assert any(s.listed_on > cfg.history_start for s in syms)
        assert any(s.listed_on < cfg.history_start for s in syms)
    us = {s.code: s for s in universe.symbols("US")}
    assert {"BRK-B", "O'REILLY", "PB&J"} <= set(us)
    assert {s.venue for s in us.values()} <= {"NYSE", "NASDAQ", "NYSE ARCA", "BATS"}
    assert {"Common Stock", "ETF", "FUND", "Preferred Stock"} <= {s.type for s in us.values()}
    assert "M&G" in {s.code for s in universe.symbols("LSE")}
    assert any(not s.code.isascii() for s in universe.symbols("XETRA"))
    assert {s.currency for s in universe.symbols("LSE")} >= {"GBX"}


def test_delisted_long_ago_has_no_prices_recent_delisting_stops(universe: Universe) -> None:
    syms = [s for e in ("US", "LSE", "XETRA") for s in universe.symbols(e)]
    long_ago = [s for s in syms if s.delisted_on and s.delisted_on < universe.history_start]
    recent = [s for s in syms if s.delisted_on and s.delisted_on > universe.history_start]
    assert long_ago and recent
    for s in long_ago:
        assert universe.history(s.exchange, s.code, as_of=SIM_NOW).is_empty()
    for s in recent:
        h = universe.history(s.exchange, s.code, as_of=SIM_NOW)
        assert h.is_empty() or h["date"].max() <= s.delisted_on


def test_funds_have_zero_volume(universe: Universe) -> None:
    funds = [s for s in universe.symbols("US") if s.type == "FUND" and s.delisted_on is None]
    assert funds
    for s in funds:
        assert universe.history("US", s.code, as_of=SIM_NOW)["volume"].max() == 0


def test_history_has_schema_and_no_weekends_or_holidays(universe: Universe) -> None:
    for exchange in ("US", "LSE", "XETRA"):
        info = universe.exchange_info(exchange)
        assert len(info.holidays) > 50
        days = set(universe.trading_days(exchange, date(2014, 1, 1), date(2026, 12, 31)))
        assert not any(d.weekday() >= 5 for d in days)
        assert not days & set(info.holidays)
        for sym in universe.symbols(exchange)[:8]:
            h = universe.history(exchange, sym.code, as_of=SIM_NOW)
            assert h.schema == EOD_HISTORY
            assert set(h["date"]) <= days
            assert h["date"].is_sorted()
            ok = h.filter(pl.col("volume") > 0)
            assert (ok["high"] >= ok["low"]).all()


def test_exchange_specific_holidays(universe: Universe) -> None:
    us, lse = universe.exchange_info("US"), universe.exchange_info("LSE")
    xetra = universe.exchange_info("XETRA")
    assert date(2025, 7, 4) in us.holidays and date(2025, 7, 4) not in lse.holidays
    assert date(2025, 8, 25) in lse.holidays  # summer bank holiday, last Monday in August
    assert date(2025, 5, 26) in lse.holidays  # spring bank holiday (the hand rules lacked it)
    assert date(2026, 11, 26) in us.holidays  # Thanksgiving
    assert date(2025, 1, 9) in us.holidays  # NYSE's ad-hoc closure (President Carter)
    assert date(2025, 12, 25) in xetra.holidays
    assert date(2025, 5, 1) in xetra.holidays and date(2025, 5, 1) not in lse.holidays
    # Observed holidays move off weekends: July 4th 2026 is a Saturday, so Friday closes.
    assert date(2026, 7, 3) in us.holidays
    # The interbank market has no exchange calendar: weekdays only.
    assert universe.exchange_info("FOREX").holidays == {}
    assert universe.calendar("FOREX").is_trading_day(date(2025, 12, 25))


def test_availability_follows_close_plus_delay(universe: Universe) -> None:
    tuesday = date(2026, 11, 17)
    before = datetime(2026, 11, 17, 15, 0, tzinfo=NY)
    after = datetime(2026, 11, 17, 17, 0, tzinfo=NY)
    assert universe.available_through("US", before) == date(2026, 11, 16)
    assert universe.available_through("US", after) == tuesday
    # 16:10 New York is inside the 15-minute delay; 16:15 is out.
    assert universe.available_through("US", datetime(2026, 11, 17, 16, 10, tzinfo=NY)) < tuesday
    assert universe.available_through("US", datetime(2026, 11, 17, 16, 15, tzinfo=NY)) == tuesday
    # LSE publishes 2 h after its 16:30 close (18:30 London = 13:30 New York in November).
    assert universe.available_through("LSE", datetime(2026, 11, 17, 18, 29, tzinfo=UTC)) < tuesday
    assert universe.available_through("LSE", datetime(2026, 11, 17, 18, 30, tzinfo=UTC)) == tuesday
    # Over a weekend the newest day is Friday.
    assert universe.available_through("US", datetime(2026, 11, 22, 12, tzinfo=UTC)) == date(
        2026, 11, 20
    )
    h = universe.history("US", "BRK-B", as_of=before)
    assert h["date"].max() == date(2026, 11, 16)
    assert universe.history("US", "BRK-B", as_of=after)["date"].max() == tuesday


def _all_actions(universe: Universe) -> list[tuple[str, str, date, float, str]]:
    out = []
    for exchange in ("US", "LSE", "XETRA"):
        for s in universe.symbols(exchange):
            for sp in universe.splits(exchange, s.code, SIM_NOW):
                out.append((exchange, s.code, sp.date, sp.factor, "split"))
            for dv in universe.dividends(exchange, s.code, SIM_NOW):
                out.append((exchange, s.code, dv.date, dv.factor, "dividend"))
    return out


def test_adjusted_close_is_crsp_backward_adjustment(universe: Universe) -> None:
    actions = _all_actions(universe)
    assert {"split", "dividend"} == {a[4] for a in actions}
    exchange, code = next((a[0], a[1]) for a in actions if a[4] == "split")
    h = universe.history(exchange, code, as_of=SIM_NOW)
    acts = [(d, f) for e, c, d, f, _ in actions if (e, c) == (exchange, code)]
    for row in h.iter_rows(named=True):
        factor = 1.0
        for d, f in acts:
            if d > row["date"]:
                factor *= f
        assert row["adjusted_close"] == pytest.approx(row["close"] * factor, abs=1e-4)
    # The newest row is unadjusted.
    assert h["adjusted_close"][-1] == h["close"][-1]


def test_raw_close_jumps_on_split_date(universe: Universe) -> None:
    for exchange, code, day, factor, kind in _all_actions(universe):
        if kind != "split":
            continue
        h = universe.history(exchange, code, day - timedelta(days=10), day, as_of=SIM_NOW)
        ratio = h["close"][-1] / h["close"][-2]
        assert factor * 0.75 < ratio < factor * 1.3, (code, day, factor, ratio)


def test_new_action_rewrites_earlier_adjusted_closes(universe: Universe) -> None:
    """The fact the pipeline's refetch rule rests on: the day an action is published,
    every earlier adjusted_close of that ticker changes by its factor."""
    actions = [a for a in _all_actions(universe) if a[2] > date(2020, 1, 1)]
    for kind in ("split", "dividend"):
        exchange, code, day, factor, _ = next(a for a in actions if a[4] == kind)
        cal = universe.calendar(exchange)
        prev_day = cal.previous(day - timedelta(days=1))
        assert prev_day is not None
        before_as_of = cal.data_out_at(prev_day) + timedelta(minutes=1)
        after_as_of = cal.data_out_at(day) + timedelta(minutes=1)
        old = universe.history(exchange, code, end=prev_day, as_of=before_as_of)
        new = universe.history(exchange, code, end=prev_day, as_of=after_as_of)
        assert old["close"].equals(new["close"])  # raw prices never change
        ratio = (new["adjusted_close"] / old["adjusted_close"]).tail(200)
        assert ratio.min() == pytest.approx(factor, rel=2e-3)
        assert ratio.max() == pytest.approx(factor, rel=2e-3)
        assert old["adjusted_close"][-1] == old["close"][-1]
        assert universe.splits(exchange, code, before_as_of) == [
            s for s in universe.splits(exchange, code, after_as_of) if s.date < day
        ]


def test_one_exchange_can_be_sized_on_its_own():
    uni = Universe(SimulatorConfig(symbols_per_exchange=5, symbols_by_exchange={"US": 300}))
    assert len(uni.symbols("US")) == 300
    assert len(uni.symbols("LSE")) == 5
    assert len({s.code for s in uni.symbols("US")}) == 300  # codes stay unique
