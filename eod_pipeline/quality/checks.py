"""Data-quality checks over one exchange's stored prices, as plain SQL + Python.

Each returns a `CheckOutcome`: passed, severity and metadata naming the offending tickers
and dates (the first few and the count), so the Dagster asset checks can show them; when
not green, what to do about it (`advice`); when there is nothing to judge, why the check
did not run (`skipped`), so that it shows as skipped rather than as a success.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import psycopg

from eod_pipeline.markets.calendar import trading_days
from eod_pipeline.quality import advice
from eod_pipeline.warehouse import actions as action_reads
from eod_pipeline.warehouse import price_reads
from eod_pipeline.warehouse import quality_reads as reads

#: How many offenders a check's metadata quotes (the count is always given).
SHOWN = 10
#: Coverage: share of the day's active symbols with a row. Below WARN the check warns;
#: below ERROR it fails. Low-volume tickers have gaps (../shared/eodhd-api.md), so a few
#: percent missing on a given day is normal.
COVERAGE_WARN = 0.90
COVERAGE_ERROR = 0.50
#: A day-over-day close change beyond this factor (either way) with no split that day is
#: suspicious. Real moves of >3x in a day are rare outside splits and penny stocks.
SUSPICIOUS_FACTOR = 3.0
#: Tickers re-fetched by the adjustment-drift check per evaluation: each costs one API
#: call, so the sample is small; it rotates with the date so all tickers get their turn.
DRIFT_SAMPLE = 5
#: adjusted_close is published with 4 decimals; differences below this are rounding.
DRIFT_TOLERANCE = 1e-4


#: Dates a check looks at: the dates a run wrote, or None for everything stored.
Window = tuple[dt.date, dt.date] | None
#: Calendar days before a window that the move check reads, so the window's first day
#: has a previous close to compare with (covers a long weekend plus holidays).
MOVE_LOOKBACK = dt.timedelta(days=10)


#: The window of a check run on its own: everything stored.
_EVERYTHING = (dt.date.min, dt.date.max)


def _bounds(window: Window) -> dict[str, dt.date]:
    lo, hi = window or _EVERYTHING
    return {"lo": lo, "hi": hi}


@dataclass
class CheckOutcome:
    passed: bool
    warn: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The next step when the outcome warns or fails: dates, tickers, the run or command.
    what_to_do: str = ""
    #: Set when there was nothing to judge (no rows stored, no day with rows): why the
    #: check did not run. Such an outcome must not be reported as a pass.
    skipped: str = ""
    #: A sentence for the check's result in the UI (e.g. whether a red is expected).
    description: str = ""

    @property
    def green(self) -> bool:
        return self.passed and not self.warn


#: Why gaps and coverage have nothing to judge on an exchange without prices.
NOTHING_STORED = "no prices stored yet"


def _quote(rows: list[tuple]) -> list[str]:
    return [" ".join(str(v) for v in r) for r in rows[:SHOWN]]


#: A stretch of at least this many trading days with no bar, inside a ticker's stored
#: span, where the source itself answered nothing, is reported as a possible halt (or a
#: gap in the source) until someone acknowledges it in eod.gap_acknowledgements.
HALT_MIN_DAYS = 3


def _trading_frame(lo: dt.date, hi: dt.date, holidays: set[dt.date]) -> pl.DataFrame:
    days = list(trading_days(lo, hi, holidays))
    return pl.DataFrame({"date": days}, schema={"date": pl.Date}).with_row_index("day_index")


def _span_bounds(spans: pl.DataFrame) -> tuple[dt.date, dt.date]:
    """First and last stored date of the exchange, from its tickers' spans (no second
    scan of the exchange's rows)."""
    return spans["first"].min(), spans["last"].max()  # type: ignore[return-value]


def _clip(window: Window, bounds: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    lo, hi = window if window else bounds
    return max(lo, bounds[0]), min(hi, bounds[1])


def _covered(empty: pl.DataFrame, fetched: pl.DataFrame) -> pl.DataFrame:
    """The (symbol, date) pairs of `empty` that a logged fetch covered: the source was
    asked for them and had no row."""
    bulk = fetched.filter(pl.col("symbol").is_null())
    per_ticker = fetched.filter(pl.col("symbol").is_not_null())
    by_ticker = empty.join(per_ticker, on="symbol").filter(
        pl.col("date").is_between(pl.col("start"), pl.col("end"))).select("symbol", "date")
    # Bulk entries cover whole days: their days, joined on the date (a daily-refreshed
    # exchange has thousands of bulk entries; a cross join would multiply them).
    bulk_days = bulk.select(pl.date_ranges("start", "end").alias("date")).explode("date")
    by_bulk = empty.join(bulk_days.unique(), on="date", how="semi")
    return pl.concat([by_ticker, by_bulk]).unique()


def _by_ticker(pairs: pl.DataFrame) -> list[str]:
    grouped = pairs.sort("symbol", "date").group_by("symbol", maintain_order=True).agg(
        pl.col("date"))
    out = []
    for symbol, dates in grouped.head(SHOWN).iter_rows():
        shown = ", ".join(str(d) for d in dates[:5])
        more = f" (+{len(dates) - 5} more)" if len(dates) > 5 else ""
        out.append(f"{symbol}: {shown}{more}")
    return out


@dataclass(frozen=True)
class EmptyDays:
    """(symbol, date) pairs with no row inside each ticker's stored span, split by the
    fetch log's facts."""

    #: No logged fetch covered the day: never fetched.
    holes: pl.DataFrame
    #: A logged fetch covered it and the source had no row (a thin ticker, a halt).
    answered: pl.DataFrame
    #: The trading days judged (`day_index`, `date`), for stretches and pictures.
    days: pl.DataFrame


def empty_days(conn: psycopg.Connection, exchange: str, spans: pl.DataFrame,
               holidays: set[dt.date], lo: dt.date, hi: dt.date,
               fetched: pl.DataFrame | None = None) -> EmptyDays:
    """The holes and answered days of the tickers in `spans` (symbol, first, last) on the
    trading days of [lo, hi]: the gap check's rule, public so that `status --symbol` and
    the coverage picture say exactly what the check says.

    With an `in_window` column (rows each ticker stores on those days) only tickers
    storing fewer rows than their span has trading days are read. `fetched`: the
    fetch-log spans to judge by (symbol, start, end); default the exchange's.
    """
    days = _trading_frame(lo, hi, holidays)
    suspects = spans
    if "in_window" in spans.columns:
        counted = _expected_counts(spans, days)
        suspects = counted.filter(pl.col("in_window") < pl.col("expected"))
    # Where the stored rows stop and start again (not every row): memory stays flat.
    stretches = reads.row_stretches(conn, exchange, lo, hi, suspects["symbol"].to_list(),
                                    holidays)
    empty = _empty_days(suspects, days, stretches)
    if fetched is None:
        fetched = reads.fetched_spans(conn, exchange, lo, hi)
    covered = _covered(empty, fetched)
    return EmptyDays(
        holes=empty.join(covered, on=["symbol", "date"], how="anti").sort("symbol", "date"),
        answered=empty.join(covered, on=["symbol", "date"], how="semi")
        .sort("symbol", "date"),
        days=days)


def gaps(conn: psycopg.Connection, exchange: str, holidays: set[dt.date],
         window: Window = None) -> CheckOutcome:
    """Rows missing between a ticker's first and last stored row, judged by facts.

    For every ticker and every trading day (weekdays that are not known holidays) inside
    its stored span and `window`: a day with no row is a **hole** (fails) unless the
    fetch log proves the source was asked for it and answered nothing. Those answered
    gaps are normal for thin tickers; runs of HALT_MIN_DAYS or more are reported (warn)
    as possible halts until acknowledged. Weekdays on which no ticker has a row and the
    source was asked are named too: a holiday the calendar never listed, most likely.
    """
    spans = reads.ticker_spans(conn, exchange, *(window or _EVERYTHING), holidays)
    if spans.is_empty():
        return CheckOutcome(True, metadata={"note": NOTHING_STORED}, skipped=NOTHING_STORED)
    lo, hi = _clip(window, _span_bounds(spans))
    # Only tickers storing fewer rows than their span has trading days can have a day
    # without a row: their rows alone are read (a clean ten-year exchange reads none).
    found = empty_days(conn, exchange, spans, holidays, lo, hi)
    holes, answered, days = found.holes, found.answered, found.days
    per_day = reads.rows_per_day(conn, exchange, lo, hi)
    halts = _long_runs(answered, days, reads.acknowledged(conn, exchange))
    stored_days = {d for d, n in per_day.items() if n}
    empty_weekdays = [d for d in days["date"].to_list() if d not in stored_days]
    unexplained = holes.filter(pl.col("date").is_in(empty_weekdays))["date"].unique()
    closed = [d for d in empty_weekdays if d not in set(unexplained.to_list())]
    return CheckOutcome(
        passed=holes.is_empty(),
        warn=bool(halts["open"]) or bool(closed),
        metadata={
            "checked": f"{lo}..{hi}",
            "missing_rows": holes.height,
            "tickers_with_missing_rows": holes["symbol"].n_unique(),
            "missing": _by_ticker(holes),
            "days_with_no_rows": len(empty_weekdays),
            "days_source_had_no_rows": [str(d) for d in closed[:SHOWN]],
            "source_gaps": answered.height,
            "possible_halts": halts["open"][:SHOWN],
            "acknowledged_halts": halts["acknowledged"][:SHOWN],
        },
        what_to_do=_gaps_advice(exchange, holes, halts["first_open"], len(halts["open"]),
                                closed),
    )


def _gaps_advice(exchange: str, holes: pl.DataFrame, first_halt: list[tuple],
                 halts: int, closed: list[dt.date]) -> str:
    steps = []
    if holes.height:
        lo, hi = holes["date"].min(), holes["date"].max()
        tickers = holes["symbol"].unique().sort().to_list()
        run = (f"materialize {advice.asset(advice.PRICES, exchange)} "
               f"{advice.partitions(lo, hi)} with run config "
               f"{advice.price_run_config(exchange, tickers, refetch=False)}")
        steps.append(f"{advice.count(holes.height, 'row')} of "
                     f"{advice.count(len(tickers), 'ticker')} between {lo} and {hi} "
                     f"were never fetched: {run} (the plan fetches only what the fetch log "
                     "lacks, so the rest costs no calls)")
    if first_halt:
        symbol, start, end = first_halt[0]
        steps.append(f"{advice.count(halts, 'stretch', 'stretches')} of {HALT_MIN_DAYS}+ "
                     "trading days the source answered with no bars "
                     "(possible_halts): look each up; if it was a halt or the "
                     f"source has no data, record it, e.g. "
                     f"`{advice.acknowledge(exchange, symbol, start, end)}`, and it no longer "
                     "warns")
    if closed:
        steps.append(f"weekdays with no rows for any ticker that the source was asked for "
                     f"(days_source_had_no_rows, from {closed[0]}): holidays the calendar "
                     f"lacks, most likely; materialize {advice.CALENDARS} partition "
                     f"{exchange} to reload it. If they are still named after that, EODHD's "
                     "calendar does not go back that far and nothing needs doing")
    return "; ".join(steps)


def _expected_counts(spans: pl.DataFrame, days: pl.DataFrame) -> pl.DataFrame:
    """Each ticker's span clipped to the window's trading days: `expected`, the trading
    days between its first and last stored row (by binary search, no day-by-ticker
    table)."""
    calendar = days["date"]
    first = spans["first"].clip(lower_bound=calendar.min()) if calendar.len() else spans["first"]
    last = spans["last"].clip(upper_bound=calendar.max()) if calendar.len() else spans["last"]
    expected = (calendar.search_sorted(last, side="right").cast(pl.Int64)
                - calendar.search_sorted(first, side="left").cast(pl.Int64)).clip(0)
    return spans.with_columns(expected.alias("expected"))


def _empty_days(suspects: pl.DataFrame, days: pl.DataFrame, stretches: pl.DataFrame
                ) -> pl.DataFrame:
    """(symbol, date) of each suspect's trading days in its span with no stored row.

    Built from where the stored rows stop and start again (`reads.row_stretches`), never
    from the rows themselves: the trading days before a ticker's first row in the window,
    between a row and the one before it, after its last row, and the whole span of a
    suspect with no row in the window. Worked on small integers (a ticker number, a day
    number) until the empty days are named."""
    tickers = suspects.select("symbol", "first", "last").with_row_index("sid")
    calendar = days["date"]
    spans = tickers.select(
        "sid", "symbol",
        calendar.search_sorted(tickers["first"], side="left").cast(pl.Int32).alias("i0"),
        (calendar.search_sorted(tickers["last"], side="right").cast(pl.Int32) - 1)
        .alias("i1"))
    rows = stretches.join(spans, on="symbol")
    rows = rows.with_columns(
        # First trading day after the previous row / after this row; last one before it.
        calendar.search_sorted(rows["prev"].fill_null(rows["date"]), side="right")
        .cast(pl.Int32).alias("after_prev"),
        calendar.search_sorted(rows["date"], side="right").cast(pl.Int32).alias("after"),
        (calendar.search_sorted(rows["date"], side="left").cast(pl.Int32) - 1)
        .alias("before"))
    ranges = pl.concat([
        rows.filter(pl.col("prev").is_not_null()).select("sid", a="after_prev", b="before"),
        rows.filter(pl.col("prev").is_null()).select("sid", a="i0", b="before"),
        rows.filter(pl.col("last")).select("sid", a="after", b="i1"),
        spans.join(stretches, on="symbol", how="anti").select("sid", a="i0", b="i1"),
    ])
    empty = ranges.filter(pl.col("b") >= pl.col("a")).select(
        "sid", pl.int_ranges("a", pl.col("b") + 1, dtype=pl.Int32).alias("day_index")
    ).explode("day_index")
    numbered = days.select(pl.col("day_index").cast(pl.Int32), "date")
    return (empty.join(tickers.select("sid", "symbol"), on="sid")
            .join(numbered, on="day_index").select("symbol", "date"))


def _long_runs(answered: pl.DataFrame, days: pl.DataFrame, acks: pl.DataFrame
               ) -> dict[str, list[str]]:
    """Runs of HALT_MIN_DAYS+ consecutive trading days a ticker had no bar (the source
    said so), split into acknowledged ones and open ones."""
    out: dict[str, list] = {"open": [], "acknowledged": [], "first_open": []}
    if answered.is_empty():
        return out
    runs = (answered.join(days, on="date").sort("symbol", "day_index")
            .with_columns((pl.col("day_index") - pl.int_range(pl.len()).over("symbol"))
                          .alias("run"))
            .group_by("symbol", "run").agg(pl.col("date").min().alias("start"),
                                           pl.col("date").max().alias("end"), pl.len())
            .filter(pl.col("len") >= HALT_MIN_DAYS).sort("symbol", "start"))
    for symbol, start, end, n in runs.select("symbol", "start", "end", "len").iter_rows():
        ack = acks.filter((pl.col("symbol") == symbol) & (pl.col("start") <= start)
                          & (pl.col("end") >= end))
        text = f"{symbol} {start}..{end} ({n} trading days)"
        if ack.height:
            out["acknowledged"].append(f"{text}: {ack['reason'][0]}")
        else:
            out["open"].append(text)
            if not out["first_open"]:
                out["first_open"].append((symbol, start, end))
    return out


def coverage(conn: psycopg.Connection, exchange: str, holidays: set[dt.date],
             window: Window = None) -> CheckOutcome:
    """Per trading day of `window` (default: the newest stored day), the share of the
    day's active tickers with a row.

    Active on day d: a stored row before d, and either a row on or after d or not
    delisted. Days on which no ticker has a row are left to `gaps`, which tells an
    unlisted holiday (the source was asked, answered nothing) from a day never fetched.
    """
    spans = reads.ticker_spans(conn, exchange, *(window or _EVERYTHING), holidays)
    if spans.is_empty():
        return CheckOutcome(True, metadata={"note": NOTHING_STORED}, skipped=NOTHING_STORED)
    bounds = _span_bounds(spans)
    lo, hi = _clip(window, bounds) if window else (bounds[1], bounds[1])
    days = _trading_frame(lo, hi, holidays)["date"]
    rows = reads.rows_per_day(conn, exchange, lo, hi)
    # Counted, not joined: active(d) = #first < d - #(delisted and last < d); a stored
    # row on d is an active ticker's unless d is that ticker's first row.
    firsts = spans["first"].sort()
    gone = spans.filter(pl.col("delisted"))["last"].sort()
    per_day = pl.DataFrame({
        "date": days,
        "active": (firsts.search_sorted(days, side="left").cast(pl.Int64)
                   - gone.search_sorted(days, side="left").cast(pl.Int64)),
        "first_days": (firsts.search_sorted(days, side="right").cast(pl.Int64)
                       - firsts.search_sorted(days, side="left").cast(pl.Int64)),
        "stored": [rows.get(d, 0) for d in days.to_list()],
    }).filter((pl.col("stored") > 0) & (pl.col("active") > 0)).with_columns(
        (pl.col("active") - (pl.col("stored") - pl.col("first_days"))).clip(0)
        .alias("missing")).with_columns(
        (1 - pl.col("missing") / pl.col("active")).alias("share")).sort("share", "date")
    if per_day.is_empty():
        note = "no day with rows to judge"
        return CheckOutcome(True, metadata={"checked": f"{lo}..{hi}", "note": note},
                            skipped=f"{note} in {lo}..{hi}")
    worst = per_day.row(0, named=True)
    below_warn = per_day.filter(pl.col("share") < COVERAGE_WARN)
    day = worst["date"]
    present = set(reads.symbols_on(conn, exchange, day))
    active_then = spans.filter((pl.col("first") < day)
                               & ((pl.col("last") >= day) | ~pl.col("delisted")))
    missing_on_worst = sorted(set(active_then["symbol"].to_list()) - present)
    return CheckOutcome(
        passed=worst["share"] >= COVERAGE_ERROR,
        warn=worst["share"] < COVERAGE_WARN,
        metadata={
            "checked": f"{lo}..{hi}",
            "days_checked": per_day.height,
            "worst_day": str(worst["date"]),
            "coverage": round(worst["share"], 4),
            "active_symbols": worst["active"],
            "missing_count": worst["missing"],
            "missing": missing_on_worst[:SHOWN],
            "days_below_warn": [f"{d} {share:.1%}" for d, share in
                                below_warn.select("date", "share").head(SHOWN).iter_rows()],
        },
        what_to_do="" if worst["share"] >= COVERAGE_WARN else (
            f"{day}: {worst['missing']} of {worst['active']} active tickers have no row "
            f"(missing names them). If the source has them now, "
            f"{advice.refetch(exchange, day, day)}; tickers that stopped trading stop "
            f"counting once {advice.SYMBOL_LISTS} partition {exchange} is materialized and "
            "lists them as delisted"
            + (f". {below_warn.height} days are below {COVERAGE_WARN:.0%} "
               "(days_below_warn): the same for each" if below_warn.height > 1 else "")),
    )


def fetch_log_agrees(conn: psycopg.Connection, exchange: str, window: Window = None
                     ) -> CheckOutcome:
    """Fetch-log entries that claim more stored rows than eod.prices holds: data lost
    after it was logged (a delete, a restore from an older backup)."""
    lo, hi = window if window else (dt.date.min, dt.date.max)
    bad = reads.log_claims_beyond_stored(conn, exchange, lo, hi)
    shown = [f"{s or 'bulk'} {a}..{b}: logged {logged}, stored {stored}"
             for s, a, b, logged, stored in bad[:SHOWN]]
    what_to_do = ""
    if bad:
        tickers = [s for s, *_ in bad if s]
        bulk = len(bad) - len(tickers)
        first, last = min(r[1] for r in bad), max(r[2] for r in bad)
        what_to_do = (
            "rows were lost after they were logged: fetch them again, "
            f"{advice.refetch(exchange, first, last, [] if bulk else tickers)}"
            + (f" ({bulk} bulk entries are short, so every ticker)" if bulk else ""))
    return CheckOutcome(passed=not bad, metadata={"entries_short": len(bad), "short": shown},
                        what_to_do=what_to_do)


def consistency(conn: psycopg.Connection, exchange: str, window: Window = None
                ) -> CheckOutcome:
    """OHLC relations and non-negative values in the stored rows (within `window`)."""
    bad = reads.inconsistent_rows(conn, exchange, **_bounds(window))
    what_to_do = "" if not bad else (
        "the source's broken rows are rejected on the way in (eod.price_rejects), so these "
        "were changed after they were stored: fetch them again, "
        + advice.refetch(exchange, min(d for _, d in bad), max(d for _, d in bad),
                         [s for s, _ in bad]))
    return CheckOutcome(passed=not bad,
                        metadata={"bad_rows": len(bad), "examples": _quote(bad)},
                        what_to_do=what_to_do)


def suspicious_moves(conn: psycopg.Connection, exchange: str, window: Window = None
                     ) -> CheckOutcome:
    """Day-over-day close changes beyond SUSPICIOUS_FACTOR with no split that day (on
    days within `window`)."""
    bounds = {**_bounds(window), "from": window[0] - MOVE_LOOKBACK if window else dt.date.min}
    rows = reads.unexplained_moves(conn, exchange, bounds["from"], bounds["lo"], bounds["hi"],
                                   SUSPICIOUS_FACTOR)
    what_to_do = "" if not rows else (
        f"compare the examples with the source's history. If a split explains a move, "
        f"it is missing from eod.splits: materialize {advice.asset(advice.SPLITS, exchange)} "
        f"and then {advice.asset(advice.ADJUSTMENTS, exchange)} for that day's partition "
        f"(first: {rows[0][1]}). If the source shows the same closes and no split, the move "
        "is real and nothing needs doing")
    return CheckOutcome(passed=not rows, warn=bool(rows),
                        metadata={"moves": len(rows), "examples": _quote(rows)},
                        what_to_do=what_to_do)


def local_vs_vendor(conn: psycopg.Connection, exchange: str, window: Window = None
                    ) -> CheckOutcome:
    """The warehouse's own total-return close (raw close, stored splits and dividends,
    EODHD's method) against the vendor's stored adjusted_close, within its 4-decimal
    rounding; spends no API call.

    Judged on the window's dates and, for tickers with an action dated in the window, on
    their whole history up to the window's end: an action changes every earlier adjusted
    close, so that is where a stale vendor history or a missed action shows.
    """
    if not price_reads.exchange_has_prices(conn, exchange):
        return CheckOutcome(True, skipped=NOTHING_STORED)
    if not action_reads.actions_fetched(conn, exchange):
        return CheckOutcome(True, skipped=(
            f"no splits or dividends of {exchange} fetched yet, so the warehouse cannot "
            f"adjust prices itself: materialize {advice.asset(advice.SPLITS, exchange)} and "
            f"{advice.asset(advice.DIVIDENDS, exchange)} for the stored dates"))
    lo, hi = window or (None, None)
    differing = [price_reads.local_vs_vendor_drift(conn, exchange, lo, hi, DRIFT_TOLERANCE)]
    if window:
        acted = action_reads.symbols_with_actions(conn, exchange, window[0], window[1])
        if acted:
            differing.append(price_reads.local_vs_vendor_drift(
                conn, exchange, None, window[1], DRIFT_TOLERANCE, symbols=acted))
    diff = pl.concat(differing).unique(["symbol", "date"]).sort("symbol", "date")
    if diff.is_empty():
        return CheckOutcome(True, metadata={"rows_differing": 0})
    spans = diff.group_by("symbol").agg(pl.col("date").min().alias("first"),
                                        pl.col("date").max().alias("last"),
                                        pl.len().alias("rows")).sort("symbol")
    tickers = spans["symbol"].to_list()
    first, last = diff["date"].min(), diff["date"].max()
    what_to_do = (
        f"the vendor's adjusted_close of {', '.join(tickers[:SHOWN])} differs from the one "
        "computed from the stored splits and dividends. If the vendor knows an action the "
        f"warehouse lacks, materialize {advice.asset(advice.SPLITS, exchange)} and "
        f"{advice.asset(advice.DIVIDENDS, exchange)} for {advice.partitions(first, last)}; "
        "if the stored vendor history predates an action, materialize "
        f"{advice.asset(advice.ADJUSTMENTS, exchange)} for the action's day; or fetch the "
        "tickers again: " + advice.refetch(exchange, first, last, tickers))
    examples = [f"{s} {d}: local {a:.4f} vendor {b:.4f}" for s, d, a, b in
                diff.select("symbol", "date", "local_close", "vendor_close").head(SHOWN).rows()]
    return CheckOutcome(False, what_to_do=what_to_do, metadata={
        "rows_differing": diff.height,
        "tickers": ", ".join(f"{s} ({n} rows, {a}..{b})" for s, a, b, n in
                             spans.select("symbol", "first", "last", "rows").head(SHOWN).rows()),
        "examples": examples})


def drift_sample(conn: psycopg.Connection, exchange: str, today: dt.date
                 ) -> list[tuple[str, dt.date, dt.date]]:
    """The tickers (with their stored range) the drift check re-fetches today."""
    rows = reads.stored_ranges(conn, exchange)
    if not rows:
        return []
    offset = today.toordinal() % len(rows)
    rotated = rows[offset:] + rows[:offset]
    return rotated[:DRIFT_SAMPLE]
