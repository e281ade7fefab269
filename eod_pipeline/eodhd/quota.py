"""The quota stop: after the first 402 no billable request reaches the server again.

Source: ../shared/eodhd-api.md, "Limits and errors": `402` means the day's API calls are
spent, and the budget resets at midnight GMT. Every request sent after that is wasted
(and, at hundreds of requests a minute, there are many queued or in flight), so the first
402 trips one stop for the whole client: waiters wake at once, in-flight sends are
cancelled, and each of them fails with its own `QuotaExhaustedError` naming the reset.
The free `/user` endpoint (cost 0) stays usable, so a job can still report the quota.

`require` is the other half: refuse a job up front when `/user` says it needs more calls
than remain today, rather than stopping it half-way.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Final, TypeVar

from eod_pipeline.eodhd.costs import next_reset
from eod_pipeline.eodhd.errors import InsufficientQuotaError, QuotaExhaustedError
from eod_pipeline.eodhd.headers import Clock, server_now
from eod_pipeline.eodhd.models import UserInfo
from eod_pipeline.eodhd.redaction import Log

T = TypeVar("T")

#: Endpoints that cost nothing (eodhd-api.md, cost column: `/user` is 0): they cannot
#: waste budget, so the stop lets them through.
FREE_ENDPOINTS: Final[frozenset[str]] = frozenset({"user"})


def stoppable(endpoint: str) -> bool:
    """Whether the quota stop refuses `endpoint`: every billable one."""
    return endpoint not in FREE_ENDPOINTS


def require(needed: int, info: UserInfo) -> UserInfo:
    """`info` if today's remaining calls cover `needed`; else `InsufficientQuotaError`
    (needed vs remaining vs reset time), before the job has spent anything."""
    if needed > info.remaining:
        raise InsufficientQuotaError(needed, info.remaining, info.resets_at)
    return info


def _current_task_cancelling() -> int:
    task = asyncio.current_task()
    return task.cancelling() if task is not None else 0


class QuotaStop:
    """One client's stop flag, the reset time it learnt, and the sends it may cancel.

    `clock` is the client's injected "now" (see `headers.server_now`): the reset time is
    the next midnight GMT by that clock, else by the server's.
    """

    def __init__(self, log: Log, clock: Clock | None = None) -> None:
        self._log = log
        self._clock = clock
        self._event = asyncio.Event()
        self._resets_at: dt.datetime | None = None
        self._inflight: set[asyncio.Future[Any]] = set()

    @property
    def tripped(self) -> bool:
        """True once any request got 402."""
        return self._event.is_set()

    def on_402(self, endpoint: str, headers: Mapping[str, str]) -> QuotaExhaustedError:
        """The error for a 402 answer; the first one trips the stop for everybody."""
        self.trip(server_now(headers, self._clock))
        return self.error(endpoint)

    def trip(self, now: dt.datetime) -> None:
        """First 402: remember the reset time, wake every waiter, cancel what is in flight."""
        if self._event.is_set():
            return
        self._resets_at = next_reset(now)
        self._event.set()
        self._log(
            logging.WARNING,
            f"HTTP 402: daily API-call quota exhausted; stopping all requests until "
            f"{self._resets_at.isoformat()}",
        )
        for task in list(self._inflight):
            task.cancel()

    def error(self, endpoint: str) -> QuotaExhaustedError:
        """A fresh instance per caller: one exception object raised in many tasks would
        share (and keep growing) one traceback."""
        return QuotaExhaustedError(self._resets_at or next_reset(), endpoint=endpoint, status=402)

    def check(self, endpoint: str) -> None:
        """Raise `QuotaExhaustedError` if the stop is tripped and `endpoint` is billable."""
        if self._event.is_set() and stoppable(endpoint):
            raise self.error(endpoint)

    async def guard(self, endpoint: str, send: Awaitable[T]) -> T:
        """Await `send`; for a billable endpoint, in a child task a 402 can cancel."""
        if not stoppable(endpoint):
            return await send
        task = asyncio.ensure_future(send)
        self._inflight.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            # Cancelled by `trip` (not by our caller): fail like every other request.
            if task.cancelled() and self.tripped and not _current_task_cancelling():
                err = self.error(endpoint)
            else:
                raise
        finally:
            self._inflight.discard(task)
        raise err

    async def sleep(self, delay: float) -> None:
        """asyncio.sleep that returns at once when a 402 stops the job.

        Used by the pacer and the retry waits. Callers re-check the stop afterwards;
        returning (not raising) keeps the free /user endpoint usable after a 402.
        """
        if delay <= 0 or self._event.is_set():
            await asyncio.sleep(0)
            return
        try:
            async with asyncio.timeout(delay):
                await self._event.wait()
        except TimeoutError:
            return
