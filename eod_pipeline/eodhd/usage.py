"""What a client run has spent: API calls (the daily budget's unit) and HTTP requests.

Kept apart from the client so jobs can report it as Dagster metadata without touching the
client's internals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Usage:
    """Counters of one client run.

    - `calls_spent`: credits consumed at the documented costs (costs.py);
    - `requests`: HTTP requests sent, retries included;
    - `retries`: requests that were a retry of an earlier failure;
    - `http_429`: answers that were 429;
    - `by_endpoint`: requests per endpoint; `calls_by_endpoint`: credits per endpoint;
    - `by_status`: answers per HTTP status (0 = no answer: timeout, reset);
    - `header_pauses`: pauses imposed because X-RateLimit-Remaining ran low.
    """

    calls_spent: int = 0
    requests: int = 0
    retries: int = 0
    http_429: int = 0
    header_pauses: int = 0
    by_endpoint: Counter[str] = field(default_factory=Counter)
    calls_by_endpoint: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)

    def record(self, endpoint: str, status: int, cost: int) -> None:
        """Account one answered (status > 0) or failed (status 0) request."""
        self.requests += 1
        self.by_endpoint[endpoint] += 1
        self.by_status[status] += 1
        if status == 429:
            self.http_429 += 1
        if cost:
            self.calls_spent += cost
            self.calls_by_endpoint[endpoint] += cost

    def as_dict(self) -> dict[str, object]:
        """Plain-data snapshot (for metadata and logs)."""
        return {
            "calls_spent": self.calls_spent,
            "requests": self.requests,
            "retries": self.retries,
            "http_429": self.http_429,
            "header_pauses": self.header_pauses,
            "by_endpoint": dict(self.by_endpoint),
            "calls_by_endpoint": dict(self.calls_by_endpoint),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
        }
