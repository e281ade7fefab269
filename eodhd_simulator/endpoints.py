"""The EODHD endpoints: each computes an `Answer` from a parsed request (`Call`).

Endpoints only compute answers: the checks around them (token, rate, quota, faults,
charging) are the middlewares' (`middlewares.py`), so the order of those checks lives in
one place. An endpoint raises `BadRequest` or `NotFound` for the answers the real service
gives to a bad URL or an unknown ticker; the charging middleware turns them into 400/404.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from eodhd_simulator import render
from eodhd_simulator.accounting import COSTS
from eodhd_simulator.paths import SymbolPath
from eodhd_simulator.renames import CHANGE_HISTORY_EXCHANGES, CHANGE_HISTORY_SINCE
from eodhd_simulator.state import SimulatorState

#: Venues the US bulk endpoint also accepts (the contract: NYSE, NASDAQ, BATS, AMEX).
US_BULK_VENUES = frozenset({"NYSE", "NASDAQ", "BATS", "AMEX"})
#: `type=` values of the symbol list (the contract) and the `Type` texts they select.
SYMBOL_TYPES: dict[str, frozenset[str]] = {
    "common_stock": frozenset({"Common Stock"}),
    "preferred_stock": frozenset({"Preferred Stock"}),
    "stock": frozenset({"Common Stock", "Preferred Stock"}),
    "etf": frozenset({"ETF"}),
    "fund": frozenset({"FUND"}),
}
#: Free plan: one year of history and a `warning` key on rows (the contract).
FREE_HISTORY = timedelta(days=365)
FREE_WARNING = "Data is limited by one year as you have free subscription"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadRequest(Exception):
    """A malformed request: answered 400 with the URL (token included) echoed."""


class NotFound(Exception):
    """Unknown ticker or exchange: 404, body echoing the URL, still costs a call."""

    def __init__(self, text: str = "Ticker Not Found") -> None:
        super().__init__(text)
        self.text = text


@dataclass
class Answer:
    """An endpoint's answer before accounting and faults."""

    body: bytes
    content_type: str = "application/json"
    status: int = 200
    cost: int | None = None  # None: the endpoint's table cost


@dataclass
class Call:
    """What an endpoint function gets: the parsed request and the simulator state."""

    request: web.Request
    state: SimulatorState
    token: str
    now: datetime
    free: bool
    query: Any = field(init=False)

    def __post_init__(self) -> None:
        self.query = self.request.query

    def date_param(self, name: str) -> date | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return None
        if not _DATE_RE.match(raw):
            raise BadRequest(name)
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise BadRequest(name) from None

    @property
    def json(self) -> bool:
        """EODHD defaults several endpoints to CSV (the contract: always send fmt=json)."""
        return self.query.get("fmt", "csv").lower() == "json"


Endpoint = Callable[[Call], Awaitable[Answer]]


def _split_ticker(ticker: str) -> tuple[str, str]:
    """`CODE.EXCH`, split on the LAST dot (codes are opaque; exchanges have no dots).
    Without a dot EODHD assumes the US."""
    code, dot, exchange = ticker.rpartition(".")
    if not dot:
        return ticker, "US"
    return code, exchange.upper()


def _path_for(call: Call, ticker: str) -> tuple[str, str, SymbolPath, date | None]:
    code, exchange = _split_ticker(ticker)
    uni = call.state.universe
    if not uni.has_exchange(exchange) or uni.symbol(exchange, code) is None:
        raise NotFound()
    avail = uni.available_through(exchange, call.now)
    path = uni.path(exchange, code, avail or uni.history_start)
    return code, exchange, path, avail


# ----- endpoints -------------------------------------------------------------------------------


async def exchanges_list(call: Call) -> Answer:
    rows = [
        {
            "Name": e.name,
            "Code": e.code,
            "OperatingMIC": e.operating_mic,
            "Country": e.country,
            "Currency": e.exchange_currency,
            "CountryISO2": e.country_iso2,
            "CountryISO3": e.country_iso3,
        }
        for e in call.state.universe.exchanges()
    ]
    return Answer(render.dumps(rows))


async def exchange_symbol_list(call: Call) -> Answer:
    exchange = call.request.match_info["exchange"].upper()
    uni = call.state.universe
    if not uni.has_exchange(exchange):
        raise NotFound("Exchange Not Found")
    delisted = call.query.get("delisted", "0") in ("1", "true")
    today = call.state.local_today(exchange, call.now)
    syms = uni.symbols(exchange, as_of=today, delisted=delisted)
    wanted = call.query.get("type")
    if wanted:
        types = SYMBOL_TYPES.get(wanted.lower(), frozenset())
        syms = [s for s in syms if s.type in types]
    rows = [
        {
            "Code": s.code,
            "Name": s.name,
            "Country": s.country,
            "Exchange": s.venue,
            "Currency": s.currency,
            "Type": s.type,
            "Isin": s.isin,
        }
        for s in syms
    ]
    if call.json:
        return Answer(render.dumps(rows))
    keys = ["Code", "Name", "Country", "Exchange", "Currency", "Type", "Isin"]
    return Answer(render.csv_lines(keys, rows, keys), "text/csv")


def _utc_time(day: date, t: time, tz: Any) -> str:
    return datetime.combine(day, t, tzinfo=tz).astimezone(UTC).strftime("%H:%M:%S")


async def exchange_details(call: Call) -> Answer:
    exchange = call.request.match_info["exchange"].upper()
    uni = call.state.universe
    if not uni.has_exchange(exchange):
        raise NotFound("Exchange Not Found")
    info = uni.exchange_info(exchange)
    cal = uni.calendar(exchange)
    today = call.state.local_today(exchange, call.now)
    # Like EODHD, only holidays in a window around today unless asked otherwise: the
    # pipeline must cope with days without bars that it was never told about.
    window_start, window_end = uni.details_window(exchange, call.now)
    start = call.date_param("from") or window_start
    end = call.date_param("to") or window_end
    holidays = [
        {"Holiday": name, "Date": d.isoformat(), "Type": "official"}
        for d, name in sorted(info.holidays.items())
        if start <= d <= end
    ]
    early = [
        {"Holiday": name, "Date": d.isoformat(), "Type": "official", "Close": c.strftime("%H:%M")}
        for d, (name, c) in sorted(info.early_closes.items())
        if start <= d <= end
    ]
    if info.holidays_shape == "map":
        # The contract documents ExchangeHolidays both as a list and as a map "0","1",...
        hol_out: Any = {str(i): h for i, h in enumerate(holidays)}
        early_out: Any = {str(i): h for i, h in enumerate(early)}
    else:
        hol_out, early_out = holidays, early
    active = uni.symbols(exchange, as_of=today, delisted=False)
    body = {
        "Name": info.name,
        "Code": info.code,
        "OperatingMIC": info.operating_mic,
        "Country": info.country,
        "Currency": info.exchange_currency,
        "CountryISO2": info.country_iso2,
        "CountryISO3": info.country_iso3,
        "Timezone": info.timezone,
        "isOpen": cal.is_open(call.now),
        "TradingHours": {
            "Open": info.open_time.strftime("%H:%M:%S"),
            "Close": info.close_time.strftime("%H:%M:%S"),
            "OpenUTC": _utc_time(today, info.open_time, info.tz),
            "CloseUTC": _utc_time(today, info.close_time, info.tz),
            "WorkingDays": "Mon,Tue,Wed,Thu,Fri",
        },
        "ActiveTickers": len(active),
        "PreviousDayUpdatedTickers": len(active),
        "UpdatedTickers": len(active),
        "ExchangeHolidays": hol_out,
        "ExchangeEarlyCloseDays": early_out,
    }
    return Answer(render.dumps(body))


def _aggregate(path: SymbolPath, idx: range, adj: list[float], period: str) -> list[dict]:
    """Weekly/monthly bars (date = first trading day of the period)."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i in idx:
        d = path.dates[i]
        key = (d.isocalendar()[0], d.isocalendar()[1]) if period == "w" else (d.year, d.month)
        groups.setdefault(key, []).append(i)
    out = []
    for rows in groups.values():
        first, last = rows[0], rows[-1]
        out.append(
            {
                "date": path.iso[first],
                "open": path.open[first],
                "high": max(path.high[i] for i in rows),
                "low": min(path.low[i] for i in rows),
                "close": path.close[last],
                "adjusted_close": adj[last],
                "volume": sum(path.volume[i] for i in rows),
            }
        )
    return out


async def eod(call: Call) -> Answer:
    start = call.date_param("from")
    end = call.date_param("to")
    order = call.query.get("order", "a").lower()
    period = call.query.get("period", "d").lower()
    if order not in ("a", "d") or period not in ("d", "w", "m"):
        raise BadRequest("order/period")
    _, _, path, avail = _path_for(call, call.request.match_info["ticker"])
    if avail is None:
        return Answer(b"[]" if call.json else render.EOD_CSV_HEADER)
    if call.free:
        floor = call.now.date() - FREE_HISTORY
        start = floor if start is None else max(start, floor)
    last = avail if end is None else min(end, avail)
    i, j = path.span(start, last)
    known = path.known_actions(avail)
    state = call.state
    malformed = state.faults.malformed_indices(state.config, j - i) if call.json else []

    if period != "d" or call.free or malformed:
        adj = path.adjusted(known)
        if period != "d":
            rows = _aggregate(path, range(i, j), adj, period)
        else:
            rows = [render.row_dict(path, k, adj[k]) for k in range(i, j)]
        if call.free:
            for r in rows:
                r["warning"] = FREE_WARNING
        if order == "d":
            rows.reverse()
        if call.json:
            frags = [render.dumps(r) for r in rows]
            for m in malformed:
                if m < len(frags):
                    frags[m] = state.faults.malformed_row(rows[m], start, end)
            return Answer(render.json_array(frags))
        lines = [
            b"%s,%r,%r,%r,%r,%r,%d\n"
            % (
                r["date"].encode(),
                r["open"],
                r["high"],
                r["low"],
                r["close"],
                r["adjusted_close"],
                r["volume"],
            )
            for r in rows
        ]
        return Answer(render.csv_body(render.EOD_CSV_HEADER, lines), "text/csv")

    if call.json:
        return Answer(render.eod_json(path, known, i, j, descending=order == "d"))
    return Answer(render.eod_csv(path, known, i, j, descending=order == "d"), "text/csv")


def _bulk_codes(call: Call, exchange: str) -> list[str] | None:
    raw = call.query.get("symbols")
    if not raw:
        return None
    codes = []
    for item in raw.split(","):
        item = item.strip()
        if not item:
            continue
        code, exch = _split_ticker(item)
        # "MSFT" or "MSFT.US" both name a code of this exchange.
        codes.append(code if "." in item and exch == exchange else item)
    return codes


async def eod_bulk(call: Call) -> Answer:
    requested = call.request.match_info["exchange"].upper()
    uni = call.state.universe
    venue: str | None = None
    exchange = requested
    if requested in US_BULK_VENUES:
        exchange, venue = "US", requested
    if not uni.has_exchange(exchange):
        raise NotFound("Exchange Not Found")
    codes = _bulk_codes(call, exchange)
    cost = COSTS["eod-bulk-last-day"] + (len(codes) if codes else 0)
    day = call.date_param("date")
    kind = call.query.get("type", "").lower()
    if kind not in ("", "eod", "splits", "dividends"):
        raise BadRequest("type")
    avail = uni.available_through(exchange, call.now)
    if day is None:
        day = avail
    if day is None or avail is None or day > avail:
        empty = b"[]" if call.json or kind else render.BULK_CSV_HEADER
        return Answer(empty, "application/json" if empty == b"[]" else "text/csv", cost=cost)

    syms = (
        uni.symbols(exchange)
        if codes is None
        else [s for c in codes if (s := uni.symbol(exchange, c)) is not None]
    )
    if venue is not None:
        syms = [s for s in syms if s.venue == venue]

    if kind in ("splits", "dividends"):
        rows: list[dict[str, Any]] = []
        for s in syms:
            if s.listed_on > day or (s.delisted_on and s.delisted_on < day):
                continue
            path = uni.path(exchange, s.code, avail)
            if kind == "splits":
                rows += [
                    {
                        "code": s.code,
                        "exchange": exchange,
                        "date": day.isoformat(),
                        "split": sp.text,
                    }
                    for sp in path.splits
                    if sp.date == day
                ]
            else:
                for dv in path.dividends:
                    if dv.date != day:
                        continue
                    value = uni.split_adjusted_dividend(path, dv, avail)
                    rows.append(
                        {
                            "code": s.code,
                            "exchange": exchange,
                            "date": day.isoformat(),
                            # Bulk sends amounts as text and unknown dates as "" (the
                            # contract); `/div/` sends numbers and nulls.
                            "dividend": f"{value:.5f}",
                            "currency": dv.currency,
                            "declarationDate": _iso_or_empty(dv.declaration_date),
                            "recordDate": _iso_or_empty(dv.record_date),
                            "paymentDate": _iso_or_empty(dv.payment_date),
                            "period": dv.period,
                            "unadjustedValue": f"{dv.value:.10f}",
                        }
                    )
        return Answer(render.dumps(rows), cost=cost)

    extended = call.query.get("filter", "") == "extended"
    out_rows: list[dict[str, Any]] = []
    for s in syms:
        if s.listed_on > day or (s.delisted_on and s.delisted_on < day):
            continue
        path = uni.path(exchange, s.code, avail)
        i = path.index_of(day)
        if i is None:
            continue
        adj = path.adjusted(path.known_actions(avail))[i]
        row: dict[str, Any] = {"code": s.code, "exchange_short_name": exchange}
        row.update(render.row_dict(path, i, adj))
        if extended:
            prev = path.close[i - 1] if i > 0 else None
            row.update(
                {
                    "name": s.name,
                    "type": s.type,
                    "prev_close": prev,
                    "change": None if prev is None else round(path.close[i] - prev, 4),
                    "change_p": None if not prev else round(100 * (path.close[i] / prev - 1), 4),
                }
            )
        out_rows.append(row)
    if call.json:
        return Answer(render.dumps(out_rows), cost=cost)
    keys = [
        "code",
        "exchange_short_name",
        "date",
        "open",
        "high",
        "low",
        "close",
        "adjusted_close",
        "volume",
    ]
    header = ["Code", "Ex", "Date", "Open", "High", "Low", "Close", "Adjusted_close", "Volume"]
    return Answer(render.csv_lines(header, out_rows, keys), "text/csv", cost=cost)


def _iso_or_empty(d: date | None) -> str:
    return "" if d is None else d.isoformat()


def _iso_or_none(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _in_range(d: date, start: date | None, end: date | None) -> bool:
    return (start is None or d >= start) and (end is None or d <= end)


async def splits(call: Call) -> Answer:
    start, end = call.date_param("from"), call.date_param("to")
    _, _, path, avail = _path_for(call, call.request.match_info["ticker"])
    rows = [
        {"date": s.date.isoformat(), "split": s.text}
        for s in path.splits
        if avail is not None and s.date <= avail and _in_range(s.date, start, end)
    ]
    if call.json:
        return Answer(render.dumps(rows))
    return Answer(render.csv_lines(["Date", "Stock Splits"], rows, ["date", "split"]), "text/csv")


async def dividends(call: Call) -> Answer:
    start, end = call.date_param("from"), call.date_param("to")
    _, _, path, avail = _path_for(call, call.request.match_info["ticker"])
    uni = call.state.universe
    rows = [
        {
            "date": d.date.isoformat(),
            "declarationDate": _iso_or_none(d.declaration_date),
            "recordDate": _iso_or_none(d.record_date),
            "paymentDate": _iso_or_none(d.payment_date),
            "period": d.period,
            "value": uni.split_adjusted_dividend(path, d, avail),
            "unadjustedValue": d.value,
            "currency": d.currency,
        }
        for d in path.dividends
        if avail is not None and d.date <= avail and _in_range(d.date, start, end)
    ]
    if call.json:
        return Answer(render.dumps(rows))
    return Answer(render.csv_lines(["Date", "Dividends"], rows, ["date", "value"]), "text/csv")


async def symbol_change_history(call: Call) -> Answer:
    """Ticker changes with an effective date in [from, to] (default: all), US only and
    from 2022-07-22 (the contract), none after the simulator clock's day."""
    start, end = call.date_param("from"), call.date_param("to")
    today = call.state.local_today("US", call.now)
    rows = [
        {
            "exchange": r.exchange,
            "old_symbol": r.old,
            "new_symbol": r.new,
            "company_name": r.name or (sym.name if sym else None),
            "effective": r.date.isoformat(),
        }
        for r in call.state.universe.renames()
        if r.exchange in CHANGE_HISTORY_EXCHANGES
        and CHANGE_HISTORY_SINCE <= r.date <= today
        and _in_range(r.date, start, end)
        for sym in [call.state.universe.symbol(r.exchange, r.new)]
    ]
    if call.json:
        return Answer(render.dumps(rows))
    keys = ["exchange", "old_symbol", "new_symbol", "company_name", "effective"]
    return Answer(render.csv_lines(keys, rows, keys), "text/csv")


async def user(call: Call) -> Answer:
    state = call.state
    day = call.now.astimezone(UTC).date()
    quota = state.config.free_daily_quota if call.free else state.config.daily_quota
    body = {
        "name": "Simulator User",
        "email": "simulator@example.invalid",
        "subscriptionType": "free" if call.free else "commercial",
        "paymentMethod": "Not Available",
        "apiRequests": state.ledger.usage(call.token, day),
        "apiRequestsDate": day.isoformat(),
        "dailyRateLimit": quota,
        "extraLimit": 0,
        "inviteToken": None,
        "inviteTokenClicked": 0,
        "subscriptionMode": "free" if call.free else "paid",
        "canManageOrganizations": False,
    }
    return Answer(render.dumps(body))


ENDPOINTS: tuple[tuple[str, str, Endpoint], ...] = (
    ("exchanges-list", "/api/exchanges-list", exchanges_list),
    ("exchange-symbol-list", "/api/exchange-symbol-list/{exchange}", exchange_symbol_list),
    ("exchange-details", "/api/exchange-details/{exchange}", exchange_details),
    ("eod", "/api/eod/{ticker}", eod),
    ("eod-bulk-last-day", "/api/eod-bulk-last-day/{exchange}", eod_bulk),
    ("splits", "/api/splits/{ticker}", splits),
    ("div", "/api/div/{ticker}", dividends),
    ("symbol-change-history", "/api/symbol-change-history", symbol_change_history),
    ("user", "/api/user", user),
)
