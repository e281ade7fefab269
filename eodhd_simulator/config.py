"""Knobs of the EODHD simulator.

One dataclass holds everything, so a test states the world it needs in one place
(`SimulatorConfig(per_minute_limit=5)`) and `POST /_sim/config` can change the run-time
knobs of a running server by field name. Numbers that mirror the real service cite
/work/shared/eodhd-api.md ("the contract").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eodhd_simulator.events import (
    EVENT_FIELDS,
    Correction,
    Halt,
    InjectedDividend,
    InjectedSplit,
    events_json,
    parse_events,
)
from eodhd_simulator.renames import Rename, parse_renames

#: The token the fixtures and the offline demo use.
DEFAULT_TOKEN = "sim-token-3f9a2c"

#: Fields that `POST /_sim/config` / `SimulatorServer.configure` may change on a running
#: server. The universe (seed, symbols, history_start) is fixed at start-up: changing it
#: would silently invalidate every cached answer and every expectation a test computed.
#: The market events (corrections, halts, injected actions) are run-time knobs on purpose:
#: a long test injects them while the clock walks, and `Universe` re-keys only the paths
#: of the tickers they name.
RUNTIME_FIELDS = frozenset(
    {
        "daily_quota",
        "free_daily_quota",
        "per_minute_limit",
        "rate_window_s",
        "retry_after_share",
        "retry_after_seconds",
        "rate_header_share",
        "unauthenticated_statuses",
        "error_5xx_rate",
        "maintenance_5xx_rate",
        "latency_s",
        "hang_rate",
        "hang_seconds",
        "truncate_rate",
        "truncate_mode",
        "malformed_rate",
        "corrections",
        "halts",
        "injected_splits",
        "injected_dividends",
    }
)


@dataclass
class SimulatorConfig:
    """Everything that shapes the simulated EODHD service.

    Fault rates are probabilities per request (per row for `malformed_rate`) and default to
    0, so the default simulator is a well-behaved EODHD; tests switch faults on explicitly.
    """

    seed: int = 7
    symbols_per_exchange: int = 40
    #: Per-exchange overrides of `symbols_per_exchange`, e.g. `{"US": 4000}` for a
    #: benchmark that needs one large exchange without paying for three.
    symbols_by_exchange: dict[str, int] = dataclasses.field(default_factory=dict)
    #: First trading day of every price path (the contract: tickers delisted before about
    #: 2014 often have no prices at all, so history starts there).
    history_start: date = date(2014, 1, 2)
    tokens: frozenset[str] = frozenset({DEFAULT_TOKEN})
    #: Tokens that behave like the free plan: 20 calls a day, one year of history, rows
    #: carry a `warning` key (the contract, "Limits and errors").
    free_tokens: frozenset[str] = frozenset()
    #: API calls per token per UTC day on paid plans (the contract: 100,000, reset at
    #: midnight GMT); 402 once spent.
    daily_quota: int = 100_000
    #: Free plan: 20 calls a day (the contract).
    free_daily_quota: int = 20
    #: Requests per token per sliding window (the contract: 1,000 a minute); 429 beyond.
    per_minute_limit: int = 1000
    #: Length of that window. 60 s is the real one; tests shrink it so they need not wait.
    rate_window_s: float = 60.0
    #: Share of 429 answers that carry `Retry-After` (the contract: documented, "not
    #: guaranteed").
    retry_after_share: float = 0.5
    #: Value sent in `Retry-After`. The real service documents 60; small so tests can wait.
    retry_after_seconds: int = 1
    #: Share of answers carrying X-RateLimit-Limit/-Remaining (the contract: "most, not
    #: all").
    rate_header_share: float = 0.9
    #: Status codes for a bad/missing token, used in turn (the contract: 401 or 403,
    #: sources disagree), so a client must treat both as "Unauthenticated".
    unauthenticated_statuses: tuple[int, ...] = (401, 403)
    #: Share of token-checked requests answered with a 5xx (no cost charged).
    error_5xx_rate: float = 0.0
    #: Extra 5xx share inside the daily maintenance window 05:30-06:00 GMT (the contract).
    maintenance_5xx_rate: float = 0.0
    #: Delay added before every API answer, seconds.
    latency_s: float = 0.0
    #: Share of requests that never answer (they sleep `hang_seconds`).
    hang_rate: float = 0.0
    hang_seconds: float = 3600.0
    #: Share of 200 answers whose body is cut in the middle.
    truncate_rate: float = 0.0
    #: "body": valid HTTP, Content-Length of the cut body, JSON invalid;
    #: "connection": Content-Length of the full body, connection closed half way;
    #: "mixed": either, chosen per fault.
    truncate_mode: str = "mixed"
    #: Share of served EOD rows replaced by a malformed row (null close, negative price,
    #: high below low, date outside the range, "n/a" in a number field).
    malformed_rate: float = 0.0
    #: Generate and render every symbol's history at start-up (about 10 ms a symbol), so
    #: a benchmark measures serving, not first-request generation.
    prewarm: bool = False
    #: Memory for rendered histories, MB (least recently used dropped first). The default
    #: keeps ~1,700 ten-year histories hot; a benchmark over 4,000 tickers raises it so
    #: it measures the pipeline, not the simulator re-rendering evicted answers.
    render_cache_mb: int = 768
    #: The simulator clock. None means real time; a fixed datetime (timezone-aware) makes
    #: availability, quota days and `isOpen` reproducible.
    now: datetime | None = None
    #: Late revisions of bars (see `events.Correction`): each is invisible until its
    #: publication day's data is out, then served by `/eod/` and `/eod-bulk-last-day/`.
    corrections: tuple[Correction, ...] = ()
    #: Trading halts (see `events.Halt`): the ticker has no bars over the span.
    halts: tuple[Halt, ...] = ()
    #: Splits on chosen ex-dates (see `events.InjectedSplit`).
    injected_splits: tuple[InjectedSplit, ...] = ()
    #: Cash dividends on chosen ex-dates (see `events.InjectedDividend`).
    injected_dividends: tuple[InjectedDividend, ...] = ()
    #: Ticker changes (see `renames.Rename`): a company's history continues under a new
    #: code from a date; a rename onto a delisted company's code renames that one
    #: `ABC_old`. Fixed at start-up, like the symbols they change.
    renames: tuple[Rename, ...] = ()

    def __post_init__(self) -> None:
        # Events may be given as lists or JSON objects; keep tuples of frozen events so
        # the config stays comparable and the events can key caches.
        for name in EVENT_FIELDS:
            object.__setattr__(self, name, parse_events(name, getattr(self, name)))
        object.__setattr__(self, "renames", parse_renames(self.renames))

    def replace(self, **changes: object) -> SimulatorConfig:
        """A copy with run-time knobs changed; refuses fields outside RUNTIME_FIELDS."""
        unknown = set(changes) - RUNTIME_FIELDS
        if unknown:
            raise ValueError(f"not a run-time simulator knob: {sorted(unknown)}")
        if "unauthenticated_statuses" in changes:
            changes["unauthenticated_statuses"] = tuple(changes["unauthenticated_statuses"])  # type: ignore[arg-type]
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def runtime_json(self) -> dict[str, Any]:
        """The run-time knobs as JSON values (what `GET /_sim/config` answers)."""
        out: dict[str, Any] = {}
        for name in sorted(RUNTIME_FIELDS):
            value = getattr(self, name)
            out[name] = events_json(value) if name in EVENT_FIELDS else value
        return out

    def all_tokens(self) -> frozenset[str]:
        return self.tokens | self.free_tokens


__all__ = ["DEFAULT_TOKEN", "RUNTIME_FIELDS", "SimulatorConfig"]
