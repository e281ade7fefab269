"""Each fault class the contract lists, injected by the simulator, handled by the client."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from eod_pipeline.eodhd import (
    AuthenticationError,
    EodhdClient,
    QuotaExhaustedError,
    RetriesExhaustedError,
    TickerNotFoundError,
)
from eod_pipeline_tests.eodhd.helpers import SIM_NOW, client_for, run, settings_for
from eodhd_simulator import SimulatorServer

START = dt.date(2026, 1, 1)
TICKERS = [("US", "BRK-B"), ("US", "PB&J"), ("LSE", "M&G"), ("XETRA", "MÜV2"), ("US", "BF-B")]


def _expected(sim: SimulatorServer, exchange: str, code: str) -> pl.DataFrame:
    return sim.universe.history(exchange, code, START, as_of=SIM_NOW)


def test_5xx_retried_then_succeeds(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(error_5xx_rate=0.4, per_minute_limit=100_000)

    async def go() -> EodhdClient:
        async with client_for(sim, max_retries=10) as client:
            for exchange, code in TICKERS * 4:
                df = await client.eod_history(exchange, code, START)
                assert_frame_equal(df, _expected(sim, exchange, code))
            return client

    client = run(go())
    injected = sim.stats()["faults"]["5xx"]
    assert injected > 0
    assert client.usage.retries == injected
    assert client.usage.requests == 20 + injected
    assert client.usage.calls_spent == 20  # 5xx are not charged
    assert sum(n for s, n in client.usage.by_status.items() if s >= 500) == injected


def test_5xx_exhausted_raises_after_bounded_retries(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(error_5xx_rate=1.0)

    async def go() -> None:
        async with client_for(sim, max_retries=3) as client:
            with pytest.raises(RetriesExhaustedError) as info:
                await client.eod_history("US", "BRK-B", START)
            err = info.value
            assert err.attempts == 4
            assert err.status is not None and err.status >= 500
            assert err.__cause__ is None and err.__context__ is None

    run(go())
    assert sim.stats()["requests"]["eod"] == 4


def test_hung_request_times_out_and_is_retried(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(hang_rate=1.0, hang_seconds=2.0)

    async def go() -> tuple[pl.DataFrame, EodhdClient, float]:
        async with client_for(sim, timeout_s=0.4) as client:
            task = asyncio.ensure_future(client.eod_history("US", "BRK-B", START))
            while sim.stats()["faults"].get("hang", 0) < 1:
                await asyncio.sleep(0.01)
            sim.configure(hang_rate=0.0)  # the retry after the timeout will be answered
            began = time.monotonic()
            df = await task
            return df, client, time.monotonic() - began

    df, client, waited = run(go())
    assert_frame_equal(df, _expected(sim, "US", "BRK-B"))
    assert client.usage.retries == 1
    assert client.usage.by_status[0] == 1  # one attempt without an answer
    assert waited < 3.0


@pytest.mark.parametrize("mode", ["body", "connection"])
def test_truncated_answers_are_retried(simulator_factory, mode: str) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(truncate_rate=0.5, truncate_mode=mode, per_minute_limit=100_000)

    async def go() -> EodhdClient:
        async with client_for(sim, max_retries=10) as client:
            for exchange, code in TICKERS * 2:
                df = await client.eod_history(exchange, code, START)
                assert_frame_equal(df, _expected(sim, exchange, code))
            return client

    client = run(go())
    injected = sim.stats()["faults"]["truncate"]
    assert injected > 0
    assert client.usage.retries == injected


@pytest.mark.parametrize("retry_after_share", [1.0, 0.0])
def test_429_retried_with_and_without_retry_after(
    simulator_factory,  # type: ignore[no-untyped-def]
    retry_after_share: float,
) -> None:
    # A server limit far below what the client is told (its own pacing is not under test
    # here; headers off so the client cannot learn the limit and avoid the 429s).
    sim = simulator_factory(
        per_minute_limit=4,
        rate_window_s=1.0,
        retry_after_share=retry_after_share,
        retry_after_seconds=1,
        rate_header_share=0.0,
    )

    async def go() -> tuple[EodhdClient, float]:
        settings = settings_for(
            sim, backoff_base_s=0.2, backoff_cap_s=1.0, max_rate_limit_retries=20
        )
        async with EodhdClient(settings, clock=lambda: SIM_NOW) as client:
            began = time.monotonic()
            frames = await asyncio.gather(
                *(client.eod_history(ex, code, START) for ex, code in TICKERS * 2)
            )
            for (ex, code), df in zip(TICKERS * 2, frames, strict=True):
                assert_frame_equal(df, _expected(sim, ex, code))
            return client, time.monotonic() - began

    client, elapsed = run(go())
    stats = sim.stats()
    assert client.usage.http_429 == stats["rate_limited"] > 0
    assert client.usage.calls_spent == 10  # 429s cost nothing
    assert client.usage.retries == client.usage.http_429
    assert elapsed >= 1.0  # 10 requests at 4 per second cannot finish sooner


@pytest.mark.parametrize("status", [401, 403])
def test_bad_token_fails_at_once(simulator_factory, status: int) -> None:  # type: ignore[no-untyped-def]
    sim = simulator_factory(unauthenticated_statuses=(status,))

    async def go() -> None:
        settings = settings_for(sim, token="not-a-valid-token")
        async with EodhdClient(settings) as client:
            with pytest.raises(AuthenticationError) as info:
                await client.eod_history("US", "BRK-B", START)
            assert info.value.status == status
            assert client.usage.requests == 1 and client.usage.retries == 0

    run(go())
    assert sim.stats()["requests"]["eod"] == 1


def test_404_is_not_retried(simulator: SimulatorServer) -> None:
    async def go() -> None:
        async with client_for(simulator) as client:
            with pytest.raises(TickerNotFoundError):
                await client.eod_history("LSE", "NO&SUCH", START)
            assert client.usage.requests == 1 and client.usage.calls_spent == 1

    run(go())
    assert simulator.stats()["requests"]["eod"] == 1


def test_402_stops_a_concurrent_job_promptly(simulator_factory) -> None:  # type: ignore[no-untyped-def]
    quota = 60
    sim = simulator_factory(daily_quota=quota, latency_s=0.02, per_minute_limit=100_000)
    in_flight = 8
    first_402: list[float] = []

    async def one(client: EodhdClient, exchange: str, code: str) -> pl.DataFrame:
        try:
            return await client.eod_history(exchange, code, START)
        except QuotaExhaustedError:
            if not first_402:
                first_402.append(time.monotonic())
            raise

    async def go() -> tuple[list[object], float, EodhdClient]:
        async with client_for(sim, max_in_flight=in_flight) as client:
            jobs = [one(client, ex, code) for ex, code in TICKERS * 40]  # 200 requests
            results = await asyncio.gather(*jobs, return_exceptions=True)
            done = time.monotonic()
            # Afterwards: billable calls fail fast without reaching the server ... (first
            # let requests abandoned at the 402, already on the wire, reach its counters)
            await asyncio.sleep(0.5)
            before = sim.stats()["requests"].get("eod", 0)
            with pytest.raises(QuotaExhaustedError):
                await client.eod_history("US", "BRK-B", START)
            assert sim.stats()["requests"].get("eod", 0) == before
            # ... while the free /user endpoint still answers.
            info = await client.user()
            assert info.remaining == 0
            return results, done, client

    results, done, client = run(go())
    ok = [r for r in results if isinstance(r, pl.DataFrame)]
    errors = [r for r in results if isinstance(r, BaseException)]
    # The simulator checks the quota before its latency and charges after it, so requests
    # in flight together can overshoot it by up to the in-flight count.
    assert quota <= len(ok) <= quota + in_flight
    assert len(errors) == 200 - len(ok)
    assert all(isinstance(e, QuotaExhaustedError) for e in errors)
    reset = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    assert all(e.resets_at == reset for e in errors)  # type: ignore[attr-defined]
    assert "2026-11-21T00:00:00+00:00" in str(errors[0])
    assert done - first_402[0] < 1.0  # the rest of the job ended promptly
    stats = sim.stats()
    # Only requests already on the wire when the first 402 came back can see a 402.
    assert stats["quota_exhausted"] <= in_flight
    assert stats["requests"]["eod"] <= len(ok) + in_flight
    assert client.quota_exhausted
