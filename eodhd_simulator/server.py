"""Running the simulator: in a background thread (sync tests), in the current event loop
(async tests), or in the foreground (`eod-pipeline simulate`).

The server always binds 127.0.0.1 and port 0 by default, so parallel test sessions never
collide on a port and nothing is exposed beyond loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import urllib.request
from collections.abc import AsyncIterator, Coroutine, Iterable
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web

from eodhd_simulator import render
from eodhd_simulator.app import make_app
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.state import SimulatorState
from eodhd_simulator.universe import Universe

T = TypeVar("T")

#: Seconds to wait for in-flight requests at shutdown; hung requests (hang_rate) would
#: otherwise hold a test teardown for aiohttp's default 60 s.
SHUTDOWN_TIMEOUT_S = 0.5
#: How long after a day's data-out moment `publish` sets the clock: past the boundary,
#: so "is it out yet" is unambiguous, and well before any next event.
PUBLISH_MARGIN = timedelta(minutes=1)


async def _start_site(state: SimulatorState, host: str, port: int) -> tuple[web.AppRunner, int]:
    render.set_cache_budget(state.config.render_cache_mb * 2**20)
    if state.config.prewarm:
        state.universe.prewarm(state.now())
    runner = web.AppRunner(
        make_app(state=state), access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server  # the asyncio.Server; the bound port is only known here
    assert server is not None and server.sockets
    return runner, server.sockets[0].getsockname()[1]


class _Handle:
    """Shared surface of the thread and in-loop servers."""

    state: SimulatorState
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """The client's base URL, e.g. "http://127.0.0.1:41234/api"."""
        return f"http://{self.host}:{self.port}/api"

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def universe(self) -> Universe:
        return self.state.universe

    @property
    def config(self) -> SimulatorConfig:
        return self.state.config

    @property
    def token(self) -> str:
        """A valid paid-plan token."""
        return sorted(self.state.config.tokens)[0]

    def set_clock(self, now: datetime | None) -> None:
        """Freeze the clock (each kind of server implements it on its own loop)."""
        raise NotImplementedError

    def publish(self, day: date, exchanges: Iterable[str] | None = None) -> datetime:
        """Move the clock to one minute after `day`'s data is out on every one of
        `exchanges` (default: all) and return that moment: the step of a day-by-day walk.
        Cheap (see `SimulatorState.set_clock`); `day` need not trade everywhere."""
        uni = self.universe
        codes = list(exchanges) if exchanges is not None else [e.code for e in uni.exchanges()]
        now = max(uni.calendar(c).data_out_at(day) for c in codes) + PUBLISH_MARGIN
        self.set_clock(now)
        return now


class SimulatorServer(_Handle):
    """The simulator in a daemon thread with its own event loop.

    Use as a context manager: `with SimulatorServer(config) as sim: ... sim.base_url`.
    Control methods run on the server's loop, so they never race a request handler.
    """

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.state = SimulatorState(config or SimulatorConfig())
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SimulatorServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._runner, self.port = loop.run_until_complete(
                    _start_site(self.state, self.host, self.port)
                )
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="eodhd-simulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop = None
        self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None, "simulator not started"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def set_clock(self, now: datetime | None) -> None:
        """Freeze the simulator clock at `now` (timezone-aware; naive means UTC), or
        return to real time with None."""

        async def go() -> None:
            self.state.set_clock(now)

        self._call(go())

    def configure(self, **knobs: Any) -> None:
        """Change run-time knobs (see config.RUNTIME_FIELDS), e.g. error_5xx_rate=0.2."""

        async def go() -> None:
            self.state.configure(**knobs)

        self._call(go())

    def reset(self) -> None:
        """Forget quota use, rate windows, counters and fault draws."""

        async def go() -> None:
            self.state.reset()

        self._call(go())

    def stats(self) -> dict[str, Any]:
        """The `/_sim/stats` document."""

        async def go() -> dict[str, Any]:
            return json.loads(json.dumps(self.state.stats()))

        return self._call(go())


class RunningSimulator(_Handle):
    """The simulator inside the caller's event loop (from `running_simulator`)."""

    def __init__(self, state: SimulatorState, host: str, port: int) -> None:
        self.state = state
        self.host = host
        self.port = port

    def set_clock(self, now: datetime | None) -> None:
        self.state.set_clock(now)

    def configure(self, **knobs: Any) -> None:
        self.state.configure(**knobs)

    def reset(self) -> None:
        self.state.reset()

    def stats(self) -> dict[str, Any]:
        return self.state.stats()


@contextlib.asynccontextmanager
async def running_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSimulator]:
    """The simulator served from the current event loop, for async tests:
    `async with running_simulator(cfg) as sim: ...`. Keep in mind that a handler runs only
    while the test awaits (a blocking call in the test would stall the server)."""
    state = SimulatorState(config or SimulatorConfig())
    runner, bound = await _start_site(state, host, port)
    try:
        yield RunningSimulator(state, host, bound)
    finally:
        await runner.cleanup()


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    config: SimulatorConfig | None = None,
) -> None:
    """Serve in the foreground until interrupted (the `eod-pipeline simulate` command)."""
    state = SimulatorState(config or SimulatorConfig())
    render.set_cache_budget(state.config.render_cache_mb * 2**20)
    if state.config.prewarm:
        state.universe.prewarm(state.now())
    print(
        f"EODHD simulator on http://{host}:{port}/api (token: {sorted(state.config.tokens)[0]})",
        flush=True,
    )
    web.run_app(
        make_app(state=state),
        host=host,
        port=port,
        access_log=None,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        print=None,
    )


def control(base_url: str, what: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Call a `/_sim/{what}` control endpoint of a simulator in another process
    (`base_url` as given to clients, ending in /api)."""
    root = base_url.removesuffix("/").removesuffix("/api")
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(
        f"{root}/_sim/{what}",
        data=data,
        method="GET" if data is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())
