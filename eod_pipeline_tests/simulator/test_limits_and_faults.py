"""Costs, quotas, rate limits, errors and injected faults: the behaviour the client's
retry, budget and redaction logic is tested against."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import time
import urllib.parse
from datetime import UTC, datetime

import aiohttp
import pytest

from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN, SimulatorFactory
from eod_pipeline_tests.simulator.helpers import fetch
from eodhd_simulator import SimulatorConfig, SimulatorServer, control, running_simulator
from eodhd_simulator.faults import MALFORMED_KINDS


def test_costs_follow_the_table(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory()
    calls = [
        ("/eod/BRK-B.US", {}, 1),
        ("/eod/NOSUCH.US", {}, 1),  # a 404 still costs a call
        ("/exchange-details/US", {}, 1),
        ("/exchange-symbol-list/US", {}, 1),
        ("/exchanges-list/", {}, 1),
        ("/splits/BRK-B.US", {}, 1),
        ("/div/BRK-B.US", {}, 1),
        ("/eod-bulk-last-day/US", {}, 100),
        ("/eod-bulk-last-day/US", {"symbols": "BRK-B,BF-B,PB&J"}, 103),
        ("/user", {}, 0),
    ]
    spent = 0
    for path, params, cost in calls:
        fetch(sim, path, **params)
        spent += cost
        assert fetch(sim, "/user").json()["apiRequests"] == spent, path
    user = fetch(sim, "/user").json()
    assert user["dailyRateLimit"] == 100_000
    assert user["apiRequestsDate"] == "2026-11-20"
    assert sim.stats()["credits"][SIM_TOKEN]["2026-11-20"] == spent


def test_quota_spent_gives_402_and_resets_next_utc_day(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(daily_quota=102)
    assert fetch(sim, "/eod-bulk-last-day/US").status == 200  # 100
    assert fetch(sim, "/eod-bulk-last-day/US").status == 402  # would need 200
    assert fetch(sim, "/eod/BRK-B.US").status == 200  # 101
    assert fetch(sim, "/eod/BRK-B.US").status == 200  # 102
    reply = fetch(sim, "/eod/BRK-B.US")
    assert reply.status == 402 and "message" in reply.json()
    assert fetch(sim, "/user").status == 200  # costs nothing
    assert sim.stats()["quota_exhausted"] == 2
    sim.set_clock(datetime(2026, 11, 21, 0, 1, tzinfo=UTC))  # midnight GMT resets
    assert fetch(sim, "/eod/BRK-B.US").status == 200


def test_per_minute_limit_429_with_and_without_retry_after(
    simulator_factory: SimulatorFactory,
) -> None:
    sim = simulator_factory(per_minute_limit=3, retry_after_share=1.0, rate_window_s=60)
    assert [fetch(sim, "/user").status for _ in range(3)] == [200, 200, 200]
    limited = fetch(sim, "/eod/BRK-B.US")
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "1"
    sim.configure(retry_after_share=0.0)
    assert "Retry-After" not in fetch(sim, "/user").headers
    stats = sim.stats()
    assert stats["rate_limited"] == 2
    assert stats["credits"] == {}  # rejected requests are not served, so cost nothing


def test_per_minute_window_slides(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(per_minute_limit=2, rate_window_s=0.3)
    assert [fetch(sim, "/user").status for _ in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert fetch(sim, "/user").status == 200


def test_rate_headers_on_most_answers(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(rate_header_share=1.0, per_minute_limit=50)
    reply = fetch(sim, "/user")
    assert reply.headers["X-RateLimit-Limit"] == "50"
    assert reply.headers["X-RateLimit-Remaining"] == "49"
    sim.configure(rate_header_share=0.0)
    assert "X-RateLimit-Limit" not in fetch(sim, "/user").headers
    sim.configure(rate_header_share=0.9)
    with_headers = sum("X-RateLimit-Remaining" in fetch(sim, "/user").headers for _ in range(40))
    assert 25 <= with_headers < 40


def test_bad_token_401_or_403_unauthenticated(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory()
    replies = [fetch(sim, "/eod/BRK-B.US", token=t) for t in ("wrong", None, "wrong")]
    assert [r.status for r in replies] == [401, 403, 401]
    assert all(r.text == "Unauthenticated" for r in replies)
    sim401 = simulator_factory(unauthenticated_statuses=(401,))
    assert {fetch(sim401, "/user", token="x").status for _ in range(3)} == {401}


def test_404_and_400_echo_the_token(simulator: SimulatorServer) -> None:
    missing = fetch(simulator, "/eod/NOSUCH.US")
    assert missing.status == 404
    assert missing.text.startswith("Ticker Not Found")
    assert f"api_token={SIM_TOKEN}" in missing.text
    bad = fetch(simulator, "/eod/BRK-B.US", **{"from": "2024-13-01"})
    assert bad.status == 400
    assert bad.json()["message"].startswith("bad request URL: ")
    assert SIM_TOKEN in bad.json()["message"]
    # A ticker is split on its LAST dot: "BRK.B.US" is code "BRK.B", which does not exist.
    assert fetch(simulator, "/eod/BRK.B.US").status == 404


def test_5xx_fault(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(error_5xx_rate=1.0)
    reply = fetch(sim, "/eod/BRK-B.US")
    assert reply.status in (500, 502, 503, 504)
    assert sim.stats()["faults"]["5xx"] == 1
    assert sim.stats()["credits"] == {}
    sim.configure(error_5xx_rate=0.3)
    statuses = [fetch(sim, "/user").status for _ in range(60)]
    assert 5 < sum(s >= 500 for s in statuses) < 35


def test_maintenance_window_raises_5xx(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(maintenance_5xx_rate=1.0)
    assert fetch(sim, "/user").status == 200
    sim.set_clock(datetime(2026, 11, 20, 5, 45, tzinfo=UTC))
    assert fetch(sim, "/user").status >= 500


def test_latency_fault(simulator_factory: SimulatorFactory) -> None:
    """The answer is held back: a client that waits less than the latency gets nothing,
    one that waits longer gets the answer."""
    sim = simulator_factory(latency_s=1.0)
    with pytest.raises(TimeoutError):
        fetch(sim, "/user", timeout=0.2)
    assert fetch(sim, "/user", timeout=10.0).status == 200


def test_hang_fault(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(hang_rate=1.0)
    with pytest.raises((TimeoutError, socket.timeout, OSError)):
        fetch(sim, "/user", timeout=0.5)
    assert sim.stats()["faults"]["hang"] == 1


def test_truncated_body_fault(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(truncate_rate=1.0, truncate_mode="body")
    full = simulator_factory()
    reply = fetch(sim, "/eod/BRK-B.US")
    assert reply.status == 200
    assert len(reply.body) == len(fetch(full, "/eod/BRK-B.US").body) // 2
    with pytest.raises(json.JSONDecodeError):
        reply.json()


def test_dropped_connection_fault(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(truncate_rate=1.0, truncate_mode="connection")
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
    query = urllib.parse.urlencode({"api_token": sim.token, "fmt": "json"})
    conn.request("GET", f"/api/eod/BRK-B.US?{query}")
    resp = conn.getresponse()
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    assert sim.stats()["faults"]["truncate"] == 1


def test_malformed_rows_fault(simulator_factory: SimulatorFactory) -> None:
    sim = simulator_factory(malformed_rate=1.0)
    rows = fetch(sim, "/eod/BRK-B.US", **{"from": "2025-01-01", "to": "2025-06-30"}).json()
    assert len(rows) > 100

    def broken(r: dict, lo: str = "2025-01-01", hi: str = "2025-06-30") -> bool:
        values = [r["open"], r["high"], r["low"], r["close"], r["volume"]]
        return (
            r["close"] is None
            or any(isinstance(v, str) for v in values)
            or any(isinstance(v, float) and v < 0 for v in values)
            or (r["high"] < r["low"])
            or not lo <= r["date"] <= hi
        )

    assert all(broken(r) for r in rows)
    faults = sim.stats()["faults"]
    assert faults["malformed_rows"] == len(rows)
    assert {f"malformed_{k}" for k in MALFORMED_KINDS} <= set(faults)
    sim.configure(malformed_rate=0.05)
    rows = fetch(sim, "/eod/BRK-B.US", **{"from": "2016-01-01"}).json()
    assert 0 < sum(broken(r, "2016-01-01", "2026-11-20") for r in rows) < len(rows) * 0.1


def test_control_endpoints_over_http(simulator: SimulatorServer) -> None:
    base = simulator.base_url
    fetch(simulator, "/eod/BRK-B.US")
    stats = control(base, "stats")
    assert stats["requests"]["eod"] == 1 and stats["clock_frozen"] is True
    assert control(base, "clock", {"now": "2026-11-17T15:00:00-05:00"})["frozen"] is True
    assert fetch(simulator, "/eod/BRK-B.US").json()[-1]["date"] == "2026-11-16"
    knobs = control(base, "config", {"error_5xx_rate": 1.0})
    assert knobs["error_5xx_rate"] == 1.0
    assert fetch(simulator, "/user").status >= 500
    control(base, "config", {"error_5xx_rate": 0.0})
    control(base, "reset", {})
    assert control(base, "stats")["requests"] == {}
    assert control(base, "clock", {"now": None})["frozen"] is False
    with pytest.raises(Exception, match="400"):
        control(base, "config", {"seed": 3})


def test_running_simulator_in_the_callers_loop() -> None:
    async def go() -> None:
        async with (
            running_simulator(SimulatorConfig(now=SIM_NOW)) as sim,
            aiohttp.ClientSession() as session,
        ):
            params = {"api_token": sim.token, "fmt": "json"}
            async with session.get(f"{sim.base_url}/eod/BRK-B.US", params=params) as resp:
                assert resp.status == 200
                rows = await resp.json()
            expected = sim.universe.history("US", "BRK-B", as_of=SIM_NOW)
            assert len(rows) == expected.height
            sim.configure(error_5xx_rate=1.0)
            async with session.get(f"{sim.base_url}/user", params=params) as resp:
                assert resp.status >= 500

    asyncio.run(go())
