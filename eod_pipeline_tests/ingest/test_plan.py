"""The cost planner: pure logic, tested without servers."""

import datetime as dt

from eod_pipeline.ingest.coverage import Coverage, merge
from eod_pipeline.ingest.plan import Strategy, plan_fetch
from eod_pipeline.markets.calendar import trading_days

JAN = list(trading_days(dt.date(2024, 1, 1), dt.date(2024, 1, 31)))  # 23 weekdays
TEN_YEARS = list(trading_days(dt.date(2014, 1, 1), dt.date(2023, 12, 31)))


def test_short_range_of_a_large_exchange_goes_bulk():
    symbols = [f"S{i}" for i in range(5000)]
    plan = plan_fetch("US", JAN[0], JAN[-1], JAN, symbols, Coverage())
    assert plan.strategy is Strategy.BULK
    assert (plan.calls, plan.bulk_cost, plan.ticker_cost) == (2300, 2300, 5000)


def test_long_range_goes_per_ticker():
    symbols = [f"S{i}" for i in range(40)]
    plan = plan_fetch("LSE", TEN_YEARS[0], TEN_YEARS[-1], TEN_YEARS, symbols, Coverage())
    assert plan.strategy is Strategy.TICKER
    assert plan.calls == 40
    assert plan.tickers[0].start == TEN_YEARS[0] and plan.tickers[0].end == TEN_YEARS[-1]


def test_resume_counts_only_what_is_missing():
    symbols = ["A", "B", "C"]
    known = Coverage(tickers={"A": [(JAN[0], JAN[-1])], "B": [(JAN[0], JAN[10])]})
    plan = plan_fetch("US", JAN[0], JAN[-1], JAN, symbols, known, force=Strategy.TICKER)
    fetches = {t.symbol: (t.start, t.end) for t in plan.tickers}
    assert fetches == {"B": (JAN[11], JAN[-1]), "C": (JAN[0], JAN[-1])}
    assert plan.tickers_skipped == 1
    bulk = plan_fetch("US", JAN[0], JAN[-1], JAN, symbols,
                      Coverage(bulk_days=set(JAN[:20])), force=Strategy.BULK)
    assert bulk.bulk_days == tuple(JAN[20:])


def test_everything_known_costs_nothing():
    known = Coverage(tickers={"A": [(JAN[0], JAN[-1])]})
    plan = plan_fetch("US", JAN[0], JAN[-1], JAN, ["A"], known)
    assert (plan.strategy, plan.calls) == (Strategy.NOTHING, 0)


def test_delisted_ticker_bounds_rule_out_later_ranges():
    dusk = dt.date(2999, 12, 31)
    known = Coverage(tickers={"GONE": merge([(dt.date(2013, 1, 1), dt.date(2013, 12, 31)),
                                             (dt.date(2013, 6, 1), dusk)])})
    plan = plan_fetch("US", JAN[0], JAN[-1], JAN, ["GONE", "LIVE"], known,
                      force=Strategy.TICKER)
    assert [t.symbol for t in plan.tickers] == ["LIVE"]


def test_merge_joins_adjacent_and_overlapping_intervals():
    d = dt.date
    assert merge([(d(2024, 1, 5), d(2024, 1, 9)), (d(2024, 1, 1), d(2024, 1, 4)),
                  (d(2024, 2, 1), d(2024, 2, 2))]) == [(d(2024, 1, 1), d(2024, 1, 9)),
                                                       (d(2024, 2, 1), d(2024, 2, 2))]
