"""`eod-pipeline export`: prices or weekly/monthly bars to a Parquet file, with the
reader's options (`eod_pipeline.read`: adjust, as_of, symbols, dates, columns).

Why a command: a backtest in another language, or a colleague without Python, gets the
same adjusted or point-in-time data as `read.prices` in one file, computed by the same
warehouse functions.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from eod_pipeline.commands.common import IsoDate, n, warehouse_url
from eod_pipeline.read import ADJUST_MODES, ReadError, bars, prices
from eod_pipeline.warehouse.migrations import WarehouseNotReady

#: --every choices: daily rows, or bars (read.bars).
EVERY = ("1d", "1w", "1mo")


@click.command()
@click.option("--exchange", required=True, help="Exchange code, e.g. US.")
@click.option("--symbol", "symbols", multiple=True,
              help="Ticker as stored, e.g. BRK-B (repeat for several; default: all).")
@click.option("--from", "start", type=IsoDate(), help="First date (YYYY-MM-DD).")
@click.option("--to", "end", type=IsoDate(), help="Last date (YYYY-MM-DD).")
@click.option("--adjust", type=click.Choice(list(ADJUST_MODES)), default="total",
              show_default=True,
              help="; ".join(f"{k}: {v}" for k, v in ADJUST_MODES.items()) + ".")
@click.option("--as-of", "as_of", default=None,
              help="What the warehouse held at this time (ISO, e.g. 2026-03-31T22:00:00Z; "
                   "a date means the end of that day UTC). Default: the latest values.")
@click.option("--every", type=click.Choice(EVERY), default="1d", show_default=True,
              help="Daily rows, or weekly / monthly bars.")
@click.option("--columns", default=None,
              help="Comma-separated columns of daily rows (default: all of the mode).")
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Parquet file to write.")
def export(exchange: str, symbols: tuple[str, ...], start: dt.date | None,
           end: dt.date | None, adjust: str, as_of: str | None, every: str,
           columns: str | None, output: Path) -> None:
    """Write prices of --exchange (adjusted as --adjust, as of --as-of) to a Parquet file."""
    if columns and every != "1d":
        raise click.BadParameter("--columns applies to daily rows (--every 1d) only",
                                 param_hint="'--columns'")
    url = warehouse_url()
    chosen = list(symbols) or None
    when = as_of.replace("Z", "+00:00") if as_of else None
    try:
        if every == "1d":
            frame = prices(exchange, chosen, start, end, adjust=adjust, as_of=when,
                           columns=columns.split(",") if columns else None,
                           database_url=url)
        else:
            frame = bars(exchange, chosen, start, end, every=every, adjust=adjust,
                         as_of=when, database_url=url)
    except ReadError as exc:
        raise click.UsageError(str(exc)) from None
    except WarehouseNotReady as exc:
        raise click.ClickException(str(exc)) from None
    output.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(output)
    click.echo(f"wrote {n(frame.height)} rows ({adjust}, {every}"
               f"{', as of ' + as_of if as_of else ''}) to {output}")
