"""`as_of` reads return what the warehouse held then: values before later revisions,
no rows stored later, no split stored later; without `as_of`, the latest."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline import read
from eod_pipeline.defs.sensors import daily_keys
from eodhd_simulator.events import Correction, InjectedSplit

#: The pipeline's (simulated) clock for the first load and for the later refresh.
FIRST = dt.datetime(2026, 10, 5, 23, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 10, 7, 23, 0, tzinfo=dt.UTC)
START = dt.date(2026, 9, 1)
VICTIM = "BRK-B"
#: Published with 2026-10-07's data: a 2:1 split, and a corrected close of an old bar
#: (the split's refetch of the victim's history picks it up).
SPLIT = InjectedSplit("US", VICTIM, dt.date(2026, 10, 7), numerator=2)
FIX = Correction("US", VICTIM, dt.date(2026, 9, 15), "close", factor=1.01,
                 published_on=dt.date(2026, 10, 7))


@pytest.mark.timescaledb
def test_as_of_reads_what_was_held_then(make_harness, warehouse_url):
    h = make_harness(warehouse_url, now=FIRST, injected_splits=(SPLIT,), corrections=(FIX,))
    h.load_reference("US")
    h.backfill_with_actions("US", START.isoformat(), "2026-10-05")
    held = {a: read.prices("US", adjust=a, database_url=warehouse_url)
            for a in ("vendor", "total", "split")}
    # Two clocks write the history: price fetches are logged on the pipeline's clock
    # (simulated here: FIRST, LATER), while action fetches, `known_at` and revisions'
    # `seen_at` take the wall clock (2026-11-27 or later when this was written). In a
    # deployment both are the wall clock; here each check takes an instant between the
    # two loads on the clock that matters to it.
    between = FIRST + dt.timedelta(hours=12)
    wall_between = dt.datetime.now(dt.UTC)

    h.set_clock(LATER)
    refresh = {"dagster/asset_partition_range_start": "2026-10-06",
               "dagster/asset_partition_range_end": "2026-10-07"}
    assert h.materialize(daily_keys("US"), tags=refresh).success
    after = dt.datetime.now(dt.UTC)

    url = warehouse_url
    latest = read.prices("US", adjust="vendor", database_url=url)
    # Latest: the new days, the corrected close, the split in the vendor's values.
    assert latest["date"].max() == dt.date(2026, 10, 7)
    victim = latest.filter(pl.col("symbol") == VICTIM)
    old_victim = held["vendor"].filter(pl.col("symbol") == VICTIM)
    fixed = victim.filter(pl.col("date") == FIX.date)["close"].item()
    assert fixed != old_victim.filter(pl.col("date") == FIX.date)["close"].item()

    # as_of between: exactly what was held then (old values, no rows of the new days).
    assert_frame_equal(read.prices("US", adjust="vendor", as_of=between, database_url=url),
                       held["vendor"])
    # ...and the split, stored later, adjusts nothing: adjusted reads as they were then.
    for adjust in ("total", "split"):
        assert_frame_equal(read.prices("US", end=dt.date(2026, 10, 5), adjust=adjust,
                                       as_of=wall_between, database_url=url),
                           held[adjust])
    # as_of after the refresh: the new values, the split applied (local equals vendor).
    now_total = read.prices("US", adjust="total", as_of=after, database_url=url)
    assert_frame_equal(now_total, read.prices("US", adjust="total", database_url=url))
    joined = now_total.join(latest, on=["symbol", "date"], suffix="_vendor")
    assert (joined["close"] == joined["adjusted_close"]).all()
    before_split = joined.filter((pl.col("symbol") == VICTIM)
                                 & (pl.col("date") < SPLIT.date))
    assert not before_split.is_empty()
    raw_now = read.prices("US", VICTIM, end=dt.date(2026, 10, 6), adjust="split",
                          database_url=url)
    halves = raw_now.join(victim, on=["symbol", "date"], suffix="_raw")
    assert ((halves["close"] - (halves["close_raw"] / 2)).abs() <= 0.00005 + 1e-9).all()
