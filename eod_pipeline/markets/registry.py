"""Static facts about the exchanges the pipeline can keep.

Why static: Dagster builds partitions (in the exchange's time zone) and freshness
deadlines when the definitions load, which must not spend API calls or fail offline. The
time zones and closes below are the exchanges' published ones (as EODHD's
`/exchange-details` reports them); the delay after the close is when EODHD's end-of-day
data appears (../shared/eodhd-api.md: NYSE/NASDAQ about 15 minutes after the close,
other exchanges 2-3 hours). Holidays change every year and come from the API instead
(the `exchange_calendars` asset stores them in `eod.exchange_holidays`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ExchangeInfo:
    code: str
    name: str
    timezone: str
    close: dt.time
    #: How long after the close EODHD's end-of-day data for the day is out.
    data_delay: dt.timedelta
    currency: str

    def available_at(self, day: dt.date) -> dt.datetime:
        """When the day's data should be out, as an aware datetime in the exchange's zone."""
        from zoneinfo import ZoneInfo

        close = dt.datetime.combine(day, self.close, tzinfo=ZoneInfo(self.timezone))
        return close + self.data_delay


def _x(code: str, name: str, tz: str, close: str, delay_min: int, currency: str) -> ExchangeInfo:
    hh, mm = close.split(":")
    return ExchangeInfo(code, name, tz, dt.time(int(hh), int(mm)),
                        dt.timedelta(minutes=delay_min), currency)


#: 15 min for US venues, 120-150 min elsewhere (../shared/eodhd-api.md "When a day's
#: data appears"). Closes are the regular-session closes in local time.
EXCHANGES: dict[str, ExchangeInfo] = {
    x.code: x
    for x in (
        _x("US", "USA Stocks", "America/New_York", "16:00", 15, "USD"),
        _x("LSE", "London Exchange", "Europe/London", "16:30", 120, "GBX"),
        _x("XETRA", "XETRA Stock Exchange", "Europe/Berlin", "17:30", 150, "EUR"),
        _x("F", "Frankfurt Exchange", "Europe/Berlin", "20:00", 150, "EUR"),
        _x("PA", "Euronext Paris", "Europe/Paris", "17:30", 150, "EUR"),
        _x("AS", "Euronext Amsterdam", "Europe/Amsterdam", "17:30", 150, "EUR"),
        _x("BR", "Euronext Brussels", "Europe/Brussels", "17:30", 150, "EUR"),
        _x("MC", "Madrid Exchange", "Europe/Madrid", "17:30", 150, "EUR"),
        _x("MI", "Borsa Italiana", "Europe/Rome", "17:30", 150, "EUR"),
        _x("SW", "SIX Swiss Exchange", "Europe/Zurich", "17:30", 150, "CHF"),
        _x("ST", "Stockholm Exchange", "Europe/Stockholm", "17:30", 150, "SEK"),
        _x("OL", "Oslo Stock Exchange", "Europe/Oslo", "16:20", 150, "NOK"),
        _x("CO", "Copenhagen Exchange", "Europe/Copenhagen", "17:00", 150, "DKK"),
        _x("HE", "Helsinki Exchange", "Europe/Helsinki", "18:30", 150, "EUR"),
        _x("TO", "Toronto Exchange", "America/Toronto", "16:00", 120, "CAD"),
        _x("V", "TSX Venture Exchange", "America/Toronto", "16:00", 120, "CAD"),
        _x("SA", "Sao Paolo Exchange", "America/Sao_Paulo", "17:00", 150, "BRL"),
        _x("MX", "Mexican Exchange", "America/Mexico_City", "15:00", 150, "MXN"),
        _x("JSE", "Johannesburg Exchange", "Africa/Johannesburg", "17:00", 150, "ZAC"),
        _x("HK", "Hong Kong Exchange", "Asia/Hong_Kong", "16:00", 150, "HKD"),
        _x("SHG", "Shanghai Exchange", "Asia/Shanghai", "15:00", 150, "CNY"),
        _x("SHE", "Shenzhen Exchange", "Asia/Shanghai", "15:00", 150, "CNY"),
        _x("KO", "Korea Stock Exchange", "Asia/Seoul", "15:30", 150, "KRW"),
        _x("TW", "Taiwan Stock Exchange", "Asia/Taipei", "13:30", 150, "TWD"),
        _x("NSE", "National Stock Exchange of India", "Asia/Kolkata", "15:30", 150, "INR"),
        _x("BSE", "Bombay Exchange", "Asia/Kolkata", "15:30", 150, "INR"),
        _x("AU", "Australian Securities Exchange", "Australia/Sydney", "16:00", 150, "AUD"),
        _x("TSE", "Tokyo Stock Exchange", "Asia/Tokyo", "15:30", 150, "JPY"),
        _x("FOREX", "FOREX", "Europe/London", "23:59", 120, "USD"),
    )
}


def exchange_info(code: str, setting: str = "EOD_EXCHANGES") -> ExchangeInfo:
    """The facts of `code`, or a ValueError naming the setting and the known codes."""
    try:
        return EXCHANGES[code]
    except KeyError:
        raise ValueError(
            f"{setting}: unknown exchange code {code!r}. Known codes: "
            f"{', '.join(sorted(EXCHANGES))}. (EODHD codes, e.g. US, LSE, XETRA.)"
        ) from None
