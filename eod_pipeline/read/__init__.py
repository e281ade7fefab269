"""Read the warehouse into polars, for people (backtests, risk models, notebooks).

    from eod_pipeline import read
    df = read.prices("US", ["AAPL", "MSFT"], start="2020-01-01", adjust="total")
    old = read.prices("US", "AAPL", as_of="2026-03-31T22:00:00+00:00")
    weekly = read.bars("US", "AAPL", every="1w", adjust="split")
    names = read.universe("US", on="2024-06-28")

See README.md, "Reading the data".
"""

from eod_pipeline.read.api import ADJUST_MODES, ReadError, bars, prices, universe

__all__ = ["ADJUST_MODES", "ReadError", "bars", "prices", "universe"]
