"""Async EODHD client: the catalogue of endpoints this project uses, one method each.

Usage:

    async with EodhdClient(EodhdSettings.from_env()) as client:
        await client.ensure_quota(needed=5_000)
        frame = await client.eod_history("US", "AAPL", start, end)

Each method builds a `Request` (path, parameters, parser) and hands it to `_call`, which
composes the pieces, one job per module:
- transport.py: the pooled aiohttp session, one GET per attempt, accounting, the mapping
  of HTTP statuses to `EodhdError`s;
- pacing.py: never faster than the per-minute limit. The API, not the machine, bounds a
  backfill (../shared/eodhd-api.md, Cost arithmetic), so requests run concurrently but
  paced;
- retry.py: faults retried with backoff under a bounded budget, 429s under their own;
- quota.py: a 402 stops the whole job at once (every queued or in-flight billable request
  fails fast with `QuotaExhaustedError`, none reaches the server);
- headers.py: rate-limit, Retry-After and Date headers.

The token is a query parameter and EODHD echoes URLs in error bodies, so every message
goes through the redactor (redaction.py), logged URLs carry no token, and no exception
raised here chains an aiohttp exception (whose text includes the URL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import polars as pl

from eod_pipeline.eodhd import parsing
from eod_pipeline.eodhd.errors import EodhdError
from eod_pipeline.eodhd.headers import Clock, server_now
from eod_pipeline.eodhd.models import ExchangeDetails, UserInfo
from eod_pipeline.eodhd.pacing import Pacer
from eod_pipeline.eodhd.quota import QuotaStop, require
from eod_pipeline.eodhd.redaction import Redactor, TokenRedactingFilter
from eod_pipeline.eodhd.retry import RetryPolicy, with_retries
from eod_pipeline.eodhd.settings import EodhdSettings
from eod_pipeline.eodhd.transport import ClientContext, Request, Transport
from eod_pipeline.eodhd.usage import Usage

logger = logging.getLogger(__name__)
logger.addFilter(TokenRedactingFilter())


def _encode_segment(text: str) -> str:
    """One path segment, percent-encoded whole: codes are opaque (M&G, O'NEIL, non-ASCII)."""
    return quote(text, safe="")


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _scrub_chain(exc: BaseException) -> None:
    """Drop `__cause__`/`__context__` so no transport exception (URL + token) rides along."""
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True


class EodhdClient:
    """Async client of the EODHD endpoints this project uses. See the module docstring.

    Use as `async with EodhdClient(settings) as client:`; one aiohttp session (pooled
    connector) lives for the block. `usage` accumulates costs and counts for the run.
    """

    def __init__(self, settings: EodhdSettings, *, clock: Clock | None = None) -> None:
        """`clock` overrides what "now" is for quota days and reset times. By default the
        server's clock (HTTP `Date`) decides, since the quota resets by the server's
        midnight; a simulator with a frozen clock needs the same clock passed here."""
        self.settings = settings
        self._clock = clock
        self.usage = Usage()
        self._redactor = Redactor([settings.token])
        self._quota = QuotaStop(self._log, clock)
        self._pacer = Pacer(
            settings.requests_per_minute,
            settings.max_in_flight,
            window_s=settings.rate_window_s,
            sleep=self._quota.sleep,
        )
        self._context = ClientContext(settings, self.usage, self._redactor, self._log)
        self._transport = Transport(self._context, pacer=self._pacer, on_402=self._quota.on_402)

    def __repr__(self) -> str:
        return f"EodhdClient(settings={self.settings!r}, requests={self.usage.requests})"

    __str__ = __repr__

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> EodhdClient:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def open(self) -> None:
        """Create the session. One per run: connections are pooled and kept alive."""
        await self._transport.open()

    async def close(self) -> None:
        await self._transport.close()

    @property
    def pacer(self) -> Pacer:
        """The pacing state (rate, pauses, server-reported limit) for inspection."""
        return self._pacer

    @property
    def quota_exhausted(self) -> bool:
        """True once any request got 402: the client refuses further billable calls."""
        return self._quota.tripped

    # ----------------------------------------------------------------- endpoints

    async def exchanges(self) -> pl.DataFrame:
        """`/exchanges-list/` -> EXCHANGES (virtual exchanges have a null operating_mic)."""
        return await self._call(
            Request(
                "exchanges-list",
                "exchanges-list/",
                (),
                lambda b, ct: parsing.parse_table(b, parsing.EXCHANGES_SPEC, content_type=ct),
            )
        )

    async def symbols(
        self, exchange: str, delisted: bool = False, *, security_type: str | None = None
    ) -> pl.DataFrame:
        """`/exchange-symbol-list/{EXCH}` -> SYMBOLS (`security_type`: the API's `type=`,
        e.g. "common_stock", "etf").

        `delisted=True` sends `delisted=1`, which returns the delisted tickers ONLY (not
        listed + delisted); `all_symbols` combines both.
        """
        params: list[tuple[str, str]] = []
        if delisted:
            params.append(("delisted", "1"))
        if security_type:
            params.append(("type", security_type))
        constants = {"delisted": delisted}
        return await self._call(
            Request(
                "exchange-symbol-list",
                f"exchange-symbol-list/{_encode_segment(exchange)}",
                tuple(params),
                lambda b, ct: parsing.parse_table(
                    b, parsing.SYMBOLS_SPEC, content_type=ct, constants=constants
                ),
                exchange=exchange,
            )
        )

    async def all_symbols(self, exchange: str, *, security_type: str | None = None) -> pl.DataFrame:
        """Listed and delisted tickers of `exchange` (2 calls), `delisted` telling which."""
        listed, gone = await asyncio.gather(
            self.symbols(exchange, False, security_type=security_type),
            self.symbols(exchange, True, security_type=security_type),
        )
        return pl.concat([listed, gone], how="vertical")

    async def exchange_details(
        self, exchange: str, start: dt.date | None = None, end: dt.date | None = None
    ) -> ExchangeDetails:
        """`/exchange-details/{EXCH}`: timezone, hours, working days, holidays in [start, end]."""
        return await self._call(
            Request(
                "exchange-details",
                f"exchange-details/{_encode_segment(exchange)}",
                self._range_params(start, end),
                lambda b, ct: parsing.parse_exchange_details(b),
                exchange=exchange,
            )
        )

    async def eod_history(
        self,
        exchange: str,
        code: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """`/eod/{CODE}.{EXCH}` daily bars in [start, end] (inclusive) -> EOD_HISTORY.

        One call whatever the range. Raises `TickerNotFoundError` on 404.
        """
        return await self._call(
            Request(
                "eod",
                f"eod/{self._ticker_segment(exchange, code)}",
                self._range_params(start, end),
                lambda b, ct: parsing.parse_table(b, parsing.EOD_HISTORY_SPEC, content_type=ct),
                ticker=f"{code}.{exchange}",
            )
        )

    async def bulk_eod(
        self, exchange: str, day: dt.date | None = None, symbols: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """`/eod-bulk-last-day/{EXCH}` bars of one date (default: last trading day) -> EOD_BULK.

        Costs 100 calls, 100 + N with `symbols` (N tickers).
        """
        params: list[tuple[str, str]] = []
        if day is not None:
            params.append(("date", day.isoformat()))
        n_symbols = None
        if symbols:
            symbols = list(symbols)
            params.append(("symbols", ",".join(symbols)))
            n_symbols = len(symbols)
        return await self._call(
            Request(
                "eod-bulk-last-day",
                f"eod-bulk-last-day/{_encode_segment(exchange)}",
                tuple(params),
                lambda b, ct: parsing.parse_table(b, parsing.EOD_BULK_SPEC, content_type=ct),
                exchange=exchange,
                n_symbols=n_symbols,
            )
        )

    async def bulk_splits(self, exchange: str, day: dt.date | None = None) -> pl.DataFrame:
        """`/eod-bulk-last-day/{EXCH}?type=splits` of one date -> SPLITS (100 calls)."""
        return await self._bulk_events(exchange, day, "splits", parsing.SPLITS_SPEC)

    async def bulk_dividends(self, exchange: str, day: dt.date | None = None) -> pl.DataFrame:
        """`/eod-bulk-last-day/{EXCH}?type=dividends` of one date -> DIVIDENDS (100 calls)."""
        return await self._bulk_events(exchange, day, "dividends", parsing.BULK_DIVIDENDS_SPEC)

    async def splits(
        self,
        exchange: str,
        code: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """`/splits/{CODE}.{EXCH}` -> SPLITS with `code` filled in."""
        return await self._ticker_events("splits", exchange, code, start, end, parsing.SPLITS_SPEC)

    async def dividends(
        self,
        exchange: str,
        code: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> pl.DataFrame:
        """`/div/{CODE}.{EXCH}` -> DIVIDENDS with `code` filled in; "" dates become null."""
        return await self._ticker_events("div", exchange, code, start, end, parsing.DIVIDENDS_SPEC)

    async def symbol_changes(
        self, start: dt.date | None = None, end: dt.date | None = None
    ) -> pl.DataFrame:
        """`/symbol-change-history?from=&to=` -> SYMBOL_CHANGES: ticker changes (old code,
        new code, effective date, e.g. FB -> META) in [start, end].

        US only, data since 2022-07-22; costs 5 calls a request whatever the range, so
        ask for the whole window at once (eodhd-api.md, More facts).
        """
        return await self._call(
            Request(
                "symbol-change-history",
                "symbol-change-history",
                self._range_params(start, end),
                lambda b, ct: parsing.parse_table(b, parsing.SYMBOL_CHANGES_SPEC, content_type=ct),
            )
        )

    async def user(self) -> UserInfo:
        """`/user` (free): today's usage against the daily limit, reset at midnight GMT."""
        holder: dict[str, dt.datetime] = {}

        def parse(body: bytes, content_type: str) -> UserInfo:
            now = holder.get("now") or dt.datetime.now(dt.UTC)
            return parsing.parse_user(body, now=now, zero_stale=self._clock is not None)

        request = Request("user", "user", (), parse)
        return await self._call(request, server_time=holder)

    async def remaining_quota(self) -> int:
        """API calls left today, per `/user`."""
        return (await self.user()).remaining

    async def ensure_quota(self, needed: int) -> UserInfo:
        """Fail before a job starts if it needs more calls than remain today.

        Raises `InsufficientQuotaError` (needed vs remaining vs reset time).
        """
        return require(needed, await self.user())

    # ----------------------------------------------------------------- helpers

    @staticmethod
    def _ticker_segment(exchange: str, code: str) -> str:
        return f"{_encode_segment(code)}.{_encode_segment(exchange)}"

    @staticmethod
    def _range_params(start: dt.date | None, end: dt.date | None) -> tuple[tuple[str, str], ...]:
        return tuple((k, v) for k, v in (("from", _iso(start)), ("to", _iso(end))) if v)

    async def _bulk_events(
        self, exchange: str, day: dt.date | None, kind: str, spec: parsing.TableSpec
    ) -> pl.DataFrame:
        params = [("type", kind)]
        if day is not None:
            params.append(("date", day.isoformat()))
        return await self._call(
            Request(
                "eod-bulk-last-day",
                f"eod-bulk-last-day/{_encode_segment(exchange)}",
                tuple(params),
                lambda b, ct: parsing.parse_table(b, spec, content_type=ct),
                exchange=exchange,
            )
        )

    async def _ticker_events(
        self,
        endpoint: str,
        exchange: str,
        code: str,
        start: dt.date | None,
        end: dt.date | None,
        spec: parsing.TableSpec,
    ) -> pl.DataFrame:
        constants = {"code": code}
        return await self._call(
            Request(
                endpoint,
                f"{endpoint}/{self._ticker_segment(exchange, code)}",
                self._range_params(start, end),
                lambda b, ct: parsing.parse_table(b, spec, content_type=ct, constants=constants),
                ticker=f"{code}.{exchange}",
            )
        )

    def _log(self, level: int, message: str) -> None:
        """The one log callback of the client and its pieces: redacted with the real token."""
        if logger.isEnabledFor(level):
            logger.log(level, "%s", self._redactor.redact(message))

    # ----------------------------------------------------------------- core

    async def _call(
        self, request: Request, *, server_time: dict[str, dt.datetime] | None = None
    ) -> Any:
        """Run `request` with retries; every error leaves here redacted and unchained.

        `server_time`, when given, receives the answer's "now" (see `headers.server_now`)
        under "now" before the body is parsed: `/user` needs it to tell a stale count.
        """
        policy = RetryPolicy(self._context, request, pause_all=self._pacer.pause_for)
        try:
            return await with_retries(
                self._attempt, request, server_time, policy=policy, sleep=self._quota.sleep
            )
        except EodhdError as exc:
            _scrub_chain(exc)
            raise

    async def _attempt(self, request: Request, server_time: dict[str, dt.datetime] | None) -> Any:
        """One request: wait for a slot and the pacer, send, classify, parse.

        The stop is checked before each wait and again after it: a 402 may trip it while
        this request queued, and then it must not reach the server.
        """
        self._quota.check(request.endpoint)
        async with self._pacer.semaphore:
            self._quota.check(request.endpoint)
            await self._pacer.limiter.acquire()
            self._quota.check(request.endpoint)
            answer = await self._quota.guard(request.endpoint, self._transport.send(request))
        if server_time is not None:
            server_time["now"] = server_now(answer.headers, self._clock)
        return await self._transport.handle(request, answer)
