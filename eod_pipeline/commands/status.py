"""`eod-pipeline status`: what the warehouse holds per configured exchange, and its gaps.

Why here and not only in the Dagster UI: the UI shows what runs *did*; this reads the
warehouse itself (rows, date span, days with no rows, rejects), which is what a user of
the data cares about, and works without Dagster running.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import click
import psycopg

from eod_pipeline.commands.common import (
    ExchangeCode,
    configured_exchange_start,
    n,
    pipeline_config,
    table,
    use_demo_settings,
    utc,
    warehouse,
)
from eod_pipeline.commands.symbol_status import symbol_status
from eod_pipeline.config import ExchangeSetting
from eod_pipeline.markets.calendar import newest_available_day, trading_days
from eod_pipeline.reports.coverage_picture import write_coverage_html
from eod_pipeline.warehouse import queries

#: Missing dates listed by name per exchange; the rest are counted.
LISTED_MISSING_DAYS = 5


@dataclass(frozen=True)
class ExchangeStatus:
    """One exchange's standing in the warehouse."""

    code: str
    active: int
    delisted: int
    rows: int
    first: dt.date | None
    last: dt.date | None
    missing: list[dt.date] = field(default_factory=list)
    last_fetch: dt.datetime | None = None
    rejected: int = 0
    holidays_known: bool = False
    newest_due: dt.date | None = None


def exchange_status(conn: psycopg.Connection, setting: ExchangeSetting,
                    now: dt.datetime) -> ExchangeStatus:
    """Counts, span and gaps of `setting`'s exchange.

    Missing days are the trading days (weekdays that are not known holidays) between the
    first and the last stored date with no row at all: days inside the span that a backfill
    skipped or a failed run left out. Days before the first or after the last are not
    gaps but the range not fetched yet (`newest_due` tells the latter).
    """
    code = setting.code
    active, delisted = queries.symbol_counts(conn, code)
    rows, first, last = queries.price_span(conn, code)
    holidays = queries.holidays(conn, code)
    missing: list[dt.date] = []
    if first is not None and last is not None:
        stored = queries.stored_days(conn, code)
        missing = [d for d in trading_days(first, last, holidays) if d not in stored]
    last_fetch = queries.last_fetch(conn, code)
    rejected = queries.rejected_count(conn, code)
    return ExchangeStatus(
        code=code, active=int(active), delisted=int(delisted), rows=int(rows), first=first,
        last=last, missing=missing, last_fetch=last_fetch,
        rejected=rejected, holidays_known=bool(holidays),
        newest_due=newest_available_day(setting.info, now, holidays),
    )


def _missing_text(days: list[dt.date]) -> str:
    shown = ", ".join(d.isoformat() for d in days[:LISTED_MISSING_DAYS])
    more = len(days) - LISTED_MISSING_DAYS
    return f"{shown} (+{more} more)" if more > 0 else shown


def render(statuses: list[ExchangeStatus]) -> str:
    """The table, then one note per exchange for what the table cannot say."""
    rows = [
        [s.code, f"{n(s.active)}/{n(s.delisted)}", n(s.rows), s.first or "-", s.last or "-",
         n(len(s.missing)), utc(s.last_fetch), n(s.rejected)]
        for s in statuses
    ]
    out = [table(["EXCHANGE", "SYMBOLS (active/delisted)", "PRICE ROWS", "FIRST", "LAST",
                  "MISSING DAYS", "LAST FETCH", "REJECTED"], rows, right=(1, 2, 5, 7))]
    notes: list[str] = []
    for s in statuses:
        if s.missing:
            notes.append(f"{s.code}: {len(s.missing)} trading days between first and last "
                         f"have no rows: {_missing_text(s.missing)}")
        if not s.holidays_known and s.rows:
            notes.append(f"{s.code}: holidays unknown (materialize exchange_calendars), so "
                         "holidays count as missing days")
        if s.active + s.delisted == 0:
            notes.append(f"{s.code}: no symbol list yet (materialize symbol_lists)")
        if s.rows == 0:
            notes.append(f"{s.code}: no prices yet (materialize eod_prices/{s.code})")
        elif s.last is not None and s.newest_due is not None and s.last < s.newest_due:
            notes.append(f"{s.code}: newest stored day {s.last}, newest available "
                         f"{s.newest_due} (the daily_refresh sensor fetches new days)")
        if s.rejected:
            notes.append(f"{s.code}: {n(s.rejected)} rows rejected by the row checks "
                         "(see eod.price_rejects)")
    if notes:
        out.append("")
        out.extend(notes)
    return "\n".join(out)


@click.command()
@click.option("--symbol", default=None, metavar="CODE",
              help="One ticker: its stored range, holes, last fetch, splits, dividends and "
                   "revisions.")
@click.option("--exchange", "code", type=ExchangeCode(), default=None,
              help="Only this configured exchange (with --symbol: the ticker's exchange, "
                   "needed when several configured exchanges list it).")
@click.option("--html", "html_path", default=None,
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Also write the coverage picture (trading days x share of listed "
                   "tickers with a row, holes marked) to this self-contained HTML file.")
def status(symbol: str | None, code: str | None, html_path: Path | None) -> None:
    """Per configured exchange: symbols, price rows, date span, missing days, last fetch.

    Reads the warehouse only (no API calls). Missing days are trading days (weekdays that
    are not the exchange's known holidays) between the first and last stored date with no
    rows. In the folder where `eod-pipeline demo` ran, it uses the demo's settings.
    """
    use_demo_settings()
    config = pipeline_config()
    settings = list(config.exchanges)
    if code is not None:
        configured_exchange_start(config, code)
        settings = [s for s in settings if s.code == code]
    now = dt.datetime.now(dt.UTC) - config.refresh_delay
    # Reads only: never migrates (an out-of-date schema says to run `db migrate`).
    with warehouse(apply_schema=False) as (conn, _mode):
        if symbol is not None:
            click.echo(symbol_status(conn, config, symbol.strip(), code))
        else:
            click.echo(render([exchange_status(conn, s, now) for s in settings]))
        if html_path is not None:
            drawn = write_coverage_html(conn, [s.code for s in settings], html_path)
            holes = sum(c.hole_rows for c in drawn)
            click.echo(f"coverage picture: {html_path} ({len(drawn)} exchange(s); "
                       f"{n(holes)} missing rows never fetched)")
