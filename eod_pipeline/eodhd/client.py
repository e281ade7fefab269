"""Async EODHD client: one pooled aiohttp session per run, paced, retried, accounted.

Usage:

    async with EodhdClient(EodhdSettings.from_env()) as client:
        await client.ensure_quota(needed=5_000)
        frame = await client.eod_history("US", "AAPL", start, end)

Why it is built this way:
- The API, not the machine, bounds a backfill (eodhd-api.md, Cost arithmetic), so the
  client runs many requests concurrently but never faster than the per-minute limit
  (pacing.py) and never wastes calls: a 402 stops the whole job at once (every queued or
  in-flight request fails fast with `QuotaExhaustedError`, none reaches the server).
- Faults are normal at this volume (5xx in the maintenance window, resets, truncated
  bodies): they are retried with backoff under a bounded budget (tenacity), 429s under a
  separate budget, and everything else maps to one exception class callers can act on.
- The token is a query parameter and EODHD echoes URLs in error bodies, so every message
  goes through the redactor, logged URLs carry no query, and no exception raised here
  chains an aiohttp exception (whose text includes the URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

import aiohttp
import polars as pl
import yarl
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from eod_pipeline.eodhd import parsing
from eod_pipeline.eodhd.costs import next_reset, request_cost
from eod_pipeline.eodhd.errors import (
    AuthenticationError,
    BadRequestError,
    EodhdError,
    ExchangeNotFoundError,
    InsufficientQuotaError,
    NotFoundError,
    QuotaExhaustedError,
    RateLimitedError,
    RetriesExhaustedError,
    RetryableError,
    ServerError,
    TickerNotFoundError,
    TransportError,
)
from eod_pipeline.eodhd.models import ExchangeDetails, UserInfo
from eod_pipeline.eodhd.pacing import Pacer
from eod_pipeline.eodhd.redaction import Redactor, TokenRedactingFilter
from eod_pipeline.eodhd.settings import EodhdSettings
from eod_pipeline.eodhd.usage import Usage

logger = logging.getLogger(__name__)
logger.addFilter(TokenRedactingFilter())

#: How much of an error body goes into an exception message (after redaction).
ERROR_BODY_CHARS: Final[int] = 200

#: Bodies at least this large are parsed in a worker thread: polars releases the GIL, so a
#: 10-year history (~340 kB) parses on the second core while the loop keeps the sockets
#: busy. Small bodies parse inline (a thread hop costs more than the parse).
PARSE_IN_THREAD_MIN_BYTES: Final[int] = 64_000

USER_AGENT: Final[str] = "eod-pipeline/0.1 (+aiohttp)"


def _encode_segment(text: str) -> str:
    """One path segment, percent-encoded whole: codes are opaque (M&G, O'NEIL, non-ASCII)."""
    return quote(text, safe="")


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day is not None else None


def _current_task_cancelling() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


def _scrub_chain(exc: BaseException) -> None:
    """Drop `__cause__`/`__context__` so no transport exception (URL + token) rides along."""
    exc.__cause__ = None
    exc.__context__ = None
    exc.__suppress_context__ = True


@dataclass(frozen=True, slots=True)
class _Request:
    """One logical call: retried attempts share it. `params` never hold the token."""

    endpoint: str
    path: str  # percent-encoded, relative to the base URL
    params: tuple[tuple[str, str], ...]
    parse: Callable[[bytes, str], Any]
    ticker: str | None = None
    exchange: str | None = None
    n_symbols: int | None = None

    @property
    def stoppable(self) -> bool:
        """Free endpoints (/user) still work after a 402: they cannot waste budget."""
        return self.endpoint != "user"

    def describe(self) -> str:
        """What a log line may show: path and non-secret parameters."""
        query = urlencode(self.params)
        return f"/{self.path}?{query}" if query else f"/{self.path}"


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    content_type: str


class _RetryPolicy:
    """Per-call retry bookkeeping for tenacity: two budgets, one for 429s.

    5xx / transport / malformed bodies get exponential backoff with jitter and
    `max_retries` retries. A 429 pauses the whole pacer (the window is full for everybody)
    for Retry-After, or a backoff when absent, and gets its own `max_rate_limit_retries`.
    """

    def __init__(self, client: EodhdClient, request: _Request) -> None:
        self._client = client
        self._request = request
        self.faults = 0
        self.rate_limited = 0

    def _backoff(self, n: int) -> float:
        s = self._client.settings
        ceiling = min(s.backoff_cap_s, s.backoff_base_s * (2 ** max(n - 1, 0)))
        # "Equal jitter": at least half the step, so retries do not stampede at ~0 s.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def after(self, state: RetryCallState) -> None:
        """Runs once per failed attempt, before `stop`: count and pause."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError):
            self.rate_limited += 1
            delay = exc.retry_after
            if delay is None:
                delay = self._backoff(self.rate_limited)
            delay = min(delay, self._client.settings.max_retry_after_s)
            self._client._pacer.pause_for(delay)
        else:
            self.faults += 1

    def stop(self, state: RetryCallState) -> bool:
        s = self._client.settings
        return self.faults > s.max_retries or self.rate_limited > s.max_rate_limit_retries

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError):
            return 0.0  # the pacer holds this request (and all others) until the window frees
        return self._backoff(self.faults)

    def before_sleep(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        self._client.usage.retries += 1
        wait = state.upcoming_sleep
        self._client._log(
            logging.INFO,
            f"retrying {self._request.endpoint} {self._request.describe()} in {wait:.2f}s "
            f"after {type(exc).__name__}: {exc} (attempt {state.attempt_number})",
        )

    def give_up(self, state: RetryCallState) -> Any:
        exc = state.outcome.exception() if state.outcome else None
        last = str(exc) if exc is not None else "unknown"
        status = exc.status if isinstance(exc, EodhdError) else None
        err = RetriesExhaustedError(
            endpoint=self._request.endpoint,
            attempts=state.attempt_number,
            last_error=self._client._redactor.redact(last),
            status=status,
        )
        raise err


class EodhdClient:
    """Async client of the EODHD endpoints this project uses. See the module docstring.

    Use as `async with EodhdClient(settings) as client:`; one aiohttp session (pooled
    connector) lives for the block. `usage` accumulates costs and counts for the run.
    """

    def __init__(
        self, settings: EodhdSettings, *, clock: Callable[[], dt.datetime] | None = None
    ) -> None:
        """`clock` overrides what "now" is for quota days and reset times. By default the
        server's clock (HTTP `Date`) decides, since the quota resets by the server's
        midnight; a simulator with a frozen clock needs the same clock passed here."""
        self.settings = settings
        self._clock = clock
        self.usage = Usage()
        self._redactor = Redactor([settings.token])
        self._base = yarl.URL(settings.base_url, encoded=True)
        self._session: aiohttp.ClientSession | None = None
        self._stop_event = asyncio.Event()
        self._resets_at: dt.datetime | None = None
        self._inflight: set[asyncio.Future[_Answer]] = set()
        self._pacer = Pacer(
            settings.requests_per_minute,
            settings.max_in_flight,
            window_s=settings.rate_window_s,
            sleep=self._sleep_unless_stopped,
        )

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
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self.settings.max_in_flight,
            ttl_dns_cache=300,
            keepalive_timeout=30,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.settings.timeout_s),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json, text/csv"},
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def pacer(self) -> Pacer:
        """The pacing state (rate, pauses, server-reported limit) for inspection."""
        return self._pacer

    @property
    def quota_exhausted(self) -> bool:
        """True once any request got 402: the client refuses further billable calls."""
        return self._stop_event.is_set()

    # ----------------------------------------------------------------- endpoints

    async def exchanges(self) -> pl.DataFrame:
        """`/exchanges-list/` -> EXCHANGES (virtual exchanges have a null operating_mic)."""
        return await self._call(
            _Request(
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
            _Request(
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
        params = [(k, v) for k, v in (("from", _iso(start)), ("to", _iso(end))) if v]
        return await self._call(
            _Request(
                "exchange-details",
                f"exchange-details/{_encode_segment(exchange)}",
                tuple(params),
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
            _Request(
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
            _Request(
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

    async def user(self) -> UserInfo:
        """`/user` (free): today's usage against the daily limit, reset at midnight GMT."""
        holder: dict[str, dt.datetime] = {}

        def parse(body: bytes, content_type: str) -> UserInfo:
            now = holder.get("now") or dt.datetime.now(dt.UTC)
            return parsing.parse_user(body, now=now, zero_stale=self._clock is not None)

        request = _Request("user", "user", (), parse)
        return await self._call(request, server_time=holder)

    async def remaining_quota(self) -> int:
        """API calls left today, per `/user`."""
        return (await self.user()).remaining

    async def ensure_quota(self, needed: int) -> UserInfo:
        """Fail before a job starts if it needs more calls than remain today.

        Raises `InsufficientQuotaError` (needed vs remaining vs reset time).
        """
        info = await self.user()
        if needed > info.remaining:
            raise InsufficientQuotaError(needed, info.remaining, info.resets_at)
        return info

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
            _Request(
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
            _Request(
                endpoint,
                f"{endpoint}/{self._ticker_segment(exchange, code)}",
                self._range_params(start, end),
                lambda b, ct: parsing.parse_table(b, spec, content_type=ct, constants=constants),
                ticker=f"{code}.{exchange}",
            )
        )

    def _log(self, level: int, message: str) -> None:
        if logger.isEnabledFor(level):
            logger.log(level, "%s", self._redactor.redact(message))

    # ----------------------------------------------------------------- core

    async def _call(
        self, request: _Request, *, server_time: dict[str, dt.datetime] | None = None
    ) -> Any:
        """Run `request` with retries; every error leaves here redacted and unchained."""
        policy = _RetryPolicy(self, request)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableError),
            stop=policy.stop,
            wait=policy.wait,
            after=policy.after,
            before_sleep=policy.before_sleep,
            retry_error_callback=policy.give_up,
            sleep=self._sleep_unless_stopped,
        )
        try:
            return await retrying(self._attempt, request, server_time)
        except EodhdError as exc:
            _scrub_chain(exc)
            raise

    async def _attempt(self, request: _Request, server_time: dict[str, dt.datetime] | None) -> Any:
        """One request: wait for a slot and the pacer, send, classify, parse."""
        self._raise_if_stopped(request)
        async with self._pacer.semaphore:
            self._raise_if_stopped(request)
            await self._pacer.limiter.acquire()
            self._raise_if_stopped(request)
            if request.stoppable:
                answer = await self._send_cancellable(request)
            else:
                answer = await self._send(request)
        if server_time is not None:
            server_time["now"] = self._server_now(answer.headers)
        return await self._handle(request, answer)

    async def _send_cancellable(self, request: _Request) -> _Answer:
        """Send in a child task the client can cancel when a 402 stops the job."""
        task = asyncio.ensure_future(self._send(request))
        self._inflight.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            # Cancelled by `_trip_quota` (not by our caller): fail like every other request.
            if task.cancelled() and self.quota_exhausted and not _current_task_cancelling():
                err = self._quota_error(request)
            else:
                raise
        finally:
            self._inflight.discard(task)
        raise err

    async def _send(self, request: _Request) -> _Answer:
        """HTTP GET; transport failures become our redacted `TransportError`."""
        if self._session is None:
            raise RuntimeError("EodhdClient is not open: use `async with EodhdClient(...)`")
        query = [*request.params, ("fmt", "json"), ("api_token", self.settings.token)]
        url = yarl.URL(f"{self._base}/{request.path}", encoded=True).with_query(query)
        err: EodhdError
        try:
            async with self._session.get(url) as resp:
                body = await resp.read()
                return _Answer(resp.status, resp.headers, body, resp.content_type or "")
        except TimeoutError:
            err = TransportError(
                f"{request.endpoint}: no complete answer within {self.settings.timeout_s}s",
                endpoint=request.endpoint,
            )
        except aiohttp.InvalidURL:
            err = BadRequestError(f"{request.endpoint}: invalid URL", endpoint=request.endpoint)
        except (aiohttp.ClientError, OSError) as exc:
            err = TransportError(
                f"{request.endpoint}: {type(exc).__name__}: {self._redactor.redact(exc)}",
                endpoint=request.endpoint,
            )
        # Raised outside the except blocks: no __context__ pointing at aiohttp's exception.
        self.usage.record(request.endpoint, 0, 0)
        self._log(logging.DEBUG, f"GET {request.describe()} -> {err}")
        raise err

    async def _handle(self, request: _Request, answer: _Answer) -> Any:
        """Account the answer, feed the pacer, then parse it or raise the mapped error."""
        status = answer.status
        cost = request_cost(request.endpoint, status, n_symbols=request.n_symbols)
        self.usage.record(request.endpoint, status, cost)
        self._observe_rate_headers(answer.headers)
        self._log(
            logging.DEBUG,
            f"GET {request.describe()} -> {status} ({len(answer.body)} bytes, cost {cost})",
        )
        if 200 <= status < 300:
            if len(answer.body) >= PARSE_IN_THREAD_MIN_BYTES:
                return await asyncio.to_thread(request.parse, answer.body, answer.content_type)
            return request.parse(answer.body, answer.content_type)
        raise self._error_for(request, answer)

    def _error_for(self, request: _Request, answer: _Answer) -> EodhdError:
        status = answer.status
        ep = request.endpoint
        if status in (401, 403):
            return AuthenticationError(
                f"{ep}: HTTP {status} Unauthenticated: the API token was refused "
                f"(check EODHD_API_TOKEN)",
                endpoint=ep,
                status=status,
            )
        if status == 402:
            self._trip_quota(self._server_now(answer.headers))
            return self._quota_error(request)
        if status == 404:
            if request.ticker is not None:
                return TickerNotFoundError(request.ticker, endpoint=ep)
            if request.exchange is not None:
                return ExchangeNotFoundError(request.exchange, endpoint=ep)
            return NotFoundError(f"{ep}: HTTP 404 {request.describe()}", endpoint=ep, status=404)
        if status == 429:
            retry_after = self._retry_after(answer.headers)
            return RateLimitedError(
                f"{ep}: HTTP 429 rate limited"
                + (f", Retry-After {retry_after:g}s" if retry_after is not None else ""),
                retry_after=retry_after,
                endpoint=ep,
            )
        if status >= 500:
            return ServerError(f"{ep}: HTTP {status}", endpoint=ep, status=status)
        snippet = self._redactor.redact(
            answer.body[:ERROR_BODY_CHARS].decode("utf-8", errors="replace")
        )
        return BadRequestError(
            f"{ep}: HTTP {status} for {request.describe()}: {snippet}", endpoint=ep, status=status
        )

    # ----------------------------------------------------------------- pacing & stop

    def _observe_rate_headers(self, headers: Mapping[str, str]) -> None:
        limit = _int_header(headers, "X-RateLimit-Limit")
        remaining = _int_header(headers, "X-RateLimit-Remaining")
        if limit is None and remaining is None:
            return
        pause = self._pacer.observe(limit, remaining)
        if pause is not None:
            self.usage.header_pauses += 1
            self._log(
                logging.INFO,
                f"X-RateLimit-Remaining={remaining}: pausing requests {pause:.2f}s",
            )

    def _retry_after(self, headers: Mapping[str, str]) -> float | None:
        """Retry-After as seconds (delta-seconds or HTTP-date), capped; None if absent."""
        raw = headers.get("Retry-After")
        if raw is None:
            return None
        raw = raw.strip()
        try:
            seconds = float(raw)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError):
                return None
            server_now = dt.datetime.now(dt.UTC)
            if headers.get("Date"):
                with contextlib.suppress(TypeError, ValueError):
                    server_now = email.utils.parsedate_to_datetime(headers["Date"])
            seconds = (when - server_now).total_seconds()
        return max(0.0, min(seconds, self.settings.max_retry_after_s))

    def _server_now(self, headers: Mapping[str, str]) -> dt.datetime:
        """The injected clock, else the server's (HTTP Date), else ours (aware UTC)."""
        if self._clock is not None:
            now = self._clock()
            return now if now.tzinfo else now.replace(tzinfo=dt.UTC)
        raw = headers.get("Date")
        if raw:
            try:
                when = email.utils.parsedate_to_datetime(raw)
                return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
            except (TypeError, ValueError):
                pass
        return dt.datetime.now(dt.UTC)

    def _trip_quota(self, server_now: dt.datetime) -> None:
        """First 402: remember the reset time, wake every waiter, cancel what is in flight."""
        if self._stop_event.is_set():
            return
        self._resets_at = next_reset(server_now)
        self._stop_event.set()
        self._log(
            logging.WARNING,
            f"HTTP 402: daily API-call quota exhausted; stopping all requests until "
            f"{self._resets_at.isoformat()}",
        )
        for task in list(self._inflight):
            task.cancel()

    def _quota_error(self, request: _Request) -> QuotaExhaustedError:
        # A fresh instance per caller: one exception object raised in many tasks would
        # share (and keep growing) one traceback.
        return QuotaExhaustedError(
            self._resets_at or next_reset(), endpoint=request.endpoint, status=402
        )

    def _raise_if_stopped(self, request: _Request) -> None:
        if self._stop_event.is_set() and request.stoppable:
            raise self._quota_error(request)

    async def _sleep_unless_stopped(self, delay: float) -> None:
        """asyncio.sleep that returns at once when a 402 stops the job.

        Callers re-check the stop flag afterwards; returning (not raising) keeps the
        free /user endpoint usable after a 402.
        """
        if delay <= 0 or self._stop_event.is_set():
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(delay):
                await self._stop_event.wait()
        except TimeoutError:
            return


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None
