"""Unit tests of the client's pieces that need no server: header reading and the quota stop.

The integration tests (test_faults.py, test_endpoints.py) drive these through the client
against the simulator; here the branches the simulator never sends are pinned down: an
HTTP-date Retry-After, odd headers, a naive injected clock, the stop's free endpoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest

from eod_pipeline.eodhd import InsufficientQuotaError, QuotaExhaustedError, UserInfo
from eod_pipeline.eodhd.headers import int_header, retry_after_s, server_now
from eod_pipeline.eodhd.quota import QuotaStop, require

NOW = dt.datetime(2026, 6, 3, 21, 30, tzinfo=dt.UTC)
DATE = "Wed, 03 Jun 2026 21:30:00 GMT"  # NOW as an HTTP date


@pytest.mark.parametrize(
    ("raw", "expected"), [("900", 900), (" 899.0 ", 899), ("lots", None), (None, None)]
)
def test_int_header(raw: str | None, expected: int | None) -> None:
    headers = {} if raw is None else {"X-RateLimit-Limit": raw}
    assert int_header(headers, "X-RateLimit-Limit") == expected


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"Retry-After": " 60 "}, 60.0),
        ({"Retry-After": "3600"}, 120.0),  # capped
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "soon"}, None),
        # An HTTP-date counts from the answer's own Date, not from our clock.
        ({"Retry-After": "Wed, 03 Jun 2026 21:30:45 GMT", "Date": DATE}, 45.0),
    ],
)
def test_retry_after_s(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers, cap_s=120.0) == expected


def test_server_now_prefers_clock_then_date_then_ours() -> None:
    naive = NOW.replace(tzinfo=None)
    assert server_now({"Date": "Thu, 01 Jan 2026 00:00:00 GMT"}, lambda: naive) == NOW
    assert server_now({"Date": DATE}, None) == NOW
    before = dt.datetime.now(dt.UTC)
    for headers in ({}, {"Date": "not a date"}):
        assert server_now(headers, None) >= before


def test_require_refuses_more_than_remains() -> None:
    info = UserInfo(
        name="n",
        subscription_type="x",
        requests_today=60,
        daily_limit=100,
        remaining=40,
        resets_at=dt.datetime(2026, 6, 4, tzinfo=dt.UTC),
    )
    assert require(40, info) is info
    with pytest.raises(InsufficientQuotaError):
        require(41, info)


def test_quota_stop_trips_once_and_spares_free_endpoints() -> None:
    logged: list[tuple[int, str]] = []

    async def go() -> None:
        stop = QuotaStop(lambda level, msg: logged.append((level, msg)), clock=lambda: NOW)
        stop.check("eod")  # not tripped: passes
        sleeper = asyncio.ensure_future(stop.sleep(30.0))
        inflight = asyncio.ensure_future(stop.guard("eod", asyncio.sleep(30.0)))
        await asyncio.sleep(0)

        err = stop.on_402("eod", {})
        stop.on_402("eod", {})  # a second 402 changes nothing
        assert stop.tripped
        assert err.resets_at == dt.datetime(2026, 6, 4, tzinfo=dt.UTC)
        # Both end now, not after their 30 s: a stop that did not wake them would make
        # these waits time out.
        await asyncio.wait_for(sleeper, timeout=5.0)  # woken, without raising
        with pytest.raises(QuotaExhaustedError):
            await asyncio.wait_for(inflight, timeout=5.0)  # cancelled, failed like any

        with pytest.raises(QuotaExhaustedError) as again:
            stop.check("eod")
        assert again.value is not err  # one instance per caller
        stop.check("user")  # free: still allowed
        assert await stop.guard("user", asyncio.sleep(0, "ok")) == "ok"

    asyncio.run(go())
    assert [level for level, _ in logged] == [logging.WARNING]
