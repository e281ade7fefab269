"""The API token never shows up in logs, exception text, tracebacks, reprs or usage data.

A deliberately faulted run (5xx, truncation, hangs, 400/404 bodies that echo the URL with
the token, a refused token, a refused connection, a 402) with every log at DEBUG.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import traceback

import pytest

from eod_pipeline.eodhd import BadRequestError, EodhdClient, EodhdError
from eod_pipeline.eodhd import parsing as P
from eod_pipeline.eodhd.transport import Request
from eod_pipeline_tests.eodhd.helpers import SIM_NOW, run, settings_for

START = dt.date(2026, 6, 1)


def _texts_of(exc: BaseException) -> list[str]:
    """Everything an exception could print or carry: message, repr, the full formatted
    traceback (which follows __cause__ and __context__), and its attributes."""
    out = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out += [str(cur), repr(cur), repr(vars(cur))]
        cur = cur.__cause__ or cur.__context__
    return out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_token_anywhere_after_a_faulted_run(
    simulator_factory,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = simulator_factory(
        error_5xx_rate=0.3,
        truncate_rate=0.3,
        hang_rate=0.05,
        hang_seconds=1.0,
        per_minute_limit=100_000,
        daily_quota=60,
    )
    token = sim.token
    errors: list[BaseException] = []
    reprs: list[str] = []

    async def go() -> None:
        settings = settings_for(sim, timeout_s=0.3, max_retries=2)
        async with EodhdClient(settings, clock=lambda: SIM_NOW) as client:
            # 404: the simulator's page echoes the URL, token included.
            # 400: {"message": "bad request URL: ...?api_token=..."}.
            bad = Request(
                "eod",
                "eod/BRK-B.US",
                (("from", "not-a-date"),),
                lambda b, ct: P.parse_table(b, P.EOD_HISTORY_SPEC, content_type=ct),
                ticker="BRK-B.US",
            )
            for attempt in (client.eod_history("US", "NO&SUCH", START), client._call(bad)):
                try:
                    await attempt
                except EodhdError as exc:
                    errors.append(exc)
            jobs = [
                client.eod_history(ex, code, START)
                for ex, code in [("US", "BRK-B"), ("LSE", "M&G"), ("XETRA", "MÜV2")] * 30
            ]
            results = await asyncio.gather(*jobs, return_exceptions=True)
            errors.extend(r for r in results if isinstance(r, BaseException))
            reprs.extend([repr(client), str(client), repr(client.usage.as_dict())])
            reprs.append(repr(client.settings))

        refused = settings_for(sim, token=token + "-wrong")
        async with EodhdClient(refused) as client:
            try:
                await client.user()
            except EodhdError as exc:
                errors.append(exc)

        nowhere = settings_for(
            sim, base_url=f"http://127.0.0.1:{_closed_port()}/api", max_retries=1
        )
        async with EodhdClient(nowhere) as client:
            try:
                await client.exchanges()
            except EodhdError as exc:
                errors.append(exc)

    with caplog.at_level(logging.DEBUG):
        run(go())

    kinds = {type(e).__name__ for e in errors}
    # The run really went through the dangerous paths.
    assert {"TickerNotFoundError", "BadRequestError", "AuthenticationError"} <= kinds
    assert "QuotaExhaustedError" in kinds
    assert "RetriesExhaustedError" in kinds
    bad_request = next(e for e in errors if isinstance(e, BadRequestError))
    assert "api_token=***" in str(bad_request)  # the echoed URL, redacted
    assert caplog.records, "DEBUG logging was captured"

    assert token not in caplog.text
    for record in caplog.records:
        assert token not in record.getMessage()
    for exc in errors:
        for text in _texts_of(exc):
            assert token not in text, f"token leaked via {type(exc).__name__}"
    for text in reprs:
        assert token not in text
