"""`eod-pipeline plan`: what a backfill of one exchange would do, without spending calls.

It runs the same planning sequence as the price asset (`defs/assets/prices.py`): the
warehouse's holidays, symbol list and fetch log -> trading days -> `plan_fetch`. So what it
prints is what a run launched for that range right now would choose. The only API call is
`/user`, which is free, to say whether today's quota covers the plan.
"""

from __future__ import annotations

import datetime as dt

import click

from eod_pipeline.commands.common import (
    ExchangeCode,
    IsoDate,
    configured_exchange_start,
    lookup_quota,
    n,
    no_trading_days,
    pipeline_config,
    use_demo_settings,
    utc,
    warehouse,
)
from eod_pipeline.eodhd.settings import ENV_TOKEN
from eod_pipeline.ingest import coverage
from eod_pipeline.ingest.plan import PLANNING_REQUESTS_PER_MINUTE, FetchPlan, Strategy, plan_fetch
from eod_pipeline.markets.calendar import trading_days
from eod_pipeline.warehouse import queries


def _check_range(start: dt.date, end: dt.date, exchange_start: dt.date, code: str) -> None:
    if start > end:
        raise click.BadParameter(f"{start} is after --to {end}", param_hint="'--from'")
    if start < exchange_start:
        raise click.BadParameter(
            f"{start} is before {code}'s configured start {exchange_start} "
            "(EOD_EXCHANGES / EOD_START_DATE): there are no partitions before it",
            param_hint="'--from'",
        )
    today = dt.date.today()
    if end > today:
        raise click.BadParameter(f"{end} is in the future (today is {today})",
                                 param_hint="'--to'")


@click.command()
@click.option("--exchange", "code", required=True, type=ExchangeCode(),
              help="EODHD exchange code, one of those in EOD_EXCHANGES (e.g. US).")
@click.option("--from", "start", required=True, type=IsoDate(),
              help="First date of the range (inclusive).")
@click.option("--to", "end", required=True, type=IsoDate(),
              help="Last date of the range (inclusive).")
@click.option("--strategy", type=click.Choice([Strategy.BULK.value, Strategy.TICKER.value]),
              default=None, help="Force a way of fetching, as the run option `strategy` does.")
@click.option("--refetch", is_flag=True,
              help="Plan as if nothing were fetched yet, as the run option `refetch` does.")
def plan(code: str, start: dt.date, end: dt.date, strategy: str | None, refetch: bool
         ) -> None:
    """Show what a backfill of EXCHANGE from..to would fetch and cost (spends no calls).

    Counts only what the warehouse's fetch log does not know yet, compares bulk-by-date
    (100 calls a day) with per-ticker history (1 call a ticker), and checks today's quota
    through the free /user endpoint when EODHD_API_TOKEN is set.
    """
    use_demo_settings()
    config = pipeline_config()
    _check_range(start, end, configured_exchange_start(config, code), code)
    # Reads only: never migrates (an out-of-date schema says to run `db migrate`).
    with warehouse(apply_schema=False) as (conn, _mode):
        holidays = queries.holidays(conn, code)
        symbols = queries.symbol_codes(conn, code)
        # As the price asset does: a refetch plans as if the fetch log were empty.
        known = coverage.Coverage() if refetch else coverage.load_coverage(conn, code)
    if closed := no_trading_days(start, end, holidays):
        # Not "the fetch log covers the range": there is nothing to fetch in it at all.
        click.echo(f"{code}: {closed}; a run over this range would fetch nothing")
        return
    days = list(trading_days(start, end, holidays))
    force = Strategy(strategy) if strategy else None
    fetch = plan_fetch(code, start, end, days, symbols, known, force)
    click.echo(render(fetch, holidays_known=bool(holidays), forced=force is not None,
                      refetch=refetch))


def _quota_lines(fetch: FetchPlan) -> list[tuple[str, str]]:
    lookup = lookup_quota()
    if lookup.info is None:
        if lookup.reason == f"{ENV_TOKEN} not set":
            return [("quota", f"unknown ({ENV_TOKEN} not set)")]
        return [("quota", f"unknown (/user failed: {lookup.reason})")]
    info = lookup.info
    lines = [("quota", f"{n(info.remaining)} calls left today of {n(info.daily_limit)} "
                       f"(resets {utc(info.resets_at)})")]
    if fetch.calls <= info.remaining:
        lines.append(("quota suffices", f"yes ({n(fetch.calls)} needed)"))
    else:
        lines.append(("quota suffices",
                      f"NO: needs {n(fetch.calls)}, {n(info.remaining)} left; a run would "
                      f"stop before fetching (split the range or wait for the reset)"))
    return lines


def _minutes(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def render(fetch: FetchPlan, *, holidays_known: bool, forced: bool = False,
           refetch: bool = False) -> str:
    """The plan as aligned `name  value` lines, with notes on what it assumed."""
    missing_days = len(fetch.bulk_days)
    lines: list[tuple[str, str]] = [
        ("exchange", fetch.exchange),
        ("range", f"{fetch.start} .. {fetch.end}"),
        ("trading days", f"{fetch.trading_days} ({missing_days} not fully fetched yet)"),
        ("tickers known", f"{n(fetch.tickers_known)} ({n(fetch.tickers_skipped)} skipped: "
                          "already fetched or not trading in the range)"),
        ("bulk by date", f"{n(fetch.bulk_cost)} calls ({n(missing_days)} requests "
                         f"x 100 calls)"),
        ("per ticker", f"{n(fetch.ticker_cost)} calls ({n(len(fetch.tickers))} requests "
                       "x 1 call)"),
        ("strategy", fetch.strategy.value + (" (forced by --strategy)" if forced else "")),
        ("calls", n(fetch.calls)),
        ("requests", n(fetch.requests)),
        ("minutes at rate limit",
         f"{_minutes(fetch.minutes_at_rate_limit())} (at {PLANNING_REQUESTS_PER_MINUTE} "
         "requests/min)"),
    ]
    lines.extend(_quota_lines(fetch))
    width = max(len(k) for k, _ in lines)
    out = ["Plan (no API calls spent; /user is free):"]
    out.extend(f"  {k.ljust(width)}  {v}" for k, v in lines)
    notes = []
    if not fetch.tickers_known:
        notes.append(f"no symbol list for {fetch.exchange} in the warehouse yet: only bulk by "
                     "date can fetch it (materialize symbol_lists to allow per-ticker plans)")
    if not holidays_known:
        notes.append(f"no holidays for {fetch.exchange} in the warehouse yet: holidays count "
                     "as trading days (materialize exchange_calendars)")
    if refetch:
        notes.append("--refetch: the fetch log is ignored, everything in the range is fetched "
                     "again")
    if fetch.strategy is Strategy.NOTHING:
        notes.append("the fetch log already covers the whole range: a run would spend nothing")
    out.extend(f"note: {text}" for text in notes)
    return "\n".join(out)
