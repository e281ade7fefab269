"""The aiohttp application serving the EODHD endpoints under `/api`, plus `/_sim` controls.

Every API request goes through the middlewares of `middlewares.py` (token check,
per-minute window, daily quota, injected faults, then the endpoint with cost accounting
and body faults); the endpoints (`endpoints.py`) only compute answers. This module wires
them together, with the `/_sim` controls tests and the demo use to drive the simulator.
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.endpoints import ENDPOINTS
from eodhd_simulator.middlewares import (
    API_ROUTES,
    MIDDLEWARES,
    json_response,
    serve_endpoint,
)
from eodhd_simulator.state import STATE_KEY, SimulatorState
from eodhd_simulator.universe import Universe

__all__ = ["STATE_KEY", "SimulatorState", "make_app"]


# ----- /_sim controls ------------------------------------------------------------------------


async def sim_stats(request: web.Request) -> web.Response:
    return json_response(200, request.app[STATE_KEY].stats())


async def sim_clock(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.method == "POST":
        payload = await request.json()
        raw = payload.get("now")
        try:
            state.set_clock(None if raw is None else datetime.fromisoformat(raw))
        except (TypeError, ValueError) as exc:
            return json_response(400, {"message": str(exc)})
    frozen = state.config.now is not None
    return json_response(200, {"now": state.now().isoformat(), "frozen": frozen})


async def sim_config(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if request.method == "POST":
        payload = await request.json()
        try:
            state.configure(**payload)
        except (TypeError, ValueError) as exc:
            return json_response(400, {"message": str(exc)})
    return json_response(200, state.config.runtime_json())


async def sim_reset(request: web.Request) -> web.Response:
    request.app[STATE_KEY].reset()
    return json_response(200, {"reset": True})


def make_app(
    config: SimulatorConfig | None = None,
    universe: Universe | None = None,
    state: SimulatorState | None = None,
) -> web.Application:
    """The aiohttp application; `state` lets a server keep a handle on it."""
    state = state or SimulatorState(config or SimulatorConfig(), universe)
    app = web.Application(middlewares=MIDDLEWARES)
    app[STATE_KEY] = state
    api_routes = {}
    for name, route, endpoint in ENDPOINTS:
        for path in (route, route + "/"):
            api_routes[app.router.add_get(path, serve_endpoint)] = (name, endpoint)
    app[API_ROUTES] = api_routes
    app.router.add_get("/_sim/stats", sim_stats)
    app.router.add_route("*", "/_sim/clock", sim_clock)
    app.router.add_route("*", "/_sim/config", sim_config)
    app.router.add_post("/_sim/reset", sim_reset)
    return app
