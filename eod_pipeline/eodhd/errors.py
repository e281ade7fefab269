"""Exceptions raised by the EODHD client.

Why a hierarchy of our own: callers decide per class what to do (skip a ticker on
`TickerNotFoundError`, stop the job on `QuotaExhaustedError`, fix the configuration on
`AuthenticationError`), and none of them should have to inspect aiohttp's exceptions.
Those carry the request URL, and the URL carries the API token; every message here is
built by the client from redacted text, and the client raises these without chaining the
transport exception (see `transport.py`).
"""

from __future__ import annotations

import datetime as dt


class EodhdError(Exception):
    """Base class of everything the client raises on purpose.

    `endpoint` is the documented endpoint name (e.g. "eod"), `status` the HTTP status when
    there was an answer. Messages never contain the API token.
    """

    def __init__(self, message: str, *, endpoint: str | None = None, status: int | None = None):
        super().__init__(message)
        self.endpoint = endpoint
        self.status = status


class AuthenticationError(EodhdError):
    """401/403 `Unauthenticated`: the token is wrong or lacks access. Never retried."""


class BadRequestError(EodhdError):
    """400 (or another unexpected 4xx): the request itself is wrong. Never retried."""


class NotFoundError(EodhdError):
    """404: the addressed object does not exist. Never retried (and it still costs a call)."""


class TickerNotFoundError(NotFoundError):
    """404 `Ticker Not Found` on a per-ticker endpoint; `ticker` is `CODE.EXCH`."""

    def __init__(self, ticker: str, *, endpoint: str | None = None, status: int | None = 404):
        super().__init__(f"ticker not found: {ticker}", endpoint=endpoint, status=status)
        self.ticker = ticker


class ExchangeNotFoundError(NotFoundError):
    """404 on an exchange-wide endpoint (unknown exchange code)."""

    def __init__(self, exchange: str, *, endpoint: str | None = None, status: int | None = 404):
        super().__init__(f"exchange not found: {exchange}", endpoint=endpoint, status=status)
        self.exchange = exchange


class QuotaExhaustedError(EodhdError):
    """402: the daily call budget is spent. Ends the whole job, not only one request.

    `resets_at` is the next midnight GMT (the documented reset time), aware UTC.
    """

    def __init__(
        self,
        resets_at: dt.datetime,
        *,
        endpoint: str | None = None,
        status: int | None = 402,
        detail: str = "",
    ):
        msg = f"EODHD daily API-call quota exhausted; it resets at {resets_at.isoformat()}"
        if detail:
            msg = f"{msg} ({detail})"
        super().__init__(msg, endpoint=endpoint, status=status)
        self.resets_at = resets_at


class InsufficientQuotaError(EodhdError):
    """Raised by `ensure_quota` before a job starts when the job would not fit today."""

    def __init__(self, needed: int, remaining: int, resets_at: dt.datetime):
        super().__init__(
            f"job needs {needed} API calls but only {remaining} remain today; "
            f"the quota resets at {resets_at.isoformat()}"
        )
        self.needed = needed
        self.remaining = remaining
        self.resets_at = resets_at


class RetriesExhaustedError(EodhdError):
    """A transient fault (5xx, timeout, reset, truncated body, 429) outlived its retries.

    `attempts` counts every request sent for the call; `last_error` is the redacted
    message of the last fault (a string, never the transport exception itself).
    """

    def __init__(
        self,
        *,
        endpoint: str | None,
        attempts: int,
        last_error: str,
        status: int | None = None,
    ):
        super().__init__(
            f"{endpoint or 'request'} failed after {attempts} attempts; last error: {last_error}",
            endpoint=endpoint,
            status=status,
        )
        self.attempts = attempts
        self.last_error = last_error


class RetryableError(EodhdError):
    """Internal: a fault worth another attempt. Callers see `RetriesExhaustedError`."""


class ServerError(RetryableError):
    """5xx answer."""


class TransportError(RetryableError):
    """Timeout, connection refused/reset, server disconnect, incomplete payload."""


class MalformedResponseError(RetryableError):
    """A 200 answer whose body does not parse (truncated JSON, wrong shape)."""


class RateLimitedError(RetryableError):
    """429: the per-minute limit was hit. `retry_after` in seconds when the server said."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None,
        endpoint: str | None = None,
        status: int | None = 429,
    ):
        super().__init__(message, endpoint=endpoint, status=status)
        self.retry_after = retry_after
