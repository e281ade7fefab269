"""What the daily refresh should request for one exchange: a pure decision from facts.

Facts in: which trading days' partitions are materialized (Dagster's partition status,
not a cursor), the exchange's known holidays, and the newest day whose data is out. A day
counts as done only if its partition was materialized; days the daemon missed (down over
a long weekend, a failed or killed run) are requested again, together, as one range run
that the price asset plans by cost (and where the fetch log already knows a day, it
costs nothing).

Late corrections: when the newest day is requested, the `revision_days` trading days
before it are fetched again in the same run (their partitions are in the range; the run
tag `eod/revise_from` tells the asset to ignore the fetch log from that day on).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from eod_pipeline.markets.calendar import trading_days


@dataclass(frozen=True)
class RefreshRange:
    start: dt.date
    end: dt.date
    #: Days from this one on are fetched again for late corrections (None: no revision).
    revise_from: dt.date | None
    #: The trading days of the range that were not materialized.
    missing: tuple[dt.date, ...]

    @property
    def key(self) -> str:
        return f"{self.start.isoformat()}...{self.end.isoformat()}"


def refresh_range(newest: dt.date, first_allowed: dt.date, lookback: dt.timedelta,
                  holidays: Collection[dt.date], materialized: Collection[str],
                  revision_days: int) -> RefreshRange | None:
    """The range to request, or None when every trading day up to `newest` is done.

    `first_allowed` is the exchange's configured start; `lookback` bounds how far back
    missed days are filled (older holes are a backfill's job, and the checks name them).
    `materialized` holds partition keys (ISO dates).
    """
    if newest < first_allowed:
        return None
    floor = max(first_allowed, newest - lookback)
    days = list(trading_days(floor, newest, holidays))
    missing = [d for d in days if d.isoformat() not in materialized]
    if not missing:
        return None
    revise_from = None
    start = missing[0]
    if missing[-1] == newest and revision_days > 0:
        before = [d for d in days if d < newest][-revision_days:]
        if before:
            revise_from = before[0]
            start = min(start, revise_from)
    return RefreshRange(start, missing[-1], revise_from, tuple(missing))
