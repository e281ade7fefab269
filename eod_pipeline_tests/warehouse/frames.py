"""Test frames for the prices table."""

from __future__ import annotations

import datetime as dt

import polars as pl

from eod_pipeline.warehouse.tables import PRICES

#: Codes that break naive SQL or URL handling; they must be stored verbatim.
AWKWARD_CODES = ("BRK-B", "M&G", "O'REILLY", "MÜNCHEN-RÜCK", 'QU"OTE', "ÅÄÖ_old1")


def price_frame(
    symbols: tuple[str, ...] = ("AAA", "BBB"),
    start: dt.date = dt.date(2024, 1, 1),
    days: int = 5,
    exchange: str = "US",
    bump: float = 0.0,
) -> pl.DataFrame:
    rows = []
    for s_i, symbol in enumerate(symbols):
        for d in range(days):
            base = 10.0 + s_i + d / 8 + bump
            rows.append(
                (exchange, symbol, start + dt.timedelta(days=d), base, base + 1.0,
                 base - 1.0, base + 0.25, round((base + 0.25) * 0.98765, 4), 1000 * d)
            )
    return pl.DataFrame(rows, schema=PRICES.polars_schema, orient="row")
