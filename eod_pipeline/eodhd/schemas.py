"""Polars schemas of the EODHD answers, shared by the client, the simulator's tests and
the warehouse.

Why explicit schemas: EODHD's JSON carries numbers as numbers, strings or "" depending on
endpoint and plan, and inference on a first page of rows guesses wrong (an all-null
column becomes Null, a price that happens to be whole becomes Int64). Every answer is
cast to these, so downstream code can rely on dates being Date, prices Float64 and
volume Int64.
"""

from __future__ import annotations

import polars as pl

#: `/eod/{CODE}.{EXCH}`: one ticker's daily bars.
EOD_HISTORY = pl.Schema(
    {
        "date": pl.Date,
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "adjusted_close": pl.Float64,
        "volume": pl.Int64,
    }
)

#: `/eod-bulk-last-day/{EXCH}`: one exchange's bars for one date. `code` is the ticker code
#: without the exchange suffix; `exchange` is `exchange_short_name` from the answer.
EOD_BULK = pl.Schema({"code": pl.String, "exchange": pl.String, **EOD_HISTORY})

#: `/splits/{TICKER}` and `/eod-bulk-last-day/{EXCH}?type=splits`. `split` is the source
#: text ("4.000000/1.000000"); numerator/denominator are parsed from it.
SPLITS = pl.Schema(
    {
        "code": pl.String,
        "date": pl.Date,
        "split": pl.String,
        "numerator": pl.Float64,
        "denominator": pl.Float64,
    }
)

#: `/div/{TICKER}` and `/eod-bulk-last-day/{EXCH}?type=dividends`. "" dates become null.
DIVIDENDS = pl.Schema(
    {
        "code": pl.String,
        "date": pl.Date,
        "value": pl.Float64,
        "unadjusted_value": pl.Float64,
        "currency": pl.String,
        "declaration_date": pl.Date,
        "record_date": pl.Date,
        "payment_date": pl.Date,
        "period": pl.String,
    }
)

#: `/exchanges-list/`.
EXCHANGES = pl.Schema(
    {
        "code": pl.String,
        "name": pl.String,
        "operating_mic": pl.String,
        "country": pl.String,
        "currency": pl.String,
        "country_iso2": pl.String,
        "country_iso3": pl.String,
    }
)

#: `/exchange-symbol-list/{EXCH}`. `venue` is the answer's `Exchange` field (for `US` the
#: real venue: NASDAQ, NYSE, ...); `delisted` says which list the row came from.
SYMBOLS = pl.Schema(
    {
        "code": pl.String,
        "name": pl.String,
        "country": pl.String,
        "venue": pl.String,
        "currency": pl.String,
        "type": pl.String,
        "isin": pl.String,
        "delisted": pl.Boolean,
    }
)

#: `ExchangeHolidays` of `/exchange-details/{EXCH}`, list or map form alike.
HOLIDAYS = pl.Schema({"date": pl.Date, "holiday": pl.String, "type": pl.String})

#: `/symbol-change-history`: one row per ticker change (EODHD's `old_symbol`,
#: `new_symbol`, `company_name`, `effective`; `date` is the effective date).
SYMBOL_CHANGES = pl.Schema(
    {
        "exchange": pl.String,
        "old_symbol": pl.String,
        "new_symbol": pl.String,
        "date": pl.Date,
        "company_name": pl.String,
    }
)
