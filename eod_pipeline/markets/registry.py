"""Static facts about the exchanges the pipeline can keep, and the simulator serves.

Why static: Dagster builds partitions (in the exchange's time zone) and freshness
deadlines when the definitions load, which must not spend API calls or fail offline. The
time zones and closes below are the exchanges' published ones (as EODHD's
`/exchange-details` reports them); the delay after the close is when EODHD's end-of-day
data appears (../shared/eodhd-api.md: NYSE/NASDAQ about 15 minutes after the close,
other exchanges 2-3 hours). Holidays change every year and come from the API instead
(the `exchange_calendars` asset stores them in `eod.exchange_holidays`).

These records are the fast path, not the limit: any other code of EODHD's exchanges list
can be configured once the warehouse (or the local cache file) holds its list entry and
its `/exchange-details` (time zone, trading hours): see `stored.py` for where those come
from and `exchange_info` for the order of the look-ups.

This is the one registry: the simulator (`eodhd_simulator.calendar`) builds its
exchanges on these records, so what the pipeline expects (closes, delays, time zones)
and what the simulator serves cannot drift apart. The listing facts (MIC, country,
opening time, venues) are filled in for the exchanges the simulator serves; names, MICs
and ISO codes mirror EODHD's `/exchanges-list/`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class ExchangeInfo:
    code: str
    name: str
    timezone: str
    close: dt.time
    #: How long after the close EODHD's end-of-day data for the day is out.
    data_delay: dt.timedelta
    #: Currency of the exchange's prices (LSE quotes in pence: GBX).
    currency: str
    #: `Currency` of the exchange in EODHD's exchanges list, where it differs from the
    #: price currency (LSE: GBP; a virtual exchange: "Unknown").
    listed_currency: str | None = None
    #: `OperatingMIC` in EODHD's exchanges list (None for virtual exchanges such as FOREX).
    operating_mic: str | None = None
    country: str = ""
    country_iso2: str = ""
    country_iso3: str = ""
    #: Regular-session opening time, local (None where not recorded).
    open: dt.time | None = None
    #: Venues reported in the `Exchange` field of symbol rows.
    venues: tuple[str, ...] = ()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def exchange_currency(self) -> str:
        """The currency EODHD's exchanges list reports for the exchange."""
        return self.listed_currency or self.currency

    def available_at(self, day: dt.date) -> dt.datetime:
        """When the day's data should be out, as an aware datetime in the exchange's zone."""
        close = dt.datetime.combine(day, self.close, tzinfo=self.tz)
        return close + self.data_delay


def _time(text: str) -> dt.time:
    hh, mm = text.split(":")
    return dt.time(int(hh), int(mm))


def _x(code: str, name: str, tz: str, close: str, delay_min: int, currency: str,
       *, opens: str | None = None, **listing: Any) -> ExchangeInfo:
    """A record; `listing` takes the optional listing facts by field name."""
    return ExchangeInfo(code, name, tz, _time(close), dt.timedelta(minutes=delay_min),
                        currency, open=None if opens is None else _time(opens),
                        **listing)


#: 15 min for US venues, 120-150 min elsewhere (../shared/eodhd-api.md "When a day's
#: data appears"). Closes are the regular-session closes in local time.
EXCHANGES: dict[str, ExchangeInfo] = {
    x.code: x
    for x in (
        _x("US", "USA Stocks", "America/New_York", "16:00", 15, "USD", opens="09:30",
           operating_mic="XNAS, XNYS, OTCM", country="USA", country_iso2="US",
           country_iso3="USA", venues=("NYSE", "NASDAQ", "NYSE ARCA", "BATS")),
        _x("LSE", "London Exchange", "Europe/London", "16:30", 120, "GBX", opens="08:00",
           listed_currency="GBP", operating_mic="XLON", country="UK", country_iso2="GB",
           country_iso3="GBR", venues=("LSE",)),
        _x("XETRA", "XETRA Stock Exchange", "Europe/Berlin", "17:30", 150, "EUR",
           opens="09:00", operating_mic="XETR", country="Germany", country_iso2="DE",
           country_iso3="DEU", venues=("XETRA",)),
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
        # A virtual exchange (EODHD lists it with `OperatingMIC: null`): the interbank
        # day ends at 17:00 New York (22:00 UTC) and its bars are out half an hour later.
        _x("FOREX", "FOREX", "Etc/UTC", "22:00", 30, "USD", opens="00:00",
           listed_currency="Unknown", country="Unknown", venues=("FOREX",)),
    )
}


def builtin_exchange(code: str) -> ExchangeInfo | None:
    """The built-in record of `code` (no I/O), or None."""
    return EXCHANGES.get(code)


def exchange_info(code: str, setting: str = "EOD_EXCHANGES") -> ExchangeInfo:
    """The facts of `code`: the built-in record, else the stored EODHD facts; otherwise a
    ValueError naming the setting, the known codes and where the code list comes from.

    Only a code outside the built-in list costs a look-up (the warehouse, then the cache
    file; see `stored.py`); it never calls the API, so loading the definitions stays
    offline.
    """
    info = EXCHANGES.get(code)
    if info is not None:
        return info
    # Imported here: the look-up pulls in the warehouse modules, which the built-in
    # fast path (and the simulator) never needs.
    from eod_pipeline.markets.stored import lookup_exchange

    found = lookup_exchange(code)
    if found.info is not None:
        return found.info
    raise ValueError(
        f"{setting}: unknown exchange code {code!r}. Known codes: "
        f"{', '.join(sorted(EXCHANGES))}. (EODHD codes, e.g. US, LSE, XETRA.) "
        f"{found.explain()}"
    ) from None
