"""HTTP transport: one pooled aiohttp session, one GET per attempt, status -> error mapping.

What an attempt goes through here: `send` builds the URL (adding `fmt=json` and the
token), GETs it and reads the whole body; `handle` accounts the answer (usage, rate-limit
headers into the pacer, a DEBUG line), then parses a 2xx body or returns the mapped
`EodhdError`. Waiting for a pacer slot, retries and the quota stop are the callers' jobs
(client.py, retry.py, quota.py).

Token safety (../shared/eodhd-api.md, "Limits and errors": error bodies can echo the URL,
`api_token` included): the token is added to the query only inside `send`; `Request`
never holds it; log lines show `Request.describe()` (no token); every message built from
server or aiohttp text is redacted; and aiohttp's exceptions (whose text carries the URL)
are converted outside their `except` block, so nothing chains them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import yarl

from eod_pipeline.eodhd.costs import request_cost
from eod_pipeline.eodhd.errors import (
    AuthenticationError,
    BadRequestError,
    EodhdError,
    ExchangeNotFoundError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TickerNotFoundError,
    TransportError,
)
from eod_pipeline.eodhd.headers import int_header, retry_after_s
from eod_pipeline.eodhd.pacing import Pacer
from eod_pipeline.eodhd.redaction import Log, Redactor
from eod_pipeline.eodhd.settings import EodhdSettings
from eod_pipeline.eodhd.usage import Usage

#: How much of an error body goes into an exception message (after redaction): enough
#: for EODHD's one-line messages (`{"message": "bad request URL: ..."}`), no more.
ERROR_BODY_CHARS: Final[int] = 200

#: Bodies at least this large are parsed in a worker thread: polars releases the GIL, so a
#: 10-year history (~340 kB) parses on the second core while the loop keeps the sockets
#: busy. Small bodies parse inline (a thread hop costs more than the parse).
PARSE_IN_THREAD_MIN_BYTES: Final[int] = 64_000

USER_AGENT: Final[str] = "eod-pipeline/0.1 (+aiohttp)"

#: Answers we accept. `fmt=json` is always sent (eodhd-api.md, Requests: several
#: endpoints default to CSV), but the parsers read CSV too, should an endpoint ignore it.
ACCEPT: Final[str] = "application/json, text/csv"

#: Seconds a resolved address of the API host is reused: one host for the whole run.
DNS_CACHE_S: Final[int] = 300

#: Seconds an idle pooled connection is kept: far longer than the pacer's gaps between
#: requests (well under a second at hundreds a minute), so a paced run reuses its
#: connections instead of reconnecting, yet idle ones are let go within half a minute.
KEEPALIVE_S: Final[int] = 30

#: Parses an answer body: `(body, content_type) -> frame or model`.
Parse = Callable[[bytes, str], Any]


@dataclass(frozen=True, slots=True)
class Request:
    """One logical call: retried attempts share it. `params` never hold the token."""

    endpoint: str
    path: str  # percent-encoded, relative to the base URL
    params: tuple[tuple[str, str], ...]
    parse: Parse
    ticker: str | None = None
    exchange: str | None = None
    n_symbols: int | None = None

    def describe(self) -> str:
        """What a log line may show: path and non-secret parameters."""
        query = urlencode(self.params)
        return f"/{self.path}?{query}" if query else f"/{self.path}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one GET brought back, body read whole (the parsers need all of it)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    content_type: str


@dataclass(frozen=True, slots=True)
class ClientContext:
    """What the pieces of one client share: its settings, its usage counters (which it
    reports), the redactor that knows the real token, and the redacting log callback."""

    settings: EodhdSettings
    usage: Usage
    redactor: Redactor
    log: Log

    def __repr__(self) -> str:
        return f"ClientContext(settings={self.settings!r})"


#: Maps a 402 answer to its error; the quota stop's, since a 402 stops every request.
On402 = Callable[[str, Mapping[str, str]], EodhdError]


class Transport:
    """The session and the per-answer bookkeeping of one client.

    `pacer` learns from the rate-limit headers; `on_402` is `QuotaStop.on_402`.
    """

    def __init__(self, context: ClientContext, *, pacer: Pacer, on_402: On402) -> None:
        self._context = context
        self._pacer = pacer
        self._on_402 = on_402
        self._base = yarl.URL(context.settings.base_url, encoded=True)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"Transport(open={self._session is not None})"

    async def open(self) -> None:
        """Create the session. One per run: connections are pooled and kept alive."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self._context.settings.max_in_flight,
            ttl_dns_cache=DNS_CACHE_S,
            keepalive_timeout=KEEPALIVE_S,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._context.settings.timeout_s),
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
            raise_for_status=False,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: Request) -> Answer:
        """HTTP GET; transport failures become our redacted `TransportError`."""
        if self._session is None:
            raise RuntimeError("EodhdClient is not open: use `async with EodhdClient(...)`")
        settings = self._context.settings
        query = [*request.params, ("fmt", "json"), ("api_token", settings.token)]
        url = yarl.URL(f"{self._base}/{request.path}", encoded=True).with_query(query)
        err: EodhdError
        try:
            async with self._session.get(url) as resp:
                body = await resp.read()
                return Answer(resp.status, resp.headers, body, resp.content_type or "")
        except TimeoutError:
            err = TransportError(
                f"{request.endpoint}: no complete answer within {settings.timeout_s}s",
                endpoint=request.endpoint,
            )
        except aiohttp.InvalidURL:
            err = BadRequestError(f"{request.endpoint}: invalid URL", endpoint=request.endpoint)
        except (aiohttp.ClientError, OSError) as exc:
            err = TransportError(
                f"{request.endpoint}: {type(exc).__name__}: {self._context.redactor.redact(exc)}",
                endpoint=request.endpoint,
            )
        # Raised outside the except blocks: no __context__ pointing at aiohttp's exception.
        self._context.usage.record(request.endpoint, 0, 0)
        self._context.log(logging.DEBUG, f"GET {request.describe()} -> {err}")
        raise err

    async def handle(self, request: Request, answer: Answer) -> Any:
        """Account the answer, feed the pacer, then parse it or raise the mapped error."""
        status = answer.status
        cost = request_cost(request.endpoint, status, n_symbols=request.n_symbols)
        self._context.usage.record(request.endpoint, status, cost)
        self._observe_rate_headers(answer.headers)
        self._context.log(
            logging.DEBUG,
            f"GET {request.describe()} -> {status} ({len(answer.body)} bytes, cost {cost})",
        )
        if 200 <= status < 300:
            if len(answer.body) >= PARSE_IN_THREAD_MIN_BYTES:
                return await asyncio.to_thread(request.parse, answer.body, answer.content_type)
            return request.parse(answer.body, answer.content_type)
        raise self.error_for(request, answer)

    def error_for(self, request: Request, answer: Answer) -> EodhdError:
        """The exception for a non-2xx answer (statuses per eodhd-api.md, Limits and errors).

        401/403 bad token; 402 quota spent (`on_402`); 404 unknown ticker or exchange; 429
        per-minute limit (with Retry-After); 5xx server fault; anything else our request's
        fault, with a redacted snippet of the body to say why.
        """
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
            return self._on_402(ep, answer.headers)
        if status == 404:
            if request.ticker is not None:
                return TickerNotFoundError(request.ticker, endpoint=ep)
            if request.exchange is not None:
                return ExchangeNotFoundError(request.exchange, endpoint=ep)
            return NotFoundError(f"{ep}: HTTP 404 {request.describe()}", endpoint=ep, status=404)
        if status == 429:
            retry_after = retry_after_s(answer.headers, self._context.settings.max_retry_after_s)
            return RateLimitedError(
                f"{ep}: HTTP 429 rate limited"
                + (f", Retry-After {retry_after:g}s" if retry_after is not None else ""),
                retry_after=retry_after,
                endpoint=ep,
            )
        if status >= 500:
            return ServerError(f"{ep}: HTTP {status}", endpoint=ep, status=status)
        snippet = self._context.redactor.redact(
            answer.body[:ERROR_BODY_CHARS].decode("utf-8", errors="replace")
        )
        return BadRequestError(
            f"{ep}: HTTP {status} for {request.describe()}: {snippet}", endpoint=ep, status=status
        )

    def _observe_rate_headers(self, headers: Mapping[str, str]) -> None:
        """Let the server's X-RateLimit-* headers lower our rate or pause us."""
        limit = int_header(headers, "X-RateLimit-Limit")
        remaining = int_header(headers, "X-RateLimit-Remaining")
        if limit is None and remaining is None:
            return
        pause = self._pacer.observe(limit, remaining)
        if pause is not None:
            self._context.usage.header_pauses += 1
            self._context.log(
                logging.INFO,
                f"X-RateLimit-Remaining={remaining}: pausing requests {pause:.2f}s",
            )
