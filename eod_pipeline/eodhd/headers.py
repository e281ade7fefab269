"""Reading the answer headers the client acts on: rate limits, Retry-After, the server's clock.

Source: ../shared/eodhd-api.md, "Limits and errors": `X-RateLimit-Limit` and
`X-RateLimit-Remaining` come on most answers but not all, a 429 documents
`Retry-After: 60` without guaranteeing it, and the daily quota resets at midnight GMT by
the server's clock (HTTP `Date`). Every reader here therefore answers None (or falls back)
instead of raising: a missing or odd header must never fail a request that succeeded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
from collections.abc import Callable, Mapping

#: Injected "now" (a simulator with a frozen clock); None means the server's clock decides.
Clock = Callable[[], dt.datetime]


def int_header(headers: Mapping[str, str], name: str) -> int | None:
    """A numeric header as an int ("900", " 899.0 "); None if absent or not a number."""
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw.strip()))
    except ValueError:
        return None


def retry_after_s(headers: Mapping[str, str], cap_s: float) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date), within [0, cap_s]; None if absent.

    An HTTP-date is measured against the answer's own `Date` (else our clock), so a skewed
    local clock does not stretch or cut the wait. `cap_s` is `max_retry_after_s`: one odd
    header must not park the job for an hour.
    """
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
    return max(0.0, min(seconds, cap_s))


def server_now(headers: Mapping[str, str], clock: Clock | None) -> dt.datetime:
    """The injected clock, else the server's (HTTP Date), else ours; never naive (UTC assumed).

    The quota resets at the server's midnight GMT, so the server's clock, not ours, says
    which quota day an answer belongs to and when the next reset is.
    """
    if clock is not None:
        now = clock()
        return now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    raw = headers.get("Date")
    if raw:
        try:
            when = email.utils.parsedate_to_datetime(raw)
            return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
        except (TypeError, ValueError):
            pass
    return dt.datetime.now(dt.UTC)
