"""The retry policy: which failures are retried, how long to wait, and two budgets.

Why two budgets (../shared/eodhd-api.md, "Limits and errors"): faults are normal at this
volume (5xx, more often in the 05:30-06:00 GMT maintenance window; resets; truncated
bodies), and they get exponential backoff with jitter under `max_retries`. A 429 is
different: the request was rejected, not broken, and the per-minute window is full for
every request, so it pauses the whole pacer for Retry-After (documented 60 s, not
guaranteed; a backoff when absent) and counts against its own `max_rate_limit_retries`.
Both budgets are bounded so a misconfigured job cannot spin. Only `RetryableError`s are
retried; anything else (401/403, 402, 404, other 4xx) fails on the first answer.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type

from eod_pipeline.eodhd.errors import (
    EodhdError,
    RateLimitedError,
    RetriesExhaustedError,
    RetryableError,
)
from eod_pipeline.eodhd.pacing import Sleep
from eod_pipeline.eodhd.transport import ClientContext, Request

T = TypeVar("T")


class RetryPolicy:
    """Per-call retry bookkeeping for tenacity: the fault and the 429 budgets.

    One instance per logical call (`Request`): the counters are that call's. `pause_all`
    is `Pacer.pause_for`, which holds every request, not just this one, after a 429.
    """

    def __init__(
        self, context: ClientContext, request: Request, *, pause_all: Callable[[float], None]
    ) -> None:
        self._context = context
        self._request = request
        self._pause_all = pause_all
        self.faults = 0
        self.rate_limited = 0

    def _backoff(self, n: int) -> float:
        """Wait before retry `n` (1-based): base * 2**(n-1), capped, with equal jitter."""
        s = self._context.settings
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
            delay = min(delay, self._context.settings.max_retry_after_s)
            self._pause_all(delay)
        else:
            self.faults += 1

    def stop(self, state: RetryCallState) -> bool:
        """Give up once either budget is overspent."""
        s = self._context.settings
        return self.faults > s.max_retries or self.rate_limited > s.max_rate_limit_retries

    def wait(self, state: RetryCallState) -> float:
        """Backoff after a fault; none after a 429, whose wait the pacer already holds."""
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError):
            return 0.0  # the pacer holds this request (and all others) until the window frees
        return self._backoff(self.faults)

    def before_sleep(self, state: RetryCallState) -> None:
        """Count the retry and say why it happens."""
        exc = state.outcome.exception() if state.outcome else None
        self._context.usage.retries += 1
        wait = state.upcoming_sleep
        self._context.log(
            logging.INFO,
            f"retrying {self._request.endpoint} {self._request.describe()} in {wait:.2f}s "
            f"after {type(exc).__name__}: {exc} (attempt {state.attempt_number})",
        )

    def give_up(self, state: RetryCallState) -> NoReturn:
        """Budgets spent: one `RetriesExhaustedError` carrying the last (redacted) error."""
        exc = state.outcome.exception() if state.outcome else None
        last = str(exc) if exc is not None else "unknown"
        status = exc.status if isinstance(exc, EodhdError) else None
        err = RetriesExhaustedError(
            endpoint=self._request.endpoint,
            attempts=state.attempt_number,
            last_error=self._context.redactor.redact(last),
            status=status,
        )
        raise err


async def with_retries(
    attempt: Callable[..., Awaitable[T]], *args: Any, policy: RetryPolicy, sleep: Sleep
) -> T:
    """Run `attempt(*args)` until it succeeds, fails for good, or `policy` gives up.

    `attempt` must be an `async def` function (tenacity only awaits what it sees to be a
    coroutine function; a lambda returning a coroutine would come back un-awaited).
    `sleep` is `QuotaStop.sleep`, so a backoff ends at once when a 402 stops the job.
    """
    retrying = AsyncRetrying(
        retry=retry_if_exception_type(RetryableError),
        stop=policy.stop,
        wait=policy.wait,
        after=policy.after,
        before_sleep=policy.before_sleep,
        retry_error_callback=policy.give_up,
        sleep=sleep,
    )
    return await retrying(attempt, *args)
