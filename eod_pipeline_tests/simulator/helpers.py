"""Small HTTP helpers for simulator tests: plain urllib against the real loopback server,
so what the tests see is exactly what a client sees."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from eod_pipeline.eodhd.schemas import EOD_HISTORY
from eodhd_simulator import SimulatorServer


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


def ticker_path(endpoint: str, code: str, exchange: str) -> str:
    """`/eod/M%26G.LSE`: the code percent-encoded as a client must."""
    return f"/{endpoint}/{urllib.parse.quote(code, safe='')}.{exchange}"


def fetch(
    sim: SimulatorServer,
    path: str,
    token: str | None = "default",
    timeout: float = 10.0,
    **params: Any,
) -> Reply:
    """GET `base_url + path` with the sim's token (or `token`, None for none) and params;
    `fmt` defaults to json like the real client sends it."""
    query = {k: v for k, v in params.items() if v is not None}
    query.setdefault("fmt", "json")
    if token == "default":
        token = sim.token
    if token is not None:
        query["api_token"] = token
    url = f"{sim.base_url}{path}?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read())


def history_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Parse `/eod/` JSON rows the way the client does (explicit schema)."""
    return pl.DataFrame(
        [{**r, "date": date.fromisoformat(r["date"])} for r in rows], schema=EOD_HISTORY
    )


def iso(dt: datetime) -> str:
    return dt.isoformat()
