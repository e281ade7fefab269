"""Client-side pacing: a rate limiter that cannot trip a sliding-window server limit.

Why not `aiolimiter.AsyncLimiter(rpm, 60)`: it is a leaky bucket that starts FULL, so it
lets a whole minute's worth of requests out at once and then keeps leaking at the full
rate; in the first 60 s a sliding-window server sees up to 2 x rpm and answers 429. Even
`AsyncLimiter(rpm / 60, 1)` admits `rpm/60 + rpm` in some 60 s windows. The bound we need
is "at most L requests in ANY window of W seconds", so this module uses a GCRA (virtual
scheduling) limiter whose arithmetic guarantees it:

    releases in any span of T seconds <= T / interval + 1 + burst

With `interval = (W + margin) / (L - 1 - burst)` that is at most L for T = W + margin,
i.e. the server sees at most L requests in any W-second window even when requests reach
it up to `margin` seconds apart from when we released them (network jitter). The price is
~1-2 % of the nominal rate at L = 900 per minute.

On top of the GCRA schedule the limiter keeps the release times of the last `L` requests
and never releases one while `L` releases lie within the last `W + margin` seconds. The
schedule alone guarantees that at a constant limit; the log keeps it true when the limit
drops mid-run (the server's `X-RateLimit-Limit` is below ours) and costs a deque append.

The limiter is FIFO: each caller reserves the next slot synchronously (no await between
reading and advancing the schedule), then sleeps until it. `pause_until` holds every
caller (429, `X-RateLimit-Remaining` running out) without losing order.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Final

#: Length of the server's rate window: the documented limit is per minute.
DEFAULT_WINDOW_S: Final[float] = 60.0

#: Slack, as a share of the window, for requests reaching the server earlier/later than
#: we release them: 0.5 s of a 60 s window. Loopback jitter is well under 1 ms, a WAN
#: path's tens of ms, so this covers both with room.
MARGIN_SHARE: Final[float] = 0.5 / 60.0

#: Slots the schedule may catch up after callers arrived late (all connections busy, a
#: slow parse). Small, because each slot of burst is a slot below the nominal rate; it is
#: further capped at 5 % of the per-window limit.
DEFAULT_BURST: Final[int] = 4
BURST_SHARE_CAP: Final[float] = 0.05

Sleep = Callable[[float], Awaitable[None]]


class SlidingWindowLimiter:
    """GCRA limiter: at most `limit` releases in any `window_s` window.

    `sleep` is injectable so the client can make waits end early when the job stops (402);
    `clock` so tests can check the arithmetic without waiting.
    """

    def __init__(
        self,
        limit: float,
        window_s: float = DEFAULT_WINDOW_S,
        *,
        margin_s: float | None = None,
        burst: int = DEFAULT_BURST,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if window_s <= 0:
            raise ValueError("window_s must be positive")
        self.window_s = window_s
        self._margin_s = window_s * MARGIN_SHARE if margin_s is None else margin_s
        self._sleep = sleep
        self._clock = clock
        self._tat: float | None = None  # GCRA theoretical arrival time of the next release
        self._paused_until = 0.0
        self._max_burst = burst
        self._burst = 0
        self._interval = 0.0
        self._released: deque[float] = deque()
        self.limit = 0.0
        self.set_limit(limit)

    def set_limit(self, limit: float) -> None:
        """(Re)configure: at most `limit` releases in any window."""
        if limit <= 0:
            raise ValueError("limit must be positive")
        burst = min(self._max_burst, int(limit * BURST_SHARE_CAP))
        burst = max(0, min(burst, int(limit) - 2))
        usable = max(limit - 1 - burst, 1e-9)
        self._burst = burst
        self._interval = (self.window_s + self._margin_s) / usable
        self.limit = limit
        # The log only needs the last floor(limit) releases; a huge limit (tests, "off")
        # is never reached in practice, so the log is capped instead of preallocated.
        self._released = deque(self._released, maxlen=max(1, min(math.floor(limit), 1 << 20)))

    @property
    def interval_s(self) -> float:
        """Seconds between releases at the steady rate."""
        return self._interval

    @property
    def burst(self) -> int:
        return self._burst

    @property
    def effective_per_minute(self) -> float:
        """Steady releases per minute (slightly below the limit, by design)."""
        return 60.0 / self._interval

    def pause_until(self, deadline: float) -> None:
        """Release nothing before `deadline` (clock seconds); extends, never shortens."""
        if deadline > self._paused_until:
            self._paused_until = deadline

    @property
    def paused_until(self) -> float:
        return self._paused_until

    def reserve(self, now: float) -> float:
        """Book the next slot at or after `now`; returns its time. No waiting here."""
        tau = self._burst * self._interval
        if self._tat is None:
            # Start "full": the first release goes now, then the steady rate; the burst
            # allowance is only for catching up, never a start-up spike.
            self._tat = now + tau
        slot = max(now, self._tat - tau, self._paused_until)
        log = self._released
        if log.maxlen is not None and len(log) == log.maxlen:
            # log[0] is the limit-th most recent release: it must have left the window.
            slot = max(slot, log[0] + self.window_s + self._margin_s)
        self._tat = max(self._tat, slot) + self._interval
        log.append(slot)
        return slot

    async def acquire(self) -> None:
        """Wait for this caller's slot; queue again if a pause arrived while waiting."""
        while True:
            now = self._clock()
            slot = self.reserve(now)
            if slot > now:
                await self._sleep(slot - now)
            if self._paused_until <= slot:
                return
            # A pause began after we booked and covers our slot: book again after it.


class Pacer:
    """Everything that decides WHEN a request may go out.

    - a semaphore bounding requests in flight (taken before the limiter, so a slot is
      used the moment it is released and releases are not bunched behind connection
      waits),
    - the sliding-window limiter,
    - the server's own view: an `X-RateLimit-Limit` below ours lowers our limit, a low
      `X-RateLimit-Remaining` pauses everyone until slots free, a 429 pauses everyone.
    """

    def __init__(
        self,
        requests_per_minute: float,
        max_in_flight: int,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        burst: int = DEFAULT_BURST,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        if requests_per_minute <= 0:
            raise ValueError("requests_per_minute must be positive")
        self.max_in_flight = max_in_flight
        self.configured_limit = requests_per_minute * window_s / 60.0
        self.limiter = SlidingWindowLimiter(
            self.configured_limit, window_s, burst=burst, sleep=sleep, clock=clock
        )
        self.semaphore = asyncio.Semaphore(max_in_flight)
        self._clock = clock
        self.server_limit: int | None = None
        self.server_remaining: int | None = None

    def observe(self, limit: int | None, remaining: int | None) -> float | None:
        """Take in X-RateLimit-* headers; returns the pause (s) it imposed, if any.

        A server limit below ours lowers ours to it, so the sliding-window guarantee holds
        against the server's real limit. When `remaining` falls to a low-water mark (about
        what may already be on the wire), the window is nearly full: another process uses
        the token, or the server counts differently. Pause long enough for that many slots
        to free at the server's rate.
        """
        if limit is not None and limit > 0:
            self.server_limit = limit
            if limit < self.limiter.limit:
                self.limiter.set_limit(limit)
        if remaining is None:
            return None
        self.server_remaining = remaining
        ref_limit = self.server_limit or self.limiter.limit
        low_water = min(self.max_in_flight, int(ref_limit) // 10)
        if remaining > low_water:
            return None
        pause = (low_water - remaining + 1) * self.limiter.window_s / ref_limit
        self.limiter.pause_until(self._clock() + pause)
        return pause

    def pause_for(self, seconds: float) -> None:
        """Hold every release for `seconds` from now (429 Retry-After or backoff)."""
        self.limiter.pause_until(self._clock() + seconds)
