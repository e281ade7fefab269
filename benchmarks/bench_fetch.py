"""Benchmark of the EODHD client against the local simulator.

    python benchmarks/bench_fetch.py [--seconds-a 5] [--seconds-b 20] [--tickers 120]

(a) Throughput: per-ticker histories of ~2,500 rows (~10 years), fetched over HTTP and
    parsed into EOD_HISTORY frames with the limiter effectively off. Target >= 200/s on a
    2-core machine.
(b) Pacing: the limiter at 6,000 requests/minute for 20 s against a simulator whose
    per-minute limit is 6,000: share of that limit used (target >= 0.95) and 429s
    (target 0).

The simulator runs in a separate process (spawned), so it does not compete with the
client for one GIL. The last line is machine-readable:

    histories_per_s=X rate_limit_use=Y http_429=Z
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

try:
    import eod_pipeline  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import UNTHROTTLED_RPM, SimulatorProcess, machine_line

from eod_pipeline.eodhd import EodhdClient, EodhdSettings
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.server import SimulatorServer, control

#: Rate of part (b) and the simulator's limit: the numbers the brief sets.
PACED_RPM = 6_000


#: ~10 years of trading days, so each history is ~2,500 rows (as the brief asks).
HISTORY_YEARS = 10


def _pick_tickers(config: SimulatorConfig, n: int, start: dt.date) -> list[tuple[str, str]]:
    """(exchange, code) of listed tickers whose history covers [start, today]."""
    with SimulatorServer(config) as sim:  # the universe is deterministic from the seed
        uni = sim.universe
        out: list[tuple[str, str]] = []
        for exchange in ("US", "LSE", "XETRA"):
            for s in uni.symbols(exchange):
                if s.delisted_on is None and s.listed_on <= start and not s.illiquid:
                    out.append((exchange, s.code))
    return out[:n]


async def _bench_histories(
    base_url: str,
    token: str,
    tickers: list[tuple[str, str]],
    start: dt.date,
    seconds: float,
    in_flight: int,
) -> dict[str, Any]:
    settings = EodhdSettings(
        token=token,
        base_url=base_url,
        requests_per_minute=UNTHROTTLED_RPM,
        max_in_flight=in_flight,
    )
    async with EodhdClient(settings) as client:
        # Warm-up pass: the simulator builds and caches each ticker's price path on first
        # use; the benchmark measures the client, not that one-time cost.
        await asyncio.gather(*(client.eod_history(ex, code, start) for ex, code in tickers))
        done = 0
        rows = 0
        deadline = time.perf_counter() + seconds
        began = time.perf_counter()

        async def worker(offset: int) -> None:
            nonlocal done, rows
            i = offset
            while time.perf_counter() < deadline:
                ex, code = tickers[i % len(tickers)]
                frame = await client.eod_history(ex, code, start)
                done += 1
                rows += frame.height
                i += in_flight * 2

        await asyncio.gather(*(worker(k) for k in range(in_flight * 2)))
        elapsed = time.perf_counter() - began
        return {
            "histories": done,
            "rows": rows,
            "elapsed_s": elapsed,
            "histories_per_s": done / elapsed,
            "rows_per_s": rows / elapsed,
            "http_429": client.usage.http_429,
            "retries": client.usage.retries,
        }


async def _bench_pacing(
    base_url: str,
    token: str,
    tickers: list[tuple[str, str]],
    seconds: float,
    in_flight: int,
) -> dict[str, Any]:
    settings = EodhdSettings(
        token=token, base_url=base_url, requests_per_minute=PACED_RPM, max_in_flight=in_flight
    )
    # Small answers (one month of bars): this part measures pacing, not parsing.
    day = dt.date.today() - dt.timedelta(days=30)
    async with EodhdClient(settings) as client:
        done = 0
        began = time.perf_counter()
        deadline = began + seconds

        async def worker(offset: int) -> None:
            nonlocal done
            i = offset
            while time.perf_counter() < deadline:
                ex, code = tickers[i % len(tickers)]
                await client.eod_history(ex, code, day)
                done += 1
                i += 1

        # More workers than slots, so the limiter, not the workers, sets the pace.
        await asyncio.gather(*(worker(k) for k in range(in_flight * 4)))
        elapsed = time.perf_counter() - began
        return {
            "requests": done,
            "elapsed_s": elapsed,
            "per_minute": done / elapsed * 60,
            "limiter_effective_per_minute": client.pacer.limiter.effective_per_minute,
            "http_429": client.usage.http_429,
            "header_pauses": client.usage.header_pauses,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-a", type=float, default=5.0)
    parser.add_argument("--seconds-b", type=float, default=20.0)
    parser.add_argument("--tickers", type=int, default=120)
    parser.add_argument("--in-flight", type=int, default=8)
    args = parser.parse_args()

    config = SimulatorConfig(
        symbols_per_exchange=60,
        per_minute_limit=UNTHROTTLED_RPM,
        rate_header_share=0.9,
    )
    today = dt.date.today()
    start = today - dt.timedelta(days=round(365.25 * HISTORY_YEARS))
    tickers = _pick_tickers(config, args.tickers, start)

    with SimulatorProcess(config) as (base_url, token):
        print(machine_line())
        print(f"simulator: {base_url} (separate process); {len(tickers)} tickers, "
              f"histories from {start}")

        a = asyncio.run(
            _bench_histories(base_url, token, tickers, start, args.seconds_a, args.in_flight)
        )
        print(
            f"(a) unthrottled: {a['histories']} histories, {a['rows']} rows in "
            f"{a['elapsed_s']:.2f}s -> {a['histories_per_s']:.1f} histories/s, "
            f"{a['rows_per_s']:,.0f} rows/s, avg {a['rows'] / max(a['histories'], 1):.0f} "
            f"rows/history, 429s {a['http_429']}, retries {a['retries']}"
        )

        control(base_url, "reset", {})
        control(base_url, "config", {"per_minute_limit": PACED_RPM, "rate_window_s": 60.0})
        b = asyncio.run(_bench_pacing(base_url, token, tickers, args.seconds_b, args.in_flight))
        stats = control(base_url, "stats")
        server_429 = int(stats.get("rate_limited", 0))
        budget = PACED_RPM * b["elapsed_s"] / 60.0
        # Requests done over what the limit allows in the time they took (the run ends a
        # little after the nominal seconds, while the last requests finish).
        use = b["requests"] / budget
        print(
            f"(b) paced at {PACED_RPM}/min for {b['elapsed_s']:.2f}s: {b['requests']} requests "
            f"({b['per_minute']:.0f}/min; limiter steady rate "
            f"{b['limiter_effective_per_minute']:.0f}/min; window budget {budget:.0f}); "
            f"client 429s {b['http_429']}, server 429s {server_429}, "
            f"header pauses {b['header_pauses']}"
        )
        http_429 = max(b["http_429"], server_429)
        print(
            f"histories_per_s={a['histories_per_s']:.1f} rate_limit_use={use:.3f} "
            f"http_429={http_429}"
        )


if __name__ == "__main__":
    main()
