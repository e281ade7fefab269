"""Exchanges beyond the built-in registry: EODHD's own facts, stored, read with no API call.

EODHD serves about 70 exchanges (`/exchanges-list/`); `registry.py` has hand-checked
records of 30. Any other code of the list can be configured once two facts are stored:

- its entry in EODHD's exchanges list: `eod.exchanges`, written by the `exchanges` asset
  (1 call);
- its time zone and trading hours from `/exchange-details/{EXCH}`: `eod.exchange_details`,
  written by the `exchange_details` asset (1 call per listed exchange), which also keeps a
  copy in a cache file beside the embedded cluster (`$EOD_HOME/exchange_details.json`).

Why stored and not fetched on demand: Dagster builds an exchange's partitions (in its
zone) and freshness deadlines (at its close) when the definitions load, which must not
spend calls or need the network. The look-up reads the warehouse first (the one place a
deployment's code server and run workers share), then the cache file (definitions still
load on a laptop whose embedded cluster is stopped).

EODHD publishes no data delay per exchange: ../shared/eodhd-api.md says "other exchanges
2-3 hours after their close"; such an exchange gets the upper end, so the daily refresh
never asks for a day before it is out.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from eod_pipeline.markets.registry import EXCHANGES, ExchangeInfo

#: Delay after the close for exchanges without a built-in record (the contract's "2-3
#: hours", upper end).
DEFAULT_DATA_DELAY: Final[dt.timedelta] = dt.timedelta(hours=3)
#: The only session days the pipeline's partitions know (see defs/partitions.py).
WEEKDAYS: Final[tuple[str, ...]] = ("Mon", "Tue", "Wed", "Thu", "Fri")
#: The cache file, in the project data directory (EOD_HOME).
CACHE_FILE_NAME: Final[str] = "exchange_details.json"
#: What to do when a code is unknown (named in every error).
HOW_TO_STORE: Final[str] = (
    "materialize the `exchanges` and `exchange_details` assets first (group eod_reference; "
    "while EOD_EXCHANGES lists only codes that load, e.g. US), or run "
    "`python -m eod_pipeline.markets.fetch {code}`")
#: The list fields kept from `/exchanges-list/` (eod.exchanges' columns).
_LIST_FIELDS = ("name", "operating_mic", "country", "currency", "country_iso2", "country_iso3")


def cache_path() -> Path:
    """`$EOD_HOME/exchange_details.json` (default ./.eod_pipeline)."""
    from eod_pipeline.warehouse.embedded import default_home

    return default_home() / CACHE_FILE_NAME


def _time(text: Any) -> dt.time | None:
    if not isinstance(text, str) or not text.strip():
        return None
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            return dt.datetime.strptime(text.strip(), fmt).time()
        except ValueError:
            continue
    return None


def info_from_facts(code: str, listed: Mapping[str, Any] | None,
                    details: Mapping[str, Any]) -> tuple[ExchangeInfo | None, str]:
    """An `ExchangeInfo` from a stored list entry and details row, or why not."""
    zone = str(details.get("timezone") or "")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return None, f"its stored time zone {zone!r} is not an IANA zone"
    close = _time(details.get("close"))
    if close is None:
        return None, f"its stored close {details.get('close')!r} is not a time"
    days = [d.strip() for d in str(details.get("working_days") or "").split(",") if d.strip()]
    if days and set(days) != set(WEEKDAYS):
        return None, (f"it trades on {','.join(days)}, and the pipeline's partitions are "
                      "Mon-Fri only")
    listed = listed or {}
    currency = str(listed.get("currency") or "")
    info = ExchangeInfo(
        code=code,
        name=str(details.get("name") or listed.get("name") or code),
        timezone=zone,
        close=close,
        data_delay=DEFAULT_DATA_DELAY,
        currency=currency,
        operating_mic=listed.get("operating_mic"),
        country=str(listed.get("country") or ""),
        country_iso2=str(listed.get("country_iso2") or ""),
        country_iso3=str(listed.get("country_iso3") or ""),
        open=_time(details.get("open")),
        venues=(code,),
    )
    return info, ""


def _by_code(frame: pl.DataFrame | None) -> dict[str, dict[str, Any]] | None:
    if frame is None:
        return None
    return {row["code"]: row for row in frame.to_dicts()}


@dataclass
class Lookup:
    """The outcome of looking `code` up beyond the registry: the facts, or what each
    source said (for the error message)."""

    code: str
    info: ExchangeInfo | None = None
    said: list[str] = field(default_factory=list)

    def explain(self) -> str:
        where = "; ".join(self.said) or "no warehouse and no cache file"
        return (f"{self.code!r} is not in the built-in list of {len(EXCHANGES)} and not in "
                f"the stored EODHD exchanges list ({where}): "
                f"{HOW_TO_STORE.format(code=self.code)}.")

    def consider(self, where: str, listed: Mapping[str, dict] | None,
                 details: Mapping[str, dict] | None, problem: str = "") -> bool:
        """Take `where`'s facts if they know the code; note what it said otherwise."""
        if details is not None and self.code in details:
            info, why = info_from_facts(self.code, (listed or {}).get(self.code),
                                        details[self.code])
            if info is not None:
                self.info = info
                return True
            self.said.append(f"{where}: {self.code} is stored but {why}")
            return False
        if listed is not None and self.code in listed:
            self.said.append(f"{where}: {self.code} is listed but its trading hours are not "
                             "stored (the `exchange_details` asset)")
        elif listed is not None:
            self.said.append(f"{where}: {len(listed)} listed codes, not {self.code}")
        else:
            self.said.append(f"{where}: {problem or 'no exchanges list'}")
        return False


def lookup_exchange(code: str) -> Lookup:
    """`code`'s stored facts: the warehouse first, then the cache file."""
    from eod_pipeline.warehouse.connection import existing_database_url
    from eod_pipeline.warehouse.exchange_facts import read_exchange_facts

    found = Lookup(code)
    url = existing_database_url()
    if url:
        facts = read_exchange_facts(url)
        if found.consider(facts.where, _by_code(facts.listed), _by_code(facts.details),
                          facts.problem):
            return found
    path = cache_path()
    cached = read_cache(path)
    if cached is None:
        found.said.append(f"cache file {path}: absent or unreadable")
    else:
        found.consider(f"cache file {path}", cached, cached)
    return found


# ----- the cache file ----------------------------------------------------------------------


def read_cache(path: Path) -> dict[str, dict[str, Any]] | None:
    """Exchanges of the cache file by code (list and details fields together), or None."""
    try:
        payload = json.loads(path.read_text())
        rows = payload["exchanges"]
        return {str(row["code"]): dict(row) for row in rows}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_cache(listed: pl.DataFrame, details: pl.DataFrame, path: Path | None = None
                ) -> Path:
    """Write the exchanges that have details to the cache file (atomically: a load that
    reads it meanwhile sees the old file or the new one, never half of one)."""
    path = path or cache_path()
    entries = _by_code(listed) or {}
    # Exchanges fetched earlier stay (a fetch of one code must not forget the others).
    kept = read_cache(path) or {}
    rows = [row for code, row in kept.items() if code not in set(details["code"].to_list())]
    for row in details.to_dicts():
        entry = {k: entries.get(row["code"], {}).get(k) for k in _LIST_FIELDS}
        entry.update({k: v for k, v in row.items() if k != "fetched_at"})
        entry["name"] = row.get("name") or entry.get("name")
        rows.append(entry)
    payload = {
        "source": "EODHD /exchanges-list/ and /exchange-details/ (the exchange_details asset)",
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "exchanges": sorted(rows, key=lambda r: r["code"]),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)
    return path


# ----- from API answers to rows ------------------------------------------------------------


def details_frame(answers: Iterable[Any], fetched_at: dt.datetime) -> pl.DataFrame:
    """`ExchangeDetails` answers as rows of eod.exchange_details (answers without a zone
    or close are left out: they could not make partitions)."""
    from eod_pipeline.warehouse.tables import EXCHANGE_DETAILS

    rows = [
        {
            "code": d.code,
            "name": d.name or None,
            "timezone": d.timezone,
            "open": d.open_local.strftime("%H:%M:%S") if d.open_local else None,
            "close": d.close_local.strftime("%H:%M:%S"),
            "working_days": ",".join(d.working_days) or None,
            "fetched_at": fetched_at,
        }
        for d in answers
        if d.code and d.timezone and d.close_local is not None
    ]
    return pl.DataFrame(rows, schema=EXCHANGE_DETAILS.polars_schema)
