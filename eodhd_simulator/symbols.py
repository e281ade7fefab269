"""The simulated symbol lists: who is listed where, when, and under which awkward code.

Each exchange's list is drawn from its own seed; listing and delisting dates, venues,
ISINs and thin trading from each symbol's own, so a symbol keeps its facts when the list
around it changes size.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from eodhd_simulator.calendar import simulated_exchange
from eodhd_simulator.seeds import rng

#: Share of symbols that are delisted (the brief: ~15%).
DELISTED_SHARE = 0.15
#: Share of listed-and-later-delisted symbols that died before history_start, so they
#: have no prices at all (the contract: "those delisted before about 2014 often have no
#: prices at all").
DELISTED_LONG_AGO_SHARE = 0.5
#: Latest listing/delisting date generated: keeps the default fixture clock (2026-11-20)
#: seeing recent listings and delistings, and a real clock a little after that too.
LAST_EVENT_DATE = date(2026, 11, 13)
#: Share of non-forex symbols that trade thinly: missing days and flat zero-volume days
#: (the contract: "low-volume tickers have gaps", "zero-volume flat rows exist").
ILLIQUID_SHARE = 0.1

#: Forex pairs on the virtual FOREX exchange with a starting level.
FOREX_PAIRS: tuple[tuple[str, str, float], ...] = (
    ("EURUSD", "USD", 1.37),
    ("GBPUSD", "USD", 1.65),
    ("USDJPY", "JPY", 104.9),
    ("USDCHF", "CHF", 0.89),
    ("AUDUSD", "USD", 0.89),
    ("EURGBP", "GBP", 0.83),
    ("USDCAD", "CAD", 1.06),
    ("NZDUSD", "USD", 0.82),
)

#: Codes and names that exercise URL encoding and text handling (the contract: hyphens for
#: class shares, `&` that must be percent-encoded, codes are opaque text).
SPECIAL_SYMBOLS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "US": (
        ("BRK-B", "Berkshire Hathaway Inc. Class B", "Common Stock"),
        ("BF-B", "Brown-Forman Corporation Class B", "Common Stock"),
        ("O'REILLY", "O'Reilly Automotive, Inc.", "Common Stock"),
        ("PB&J", "Peanut Butter & Jelly Holdings Corp", "Common Stock"),
        ("BAC-PL", "Bank of America Corp 7.25% Non-Cum Perp Conv Pfd Ser L", "Preferred Stock"),
    ),
    "LSE": (
        ("M&G", "M&G plc", "Common Stock"),
        ("BT-A", "BT Group plc", "Common Stock"),
        ("L&GX", "Legal & General UK Index Trust", "FUND"),
    ),
    "XETRA": (
        ("MÜV2", "Münchener Rückversicherungs-Gesellschaft AG", "Common Stock"),
        ("SGE", "Société Générale S.A.", "Common Stock"),
        ("1COV", "Covestro AG", "Common Stock"),
    ),
}

_NAME_A = (
    "Atlantic",
    "Northern",
    "Pacific",
    "Summit",
    "Blue",
    "Silver",
    "Granite",
    "Pioneer",
    "Harbor",
    "Evergreen",
    "Liberty",
    "Crescent",
    "Sterling",
    "Meridian",
    "Apex",
    "Cedar",
    "Golden",
    "Iron",
    "Keystone",
    "Lakeside",
    "Oak",
    "Prairie",
    "Redwood",
    "Vertex",
)
_NAME_B = (
    "Energy",
    "Holdings",
    "Capital",
    "Systems",
    "Pharma",
    "Foods",
    "Logistics",
    "Mining",
    "Networks",
    "Retail",
    "Materials",
    "Robotics",
    "Bancorp",
    "Insurance",
    "Media",
    "Semiconductor",
    "Utilities",
    "Biotech",
    "Aerospace",
    "Realty",
)
_SUFFIX = {"US": "Inc", "LSE": "plc", "XETRA": "AG", "VI": "AG", "WAR": "SA"}
_ISIN_PREFIX = {"US": "US", "LSE": "GB00", "XETRA": "DE000", "VI": "AT0000", "WAR": "PL"}
#: Security types listed per exchange, with their shares of the list.
_TYPES: dict[str, tuple[tuple[str, float], ...]] = {
    "US": (("Common Stock", 0.66), ("ETF", 0.14), ("FUND", 0.1), ("Preferred Stock", 0.1)),
    "LSE": (("Common Stock", 0.75), ("ETF", 0.15), ("FUND", 0.1)),
    "XETRA": (("Common Stock", 0.8), ("ETF", 0.2)),
    "VI": (("Common Stock", 0.9), ("ETF", 0.1)),
    "WAR": (("Common Stock", 0.9), ("ETF", 0.1)),
}


@dataclass(frozen=True)
class SymbolInfo:
    """One row of `/exchange-symbol-list/` plus the life span the simulator gives it."""

    code: str
    name: str
    type: str
    venue: str
    currency: str
    country: str
    isin: str | None
    listed_on: date
    delisted_on: date | None
    exchange: str = ""
    #: Thin trading: gaps and zero-volume flat days.
    illiquid: bool = False

    def is_active(self, day: date) -> bool:
        return self.listed_on <= day and (self.delisted_on is None or self.delisted_on > day)


def _isin(prefix: str, draw: random.Random) -> str:
    """A syntactically valid ISIN (Luhn check digit over the letter-expanded body)."""
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    body = prefix + "".join(
        draw.choice(alphabet[:10] if prefix != "US" else alphabet) for _ in range(11 - len(prefix))
    )
    digits = "".join(str(int(ch, 36)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 0:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return body + str((10 - total % 10) % 10)


def make_symbols(seed: int, history_start: date, exchange: str, n: int) -> list[SymbolInfo]:
    """The symbols of `exchange`: `n` of them (specials first, forex pairs on FOREX)."""
    if exchange == "FOREX":
        return [
            SymbolInfo(
                code=code,
                name=f"{code[:3]}/{code[3:]}",
                type="Currency",
                venue="FOREX",
                currency=ccy,
                country="Unknown",
                isin=None,
                listed_on=date(2000, 1, 3),
                delisted_on=None,
                exchange="FOREX",
            )
            for code, ccy, _ in FOREX_PAIRS[: max(1, min(8, n))]
        ]
    draw = rng(seed, "symbols", exchange)
    specials = SPECIAL_SYMBOLS.get(exchange, ())
    used: set[str] = set()
    plan: list[tuple[str, str, str]] = []
    for code, name, typ in specials[:n]:
        used.add(code)
        plan.append((code, name, typ))
    types = _TYPES[exchange]
    while len(plan) < n:
        length = draw.choice((3, 4, 4) if exchange != "US" else (2, 3, 4, 4))
        code = "".join(draw.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(length))
        u = draw.random()
        typ = types[-1][0]
        for t, share in types:
            if u < share:
                typ = t
                break
            u -= share
        if typ == "Preferred Stock":
            code += "-P" + draw.choice("ABCDE")
        if code in used:
            continue
        used.add(code)
        name = f"{draw.choice(_NAME_A)} {draw.choice(_NAME_B)}"
        name += {"ETF": " ETF", "FUND": " Fund", "Preferred Stock": " Pref"}.get(
            typ, f" {_SUFFIX[exchange]}"
        )
        plan.append((code, name, typ))

    listing = simulated_exchange(exchange)
    out: list[SymbolInfo] = []
    span_days = (LAST_EVENT_DATE - history_start).days
    for idx, (code, name, typ) in enumerate(plan):
        r = rng(seed, "symbol", exchange, code)
        special = idx < len(specials)
        if special or r.random() < 0.6:
            listed = history_start - timedelta(days=r.randint(30, 9000))
        else:
            listed = history_start + timedelta(days=r.randint(0, span_days - 60))
        delisted: date | None = None
        if not special and r.random() < DELISTED_SHARE:
            if r.random() < DELISTED_LONG_AGO_SHARE:
                listed = history_start - timedelta(days=r.randint(2000, 7000))
                delisted = history_start - timedelta(days=r.randint(10, 1500))
            else:
                first = max(listed, history_start) + timedelta(days=120)
                room = max(1, (LAST_EVENT_DATE - first).days)
                delisted = first + timedelta(days=r.randint(0, room))
        venue = exchange
        if exchange == "US":
            venue = {
                "ETF": r.choice(("NYSE ARCA", "NYSE ARCA", "BATS")),
                "Preferred Stock": "NYSE",
                "FUND": "NASDAQ",
            }.get(typ, r.choice(("NYSE", "NASDAQ", "NASDAQ")))
        currency = listing.currency
        if exchange == "LSE" and typ == "ETF" and r.random() < 0.3:
            currency = "USD"  # LSE lists some ETFs in dollars (the contract: units vary)
        isin = None if (typ == "FUND" or r.random() < 0.1) else _isin(_ISIN_PREFIX[exchange], r)
        out.append(
            SymbolInfo(
                code=code,
                name=name,
                type=typ,
                venue=venue,
                currency=currency,
                country=listing.country,
                isin=isin,
                listed_on=listed,
                delisted_on=delisted,
                exchange=exchange,
                illiquid=(not special) and r.random() < ILLIQUID_SHARE,
            )
        )
    # A reused code: the old holder is renamed `ABC_old` (the contract).
    reusable = [s for s in out[len(specials) : -1] if s.delisted_on is None]
    if reusable and n >= 10:
        base = reusable[0]
        out[-1] = SymbolInfo(
            code=f"{base.code}_old",
            name=f"{base.name} (old)",
            type="Common Stock",
            venue=base.venue,
            currency=base.currency,
            country=base.country,
            isin=None,
            listed_on=history_start + timedelta(days=30),
            delisted_on=history_start + timedelta(days=900),
            exchange=exchange,
        )
    return out
