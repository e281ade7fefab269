"""Fetch EODHD's exchanges list and the trading hours of its exchanges, and store them.

`fetch_exchange_facts` is what the `exchange_details` asset runs; run as a module it does
the same outside Dagster:

    python -m eod_pipeline.markets.fetch VI WAR     # the list + 2 exchanges: 3 calls
    python -m eod_pipeline.markets.fetch            # the list + every listed exchange

Why a command besides the assets: a configured code the registry does not know fails the
definitions load (that is the point: no silent guess of a time zone), so while it is in
EOD_EXCHANGES the UI cannot be used to fetch its facts. The command stores them in the
warehouse (when one is configured and migrated) and in the cache file, after which the
definitions load with the code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sys
from collections.abc import Sequence

import polars as pl

from eod_pipeline.eodhd.client import EodhdClient
from eod_pipeline.eodhd.errors import EodhdError
from eod_pipeline.eodhd.models import ExchangeDetails
from eod_pipeline.markets.stored import details_frame, write_cache

#: Holiday window asked with each details call: the answer's holidays are not kept here
#: (the `exchange_calendars` asset keeps them), so the smallest window: today alone.
_HOLIDAY_WINDOW = dt.timedelta(0)


@dataclasses.dataclass(frozen=True)
class ExchangeFacts:
    """The exchanges list, the details rows (eod.exchange_details) and what failed."""

    listed: pl.DataFrame
    details: pl.DataFrame
    failures: dict[str, str]


async def fetch_exchange_facts(client: EodhdClient, codes: Sequence[str] | None = None,
                               today: dt.date | None = None,
                               listed: pl.DataFrame | None = None) -> ExchangeFacts:
    """The list (1 call, unless `listed` is the stored one) and the details of `codes`
    (default: every listed code; 1 call each). A code whose details fail is reported in
    `failures`, the others are kept."""
    if listed is None:
        listed = await client.exchanges()
    wanted = list(codes) if codes else listed["code"].drop_nulls().to_list()
    today = today or dt.date.today()

    async def one(code: str) -> ExchangeDetails:
        answer = await client.exchange_details(code, today, today + _HOLIDAY_WINDOW)
        # The request's code wins: it is what EOD_EXCHANGES and the partitions use.
        return dataclasses.replace(answer, code=code)

    answers = await asyncio.gather(*(one(c) for c in wanted), return_exceptions=True)
    got: list[ExchangeDetails] = []
    failures: dict[str, str] = {}
    for code, answer in zip(wanted, answers, strict=True):
        if isinstance(answer, EodhdError):
            failures[code] = f"{type(answer).__name__}: {answer}"
        elif isinstance(answer, BaseException):
            raise answer
        else:
            got.append(answer)
    frame = details_frame(got, dt.datetime.now(dt.UTC))
    for code in set(wanted) - set(frame["code"].to_list()) - set(failures):
        failures[code] = "the answer has no time zone or close"
    return ExchangeFacts(listed, frame, failures)


def main(argv: Sequence[str]) -> int:
    """Fetch, then store in the warehouse (if any) and the cache file."""
    from eod_pipeline.eodhd.settings import EodhdSettings
    from eod_pipeline.warehouse.connection import connect, existing_database_url
    from eod_pipeline.warehouse.migrations import check_schema
    from eod_pipeline.warehouse.tables import EXCHANGE_DETAILS, EXCHANGES
    from eod_pipeline.warehouse.writer import write_frames

    codes = [c.strip().upper() for c in argv if c.strip()]

    async def go() -> ExchangeFacts:
        async with EodhdClient(EodhdSettings.from_env()) as client:
            return await fetch_exchange_facts(client, codes or None)

    facts = asyncio.run(go())
    for code, why in sorted(facts.failures.items()):
        print(f"{code}: not stored: {why}", file=sys.stderr)
    url = existing_database_url()
    if url:
        try:
            with connect(url) as conn:
                check_schema(conn)
                write_frames(conn, EXCHANGES, facts.listed.select(EXCHANGES.column_names))
                write_frames(conn, EXCHANGE_DETAILS, facts.details)
                conn.commit()
            print(f"stored {facts.details.height} exchanges' trading hours in the warehouse")
        except Exception as exc:  # the cache file below still makes them usable
            print(f"warehouse not written: {type(exc).__name__}: {exc}", file=sys.stderr)
    path = write_cache(facts.listed, facts.details)
    print(f"wrote {path} ({facts.details.height} exchanges)")
    return 1 if facts.failures and facts.details.is_empty() else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
