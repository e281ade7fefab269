"""The limiter against the simulator's sliding window, in real time.

The window arithmetic itself is proven in test_units.py over simulated minutes; here the
question is whether the real client, with its semaphore, sockets and event loop, holds the
configured rate and never draws a 429 from a server whose limit equals that rate.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time

from eod_pipeline.eodhd import EodhdClient
from eod_pipeline_tests.eodhd.helpers import SIM_NOW, run, settings_for

DAY = dt.date(2026, 11, 2)  # small answers: pacing, not parsing, is under test
TICKERS = [("US", "BRK-B"), ("LSE", "M&G"), ("XETRA", "SGE"), ("US", "BF-B")]


async def _drive(client: EodhdClient, seconds: float, workers: int) -> list[float]:
    """Keep `workers` callers busy for `seconds`; returns completion times."""
    done: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(k: int) -> None:
        i = k
        while time.monotonic() < deadline:
            ex, code = TICKERS[i % len(TICKERS)]
            await client.eod_history(ex, code, DAY)
            done.append(time.monotonic())
            i += 1

    await asyncio.gather(*(worker(k) for k in range(workers)))
    return done


def test_limiter_holds_600_per_minute_without_429(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(per_minute_limit=600, rate_window_s=60.0, rate_header_share=1.0)

    async def go() -> tuple[list[float], EodhdClient]:
        settings = settings_for(sim, requests_per_minute=600)
        async with EodhdClient(settings, clock=lambda: SIM_NOW) as client:
            return await _drive(client, 5.0, workers=16), client

    done, client = run(go())
    rate = (len(done) - 1) / (done[-1] - done[0]) * 60
    assert 540 <= rate <= 660, f"{rate:.0f}/min"
    assert client.usage.http_429 == 0
    assert sim.stats()["rate_limited"] == 0
    assert client.usage.header_pauses == 0


def test_saturated_sliding_window_draws_no_429(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    """A window shrunk to 2 s so the test spans several full windows: 40 per 2 s."""
    sim = simulator_factory(per_minute_limit=40, rate_window_s=2.0, rate_header_share=1.0)

    async def go() -> tuple[list[float], EodhdClient]:
        settings = settings_for(sim, requests_per_minute=1200, rate_window_s=2.0)
        async with EodhdClient(settings, clock=lambda: SIM_NOW) as client:
            return await _drive(client, 5.0, workers=16), client

    done, client = run(go())
    assert sim.stats()["rate_limited"] == 0
    assert client.usage.http_429 == 0
    used = len(done) / (20.0 * (done[-1] - done[0]))  # share of 20 requests/s
    assert used >= 0.85, f"{used:.2f}"


def test_server_limit_below_ours_is_adopted(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    """Told 6,000/min but the server allows 30 per 2 s: the headers bring us down."""
    sim = simulator_factory(per_minute_limit=30, rate_window_s=2.0, rate_header_share=1.0)

    async def go() -> tuple[list[float], EodhdClient]:
        settings = settings_for(sim, requests_per_minute=6000, rate_window_s=2.0)
        async with EodhdClient(settings, clock=lambda: SIM_NOW) as client:
            return await _drive(client, 4.0, workers=16), client

    done, client = run(go())
    assert client.pacer.limiter.limit == 30
    assert client.pacer.server_limit == 30
    # Before the first answer nobody knew the limit: at most the first in-flight batch
    # could overrun, and with 8 in flight against 30 allowed, none does.
    assert sim.stats()["rate_limited"] == 0
    assert len(done) <= 30 * 3 + 8
