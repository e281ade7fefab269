"""`eod-pipeline status --symbol CODE [--exchange EX]`: one ticker's standing.

Why: the UI shows partitions (an exchange's days), not tickers; when one ticker looks
wrong a user wants its stored range, the days it has no row on (and whether those were
never fetched or the source had nothing), when it was last fetched, its splits and
dividends and which stored rows the source later revised. Reads the warehouse only.
"""

from __future__ import annotations

import datetime as dt

import click
import psycopg

from eod_pipeline.commands.common import n, utc
from eod_pipeline.config import PipelineConfig
from eod_pipeline.reports.holes import Stretch, symbol_empty_days
from eod_pipeline.warehouse import queries
from eod_pipeline.warehouse.symbol_report import SymbolReport, exchanges_with, symbol_report

#: Stretches, splits and dividends listed in full; the rest are counted.
LISTED = 10


def find_exchange(conn: psycopg.Connection, config: PipelineConfig, symbol: str,
                  code: str | None) -> tuple[str, str]:
    """(exchange, symbol as stored): `code` if given, else the one configured exchange
    that knows the ticker; a clear error when none or several do."""
    configured = [s.code for s in config.exchanges]
    candidates = [code] if code else configured
    for spelling in dict.fromkeys((symbol, symbol.upper())):  # as typed, then upper case
        found = exchanges_with(conn, spelling, candidates)
        if len(found) == 1:
            return found[0], spelling
        if len(found) > 1:
            raise click.UsageError(
                f"ticker {spelling!r} is on {', '.join(found)}: add --exchange to pick one")
    where = code or f"any configured exchange ({', '.join(configured)})"
    raise click.ClickException(
        f"ticker {symbol!r} is not known on {where}: neither its symbol list nor its "
        "prices name it (check the spelling, or materialize symbol_lists)")


def symbol_status(conn: psycopg.Connection, config: PipelineConfig, symbol: str,
                  code: str | None) -> str:
    exchange, symbol = find_exchange(conn, config, symbol, code)
    report = symbol_report(conn, exchange, symbol)
    holidays = queries.holidays(conn, exchange)
    holes, answered = symbol_empty_days(conn, exchange, symbol, report.first, report.last,
                                        holidays)
    return render(report, holes, answered, holidays_known=bool(holidays))


def _days(stretch: Stretch) -> str:
    if stretch.start == stretch.end:
        return stretch.start.isoformat()
    return f"{stretch.start}..{stretch.end} ({stretch.days} trading days)"


def _listed(items: list[str], more: int) -> list[str]:
    return items + ([f"(+{more} more)"] if more > 0 else [])


def render(report: SymbolReport, holes: list[Stretch], answered: list[Stretch], *,
           holidays_known: bool = True) -> str:
    """`name  value` lines, continuation lines indented under the value."""
    lines: list[tuple[str, list[str]]] = []
    listing = report.listing
    if listing is None:
        lines.append(("listing", ["not in the symbol list (materialize symbol_lists)"]))
    else:
        what = ", ".join(x for x in (listing.type, listing.currency) if x)
        state = (f"delisted (gone from the lists on {listing.disappeared_on})"
                 if listing.delisted and listing.disappeared_on
                 else "delisted" if listing.delisted else "listed")
        lines.append(("listing", [f"{listing.name or '?'}" + (f" ({what})" if what else "")
                                  + f"; {state}; in the lists {listing.first_seen} .. "
                                  f"{listing.last_seen}"]))
    if report.rows:
        lines.append(("stored", [f"{n(report.rows)} rows, {report.first} .. {report.last}"]))
    else:
        lines.append(("stored", [f"no rows yet (materialize eod_prices/{report.exchange})"]))
    hole_days = sum(s.days for s in holes)
    if holes:
        first, last = holes[0].start, holes[-1].end
        shown = _listed([f"{hole_days} trading day(s) with no row that no fetch covered:",
                         *(f"  {_days(s)}" for s in holes[:LISTED])], len(holes) - LISTED)
        fix = (f"fix: backfill eod_prices/{report.exchange} over them (`eod-pipeline plan "
               f"--exchange {report.exchange} --from {first} --to {last}` shows the cost)")
        lines.append(("holes", [*shown, fix]))
    elif report.rows:
        lines.append(("holes", ["none (every trading day between first and last has a row "
                                "or was asked for)"]))
    if answered:
        lines.append(("source gaps", _listed(
            [f"{sum(s.days for s in answered)} trading day(s) a fetch covered and the source "
             "had no row for:"]
            + [f"  {_days(s)}" + (f" (acknowledged: {s.acknowledged})" if s.acknowledged
                                  else "") for s in answered[:LISTED]],
            len(answered) - LISTED)))
    fetch = report.last_fetch
    if fetch is None:
        lines.append(("last fetch", ["never"]))
    else:
        how = "per ticker" if fetch.symbol else "bulk by date (the whole exchange)"
        lines.append(("last fetch", [
            f"{utc(fetch.fetched_at)}: {fetch.dataset} {how}, {fetch.start} .. {fetch.end}, "
            f"{n(fetch.rows)} rows, run {fetch.run_id}",
            f"{n(report.fetches)} fetch-log entries cover this ticker"]))
    lines.append(("splits", _listed(
        [f"{s.date} {s.split}" for s in report.splits[:LISTED]] or ["none"],
        len(report.splits) - LISTED)))
    lines.append(("dividends", _listed(
        [f"{d.date} {d.value:g}" + (f" {d.currency}" if d.currency else "")
         + (f" (paid {d.payment_date})" if d.payment_date else "")
         for d in report.dividends[:LISTED]] or ["none"], len(report.dividends) - LISTED)))
    if report.revisions:
        lines.append(("revisions", _listed(
            [f"{report.revision_count} stored row(s) later changed by the source, newest "
             "first:"]
            + [f"  {r.date} (seen {utc(r.seen_at)}, run {r.run_id}): "
               + ", ".join(f"{k} {_value(old)} -> {_value(new)}"
                           for k, (old, new) in r.changes.items())
               for r in report.revisions],
            report.revision_count - len(report.revisions))))
    else:
        lines.append(("revisions", ["none"]))
    width = max(len(k) for k, _ in lines)
    out = [f"{report.exchange} {report.symbol}"]
    for key, values in lines:
        out.append(f"  {key.ljust(width)}  {values[0]}")
        out.extend(f"  {' ' * width}  {v}" for v in values[1:])
    if not holidays_known and report.rows:
        out.append(f"note: no holidays for {report.exchange} in the warehouse yet: holidays "
                   "count as trading days (materialize exchange_calendars)")
    return "\n".join(out)


def _value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return "-" if value is None else str(value)
