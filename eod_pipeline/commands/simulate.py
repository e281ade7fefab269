"""`eod-pipeline simulate`: serve the local EODHD simulator in the foreground.

The offline demo runs it as a subprocess; on its own it lets anyone point the pipeline,
`curl` or another client at a well-behaved (or, with the fault options, a misbehaving)
EODHD without a token or a network. Every option maps to one `SimulatorConfig` field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

#: The first line `simulate` prints: whoever reads the output must not mistake it for
#: real market data.
SIMULATED_NOTICE = ("SIMULATED EODHD API: generated prices for testing and demos, "
                    "NOT real market data.")


class IsoMoment(click.ParamType):
    """An ISO 8601 date-time; a naive one is taken as UTC (the simulator's clock zone)."""

    name = "ISO-DATETIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            moment = value
        else:
            try:
                moment = dt.datetime.fromisoformat(str(value))
            except ValueError:
                self.fail(f"{value!r} is not an ISO date-time (e.g. 2026-11-20T23:00:00Z)",
                          param, ctx)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


_RATE = click.FloatRange(0.0, 1.0)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback keeps it private).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--seed", default=7, show_default=True, type=int,
              help="Seed of the simulated universe (same seed, same data).")
@click.option("--symbols", "symbols_per_exchange", default=40, show_default=True,
              type=click.IntRange(1), help="Symbols per exchange (active and delisted).")
@click.option("--clock", "now", type=IsoMoment(), default=None,
              help="Freeze the simulator clock at this moment (naive = UTC); default: "
                   "real time.")
@click.option("--error-5xx-rate", type=_RATE, default=0.0, show_default=True,
              help="Share of requests answered with a 5xx.")
@click.option("--latency", "latency_s", type=click.FloatRange(0.0), default=0.0,
              show_default=True, help="Seconds added before every answer.")
@click.option("--hang-rate", type=_RATE, default=0.0, show_default=True,
              help="Share of requests that never answer.")
@click.option("--truncate-rate", type=_RATE, default=0.0, show_default=True,
              help="Share of answers whose body is cut half way.")
@click.option("--malformed-rate", type=_RATE, default=0.0, show_default=True,
              help="Share of EOD rows replaced by a malformed row.")
@click.option("--per-minute-limit", type=click.IntRange(1), default=1000, show_default=True,
              help="Requests per token per minute before 429.")
@click.option("--daily-quota", type=click.IntRange(0), default=100_000, show_default=True,
              help="API calls per token per UTC day before 402.")
def simulate(host: str, port: int, **fields: Any) -> None:
    """Serve a simulated EODHD API until Ctrl-C (the token it accepts is printed).

    Point clients at http://HOST:PORT/api. Control endpoints: /_sim/stats, /_sim/clock,
    /_sim/config, /_sim/reset.
    """
    click.echo(SIMULATED_NOTICE)
    # Imported here: the simulator is a separate package, off the pipeline's import path.
    from eodhd_simulator import SimulatorConfig, serve

    config = SimulatorConfig(**fields)
    try:
        serve(host=host, port=port, config=config)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port)"
        ) from None
