"""API-call accounting: daily quotas, the per-minute window, and the counters tests read.

Kept apart from the handlers so the rules (what costs what, when a day resets, which
requests count against the minute) are in one place next to the contract they cite.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict, deque
from datetime import date

#: Cost in API calls per endpoint (the contract, "Endpoints used by this project").
#: exchange-details: 1 (one page says 5; the table's 1 is used). Bulk with `symbols`
#: costs 100 + N, added by the handler.
COSTS: dict[str, int] = {
    "exchanges-list": 1,
    "exchange-symbol-list": 1,
    "exchange-details": 1,
    "eod": 1,
    "eod-bulk-last-day": 100,
    "splits": 1,
    "div": 1,
    # "5 API calls a request" (the contract, "More facts").
    "symbol-change-history": 5,
    "user": 0,
}


class Ledger:
    """Per-token daily usage (by the simulator clock's UTC date) and per-token sliding
    request windows (by the real monotonic clock, since the simulator clock may be frozen
    and a frozen window would never drain)."""

    def __init__(self) -> None:
        self.used: dict[tuple[str, date], int] = defaultdict(int)
        self.windows: dict[str, deque[float]] = defaultdict(deque)
        self.requests: Counter[str] = Counter()
        self.served: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.rate_limited = 0
        self.quota_exhausted = 0
        self.unauthenticated = 0

    def usage(self, token: str, day: date) -> int:
        return self.used.get((token, day), 0)

    def charge(self, token: str, day: date, cost: int) -> None:
        if cost:
            self.used[(token, day)] += cost

    def admit(self, token: str, limit: int, window_s: float) -> tuple[bool, int]:
        """Count a request in the token's window if there is room.

        Returns (admitted, remaining). Rejected requests are not counted: the contract
        says a 429 is a rejection, not a queued request.
        """
        now = time.monotonic()
        window = self.windows[token]
        edge = now - window_s
        while window and window[0] <= edge:
            window.popleft()
        if len(window) >= limit:
            return False, 0
        window.append(now)
        return True, limit - len(window)

    def credits_by_token(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for (token, day), n in self.used.items():
            out[token][day.isoformat()] = n
        return dict(out)
