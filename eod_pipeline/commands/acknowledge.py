"""`eod-pipeline acknowledge`: say that a ticker really had no bars over some dates.

Why: the `no_gaps` check warns on stretches of trading days a ticker has no bar although
the source was asked (a halt, a suspension, a gap in the source). A person who has looked
and knows why records it here, so the check lists it as acknowledged instead of warning
about it on every run. It never changes prices; the row goes through the table writer
like every other write.
"""

from __future__ import annotations

import datetime as dt

import click
import polars as pl

from eod_pipeline.commands.common import warehouse
from eod_pipeline.warehouse.tables import GAP_ACKNOWLEDGEMENTS
from eod_pipeline.warehouse.writer import write_frames


@click.command()
@click.option("--exchange", required=True, help="Exchange code, e.g. US.")
@click.option("--symbol", required=True, help="Ticker as stored, e.g. BRK-B.")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First day without bars (YYYY-MM-DD).")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day without bars (YYYY-MM-DD).")
@click.option("--reason", required=True, help='Why, e.g. "trading halt (SEC order)".')
def acknowledge(exchange: str, symbol: str, start: dt.datetime, end: dt.datetime,
                reason: str) -> None:
    """Record that SYMBOL had no bars from --from to --to, and why (for the no_gaps check)."""
    if end < start:
        raise click.BadParameter(f"--to {end:%Y-%m-%d} is before --from {start:%Y-%m-%d}")
    frame = pl.DataFrame(
        {"exchange": [exchange], "symbol": [symbol], "start_date": [start.date()],
         "end_date": [end.date()], "reason": [reason],
         "acknowledged_at": [dt.datetime.now(dt.UTC)]},
        schema=GAP_ACKNOWLEDGEMENTS.polars_schema)
    with warehouse(apply_schema=False) as (conn, _mode):
        write_frames(conn, GAP_ACKNOWLEDGEMENTS, frame)
    click.echo(f"acknowledged: {exchange} {symbol} {start:%Y-%m-%d}..{end:%Y-%m-%d} "
               f"({reason})")
