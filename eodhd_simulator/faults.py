"""Fault injection: the ways the real EODHD misbehaves, on demand and reproducibly.

Each fault kind draws from its own `random.Random` seeded from the simulator seed, so
switching one knob does not change which requests another knob hits, and a sequential
test sees the same faults on every run. (Concurrent clients interleave draws in arrival
order, which is as deterministic as the arrival order itself.)
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.seeds import stable_seed

#: Daily maintenance window when 5xx are more frequent (the contract: around
#: 05:30-06:00 GMT).
MAINTENANCE_START = time(5, 30)
MAINTENANCE_END = time(6, 0)

#: Kinds of malformed EOD row (the brief's list of what real feeds contain).
MALFORMED_KINDS = ("null_close", "negative_price", "high_below_low", "date_outside", "text_number")

#: 5xx answers, with the bodies the gateway in front of the API sends (HTML, not JSON).
_5XX = (
    (500, "Internal Server Error"),
    (502, "Bad Gateway"),
    (503, "Service Temporarily Unavailable"),
    (504, "Gateway Time-out"),
)


class FaultInjector:
    """Decides, per request, which fault (if any) hits it, and builds the faulty bodies."""

    KINDS = ("5xx", "hang", "truncate", "malformed", "headers", "retry_after", "auth")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.counts: Counter[str] = Counter()
        self._rngs = {k: random.Random(stable_seed(seed, "fault", k)) for k in self.KINDS}

    def reset(self) -> None:
        self.__init__(self.seed)  # type: ignore[misc]

    def _hit(self, kind: str, rate: float) -> bool:
        if rate <= 0.0:
            return False
        return self._rngs[kind].random() < rate

    def server_error(self, config: SimulatorConfig, now: datetime) -> tuple[int, bytes] | None:
        """A 5xx (status, HTML body) for this request, or None."""
        rate = config.error_5xx_rate
        t = now.astimezone(UTC).time()
        if MAINTENANCE_START <= t < MAINTENANCE_END:
            rate = min(1.0, rate + config.maintenance_5xx_rate)
        if not self._hit("5xx", rate):
            return None
        self.counts["5xx"] += 1
        status, text = self._rngs["5xx"].choice(_5XX)
        body = (
            f"<html>\r\n<head><title>{status} {text}</title></head>\r\n<body>\r\n"
            f"<center><h1>{status} {text}</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n"
        )
        return status, body.encode()

    def hang(self, config: SimulatorConfig) -> bool:
        hit = self._hit("hang", config.hang_rate)
        if hit:
            self.counts["hang"] += 1
        return hit

    def truncate(self, config: SimulatorConfig) -> str | None:
        """None, or how to truncate this answer: "body" or "connection"."""
        if not self._hit("truncate", config.truncate_rate):
            return None
        self.counts["truncate"] += 1
        mode = config.truncate_mode
        if mode == "mixed":
            mode = self._rngs["truncate"].choice(("body", "connection"))
        return mode

    def with_rate_headers(self, config: SimulatorConfig) -> bool:
        return self._rngs["headers"].random() < config.rate_header_share

    def with_retry_after(self, config: SimulatorConfig) -> bool:
        return self._rngs["retry_after"].random() < config.retry_after_share

    def malformed_indices(self, config: SimulatorConfig, n: int) -> list[int]:
        """Which of `n` served rows to replace with malformed ones."""
        rate = config.malformed_rate
        if rate <= 0.0 or n == 0:
            return []
        rnd = self._rngs["malformed"].random
        hits = [i for i in range(n) if rnd() < rate]
        self.counts["malformed_rows"] += len(hits)
        return hits

    def malformed_row(self, row: dict[str, Any], start: date | None, end: date | None) -> bytes:
        """`row` (a clean EOD row dict) broken in one of the MALFORMED_KINDS ways."""
        kind = self._rngs["malformed"].choice(MALFORMED_KINDS)
        self.counts[f"malformed_{kind}"] += 1
        bad = dict(row)
        if kind == "null_close":
            bad["close"] = None
        elif kind == "negative_price":
            bad["close"] = -abs(bad["close"] or 1.0)
            bad["low"] = -abs(bad["low"] or 1.0)
        elif kind == "high_below_low":
            bad["high"], bad["low"] = round(bad["low"] * 0.9, 4), round(bad["high"] * 1.1, 4)
        elif kind == "date_outside":
            if start is not None:
                bad["date"] = (start - timedelta(days=400)).isoformat()
            else:
                bad["date"] = ((end or date(2100, 1, 1)) + timedelta(days=30)).isoformat()
        else:
            bad[self._rngs["malformed"].choice(("close", "open", "volume"))] = "n/a"
        return json.dumps(bad, separators=(",", ":")).encode()
