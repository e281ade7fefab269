"""The checks every `/api` request passes, as aiohttp middlewares, outermost first:

1. `start_visit`: recognises an API route, counts the request, and starts the `Visit`
   the later steps write what they learn to (the token, the headers, the cost);
2. `authenticate`: an unknown `api_token` is answered 401/403 "Unauthenticated";
3. `limit_rate`: the per-minute window (429, sometimes with Retry-After) and the
   X-RateLimit headers every later answer carries;
4. `enforce_quota`: the daily quota against the request's cost (402);
5. `inject_faults`: latency, hangs and 5xx before the endpoint runs;
6. `truncate_bodies`: answers cut short after it ran (body or connection);
7. `charge`: runs the endpoint, charges its cost (also for a 400 or a 404) and counts
   what was served.

The order is the real service's, which the client's retry logic depends on (a 429 costs
nothing, a 404 costs a call). Requests that are not API calls (`/_sim/...`, unknown
URLs) pass every step untouched. Each step reads the config the request arrived under
(`Visit.config`), so a knob changed while a request sleeps does not change it half way.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from eodhd_simulator import render
from eodhd_simulator.accounting import COSTS, Ledger
from eodhd_simulator.config import SimulatorConfig
from eodhd_simulator.endpoints import Answer, BadRequest, Call, Endpoint, NotFound
from eodhd_simulator.state import STATE_KEY, SimulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

#: The application's API routes: route -> (endpoint name, as in COSTS; endpoint).
API_ROUTES: web.AppKey[dict[web.AbstractRoute, tuple[str, Endpoint]]] = web.AppKey("api_routes")


@dataclass
class Visit:
    """One API request on its way through the middlewares."""

    name: str
    endpoint: Endpoint
    state: SimulatorState
    #: The config and ledger as the request found them on arrival.
    config: SimulatorConfig
    ledger: Ledger
    now: datetime
    token: str = ""
    #: Headers of every answer from the rate limit on (X-RateLimit-*, Retry-After).
    headers: dict[str, str] = field(default_factory=dict)
    cost: int = 0
    #: The endpoint's answer, once it ran without raising.
    answer: Answer | None = None

    @property
    def free(self) -> bool:
        return self.token in self.config.free_tokens

    @property
    def day(self) -> date:
        """The usage day: the simulator clock's UTC date."""
        return self.now.astimezone(UTC).date()


VISIT: web.RequestKey[Visit] = web.RequestKey("simulator_visit")


def text_response(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=text, content_type="text/plain", headers=headers)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=render.dumps(body), content_type="application/json", headers=headers
    )


def _not_found_body(text: str, url: str) -> str:
    """The real 404 page echoes the request URL, api_token included (the contract); a
    client must never log or raise this body unredacted."""
    return (
        f"{text}\n\n<!DOCTYPE html><html><head><title>404 {text}</title></head><body>"
        f"<h1>{text}</h1><p>The requested URL {url} was not found on this server.</p>"
        "</body></html>\n"
    )


@web.middleware
async def start_visit(request: web.Request, handler: Handler) -> web.StreamResponse:
    api = request.app[API_ROUTES].get(request.match_info.route)
    if api is None:
        return await handler(request)
    state = request.app[STATE_KEY]
    name, endpoint = api
    visit = Visit(name, endpoint, state, state.config, state.ledger, state.now())
    visit.ledger.requests[name] += 1
    request[VISIT] = visit
    return await handler(request)


Step = Callable[[web.Request, Visit, Handler], Awaitable[web.StreamResponse]]


def _api_step(step: Step) -> Middleware:
    """`step` as a middleware for API requests; any other request passes it by."""

    @web.middleware
    @functools.wraps(step)
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        visit = request.get(VISIT)
        if visit is None:
            return await handler(request)
        return await step(request, visit, handler)

    return middleware


@_api_step
async def authenticate(request: web.Request, visit: Visit, handler: Handler) -> web.StreamResponse:
    token = request.query.get("api_token", "")
    if token not in visit.config.all_tokens():
        visit.ledger.unauthenticated += 1
        status = visit.state.unauthenticated_status()
        visit.ledger.statuses[status] += 1
        return text_response(status, "Unauthenticated")
    visit.token = token
    return await handler(request)


@_api_step
async def limit_rate(request: web.Request, visit: Visit, handler: Handler) -> web.StreamResponse:
    config, led, faults = visit.config, visit.ledger, visit.state.faults
    admitted, remaining = led.admit(visit.token, config.per_minute_limit, config.rate_window_s)
    if faults.with_rate_headers(config):
        visit.headers["X-RateLimit-Limit"] = str(config.per_minute_limit)
        visit.headers["X-RateLimit-Remaining"] = str(remaining)
    if not admitted:
        led.rate_limited += 1
        led.statuses[429] += 1
        if faults.with_retry_after(config):
            visit.headers["Retry-After"] = str(config.retry_after_seconds)
        return text_response(429, "Too Many Requests", visit.headers)
    return await handler(request)


@_api_step
async def enforce_quota(request: web.Request, visit: Visit, handler: Handler) -> web.StreamResponse:
    config, led = visit.config, visit.ledger
    cost = COSTS[visit.name]
    if visit.name == "eod-bulk-last-day" and request.query.get("symbols"):
        cost += len([s for s in request.query["symbols"].split(",") if s.strip()])
    visit.cost = cost
    quota = config.free_daily_quota if visit.free else config.daily_quota
    if cost and led.usage(visit.token, visit.day) + cost > quota:
        led.quota_exhausted += 1
        led.statuses[402] += 1
        return json_response(
            402,
            {"message": f"You have exceeded your daily API requests limit ({quota})."},
            visit.headers,
        )
    return await handler(request)


@_api_step
async def inject_faults(request: web.Request, visit: Visit, handler: Handler) -> web.StreamResponse:
    config = visit.config
    if config.latency_s > 0:
        await asyncio.sleep(config.latency_s)
    if visit.state.faults.hang(config):
        await asyncio.sleep(config.hang_seconds)
    failure = visit.state.faults.server_error(config, visit.now)
    if failure is not None:
        status, body = failure
        visit.ledger.statuses[status] += 1
        return web.Response(
            status=status, body=body, content_type="text/html", headers=visit.headers
        )
    return await handler(request)


@_api_step
async def truncate_bodies(
    request: web.Request, visit: Visit, handler: Handler
) -> web.StreamResponse:
    response = await handler(request)
    answer = visit.answer
    if answer is None or len(answer.body) <= 2:
        return response
    mode = visit.state.faults.truncate(visit.config)
    if mode is None:
        return response
    cut = answer.body[: len(answer.body) // 2]
    if mode == "body":
        return web.Response(
            status=answer.status, body=cut, content_type=answer.content_type, headers=visit.headers
        )
    # "connection": promise the full length, send half, drop the connection.
    resp = web.StreamResponse(status=answer.status, headers=visit.headers)
    resp.content_type = answer.content_type
    resp.content_length = len(answer.body)
    await resp.prepare(request)
    await resp.write(cut)
    if request.transport is not None:
        request.transport.close()
    return resp


@_api_step
async def charge(request: web.Request, visit: Visit, handler: Handler) -> web.StreamResponse:
    led = visit.ledger
    url = str(request.url)
    try:
        response = await handler(request)
    except BadRequest:
        led.charge(visit.token, visit.day, visit.cost)
        led.statuses[400] += 1
        return json_response(400, {"message": f"bad request URL: {url}"}, visit.headers)
    except NotFound as exc:
        led.charge(visit.token, visit.day, visit.cost)
        led.served[visit.name] += 1
        led.statuses[404] += 1
        return web.Response(
            status=404,
            text=_not_found_body(exc.text, url),
            content_type="text/html",
            headers=visit.headers,
        )
    answer = visit.answer
    assert answer is not None
    led.charge(visit.token, visit.day, visit.cost if answer.cost is None else answer.cost)
    led.served[visit.name] += 1
    led.statuses[answer.status] += 1
    return response


#: The middlewares in the order a request meets them.
MIDDLEWARES: tuple[Middleware, ...] = (
    start_visit,
    authenticate,
    limit_rate,
    enforce_quota,
    inject_faults,
    truncate_bodies,
    charge,
)


async def serve_endpoint(request: web.Request) -> web.StreamResponse:
    """The handler of every API route: runs the visit's endpoint on the parsed request."""
    visit = request[VISIT]
    answer = await visit.endpoint(Call(request, visit.state, visit.token, visit.now, visit.free))
    visit.answer = answer
    return web.Response(
        status=answer.status,
        body=answer.body,
        content_type=answer.content_type,
        headers=visit.headers,
    )
