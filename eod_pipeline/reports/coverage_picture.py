"""A coverage picture per exchange: trading days x the share of listed tickers with a row,
holes marked, as one self-contained HTML file of inline SVG (no script, nothing fetched).

    write_coverage_html(conn, ["US", "LSE"], Path("coverage.html"))

Why a picture: a ten-year exchange has ~2,600 trading days; a dip, a hole that never got
fetched or a day the source had nothing for shows at a glance where a table would need
scrolling. Every bar and mark carries a tooltip (SVG `<title>`) with its numbers.

The numbers follow the checks, so the picture and the UI never disagree:
- **listed** on day d: tickers whose stored history has begun by d and that are not
  delisted before d (their last row is on or after d, or the symbol list does not call
  them delisted): the `coverage` check's "active";
- **holes**: trading days inside a ticker's stored span with no row that no logged fetch
  covered (never fetched: fix by backfilling), and **answered** days, which a fetch
  covered and the source had no row for: the `gaps` check's split (`reports.holes`).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import psycopg

# A day is drawn green at or above the coverage check's WARN share, red below its ERROR
# share, amber between.
from eod_pipeline.quality.checks import COVERAGE_ERROR, COVERAGE_WARN
from eod_pipeline.reports.holes import Stretch, empty_days, stretches
from eod_pipeline.warehouse import quality_reads as reads
from eod_pipeline.warehouse import queries

#: Plot size in SVG user units (the SVG scales to the page width).
WIDTH = 960
HEIGHT = 160
#: Margins for the axis labels, and the strip under the axis where holes are marked.
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 44
MARK_STRIP = 10
#: A mark is drawn at least this wide, so one hole among 2,600 days stays visible.
MIN_MARK_WIDTH = 2.0
#: Hole stretches listed under each picture (the count is always given).
LISTED_STRETCHES = 20

GREEN, AMBER, RED, GREY, HOLE = "#2e7d32", "#f9a825", "#c62828", "#9e9e9e", "#d50000"


@dataclass(frozen=True)
class DayCoverage:
    date: dt.date
    listed: int
    stored: int
    holes: int
    answered: int

    @property
    def share(self) -> float:
        return self.stored / self.listed if self.listed else 0.0


@dataclass(frozen=True)
class ExchangeCoverage:
    code: str
    days: list[DayCoverage]
    holidays_known: bool
    hole_stretches: list[Stretch] = field(default_factory=list)
    answered_stretches: list[Stretch] = field(default_factory=list)

    @property
    def hole_rows(self) -> int:
        return sum(d.holes for d in self.days)


def exchange_coverage(conn: psycopg.Connection, exchange: str) -> ExchangeCoverage:
    """Per trading day between the exchange's first and last stored row: listed tickers,
    stored rows, holes and answered days (see the module docstring)."""
    holidays = queries.holidays(conn, exchange)
    spans = reads.ticker_spans(conn, exchange, dt.date.min, dt.date.max, holidays)
    if spans.is_empty():
        return ExchangeCoverage(exchange, [], bool(holidays))
    found = empty_days(conn, exchange, spans, holidays)
    calendar = found.days["date"]
    per_day = reads.rows_per_day(conn, exchange, calendar.min(), calendar.max())  # type: ignore[arg-type]
    firsts = spans["first"].sort()
    gone = spans.filter(pl.col("delisted"))["last"].sort()
    # listed(d) = #(first <= d) - #(delisted and last < d), by binary search: no
    # day-by-ticker table.
    listed = (firsts.search_sorted(calendar, side="right").cast(pl.Int64)
              - gone.search_sorted(calendar, side="left").cast(pl.Int64))
    holes = _per_day(found.holes)
    answered = _per_day(found.answered)
    days = [DayCoverage(d, int(n), per_day.get(d, 0), holes.get(d, 0), answered.get(d, 0))
            for d, n in zip(calendar.to_list(), listed.to_list(), strict=True)]
    return ExchangeCoverage(exchange, days, bool(holidays),
                            stretches(found.holes, found.days),
                            stretches(found.answered, found.days,
                                      reads.acknowledged(conn, exchange)))


def _per_day(pairs: pl.DataFrame) -> dict[dt.date, int]:
    if pairs.is_empty():
        return {}
    return dict(pairs.group_by("date").len().iter_rows())


def _colour(share: float) -> str:
    return GREEN if share >= COVERAGE_WARN else AMBER if share >= COVERAGE_ERROR else RED


def _pct(share: float) -> str:
    return f"{share:.1%}"


def render_svg(coverage: ExchangeCoverage) -> str:
    """The exchange's picture as an inline `<svg>` element."""
    days = coverage.days
    total_w, total_h = LEFT + WIDTH + RIGHT, TOP + HEIGHT + MARK_STRIP + BOTTOM
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total_w} {total_h}" '
           f'role="img" aria-label="coverage of {html.escape(coverage.code)}">']
    if not days:
        out.append(f'<text x="{LEFT}" y="{TOP + 20}">no prices stored yet</text></svg>')
        return "\n".join(out)
    step = WIDTH / len(days)
    base = TOP + HEIGHT
    for level in (0.0, 0.5, 1.0):  # y axis: grid lines and labels
        y = base - level * HEIGHT
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + WIDTH}" y2="{y:.1f}" '
                   'class="grid"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                   f'{level:.0%}</text>')
    for i, day in enumerate(days):
        x = LEFT + i * step
        h = min(day.share, 1.0) * HEIGHT
        tip = (f"{day.date}: {_pct(day.share)} ({day.stored:,} of {day.listed:,} listed "
               "tickers have a row)")
        if day.holes:
            tip += f"; {day.holes:,} never fetched"
        if day.answered:
            tip += f"; {day.answered:,} the source had no row for"
        out.append(f'<rect class="day" x="{x:.2f}" y="{base - h:.2f}" width="{step:.2f}" '
                   f'height="{h:.2f}" fill="{_colour(day.share)}"><title>{html.escape(tip)}'
                   '</title></rect>')
        mark_w = max(step, MIN_MARK_WIDTH)
        for kind, count, colour in (("hole", day.holes, HOLE), ("answered", day.answered, GREY)):
            if not count:
                continue
            what = ("no row and never fetched: backfill it" if kind == "hole"
                    else "no row; a fetch covered it and the source had none")
            out.append(f'<rect class="{kind}" data-date="{day.date}" x="{x:.2f}" '
                       f'y="{base + 2:.1f}" width="{mark_w:.2f}" height="{MARK_STRIP - 2}" '
                       f'fill="{colour}"><title>{day.date}: {count:,} ticker(s) {what}'
                       '</title></rect>')
    for i, day in _x_labels(days):
        x = LEFT + (i + 0.5) * step
        out.append(f'<text x="{x:.1f}" y="{base + MARK_STRIP + 16}" text-anchor="middle">'
                   f'{day.date}</text>')
    out.append("</svg>")
    return "\n".join(out)


def _x_labels(days: list[DayCoverage], most: int = 6) -> list[tuple[int, DayCoverage]]:
    """A few evenly spread dates under the axis, the first and last included."""
    if len(days) <= most:
        return list(enumerate(days))
    picks = sorted({round(k * (len(days) - 1) / (most - 1)) for k in range(most)})
    return [(i, days[i]) for i in picks]


def _stretch_text(s: Stretch) -> str:
    when = f"{s.start}" if s.start == s.end else f"{s.start}..{s.end}"
    ack = f" (acknowledged: {s.acknowledged})" if s.acknowledged else ""
    return f"{s.symbol} {when} ({s.days} trading day{'s' if s.days != 1 else ''}){ack}"


def _section(coverage: ExchangeCoverage) -> str:
    code = html.escape(coverage.code)
    parts = [f'<section id="{code}"><h2>{code}</h2>']
    days = coverage.days
    if days:
        low = sum(d.share < COVERAGE_WARN for d in days)
        hole_days = sum(bool(d.holes) for d in days)
        parts.append(
            f"<p>{len(days):,} trading days, {days[0].date} to {days[-1].date}; "
            f"{low:,} below {COVERAGE_WARN:.0%} coverage; "
            f'<span class="holes">{coverage.hole_rows:,} missing rows never fetched on '
            f"{hole_days:,} days</span>; "
            f"{sum(d.answered for d in days):,} rows the source had none for.</p>")
    if not coverage.holidays_known and days:
        parts.append("<p>Holidays unknown (materialize exchange_calendars): holidays count "
                     "as trading days here.</p>")
    parts.append(render_svg(coverage))
    for title, found in (("Holes (never fetched: backfill these days)",
                          coverage.hole_stretches),
                         ("Answered gaps (the source had no row)",
                          coverage.answered_stretches)):
        if not found:
            continue
        items = "".join(f"<li>{html.escape(_stretch_text(s))}</li>"
                        for s in found[:LISTED_STRETCHES])
        more = (f"<li>... and {len(found) - LISTED_STRETCHES:,} more</li>"
                if len(found) > LISTED_STRETCHES else "")
        parts.append(f"<h3>{title}: {len(found):,}</h3><ul>{items}{more}</ul>")
    parts.append("</section>")
    return "\n".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #212121; }
svg { width: 100%; height: auto; max-width: 1200px; }
svg text { font-size: 11px; fill: #424242; }
svg .grid { stroke: #e0e0e0; stroke-width: 1; }
.legend span { display: inline-block; width: 0.9em; height: 0.9em; margin: 0 0.3em 0 1em;
               vertical-align: middle; }
.holes { color: #d50000; }
"""


def render_html(coverages: Sequence[ExchangeCoverage], generated_at: dt.datetime) -> str:
    """The whole page: a legend and one section (summary, picture, stretches) per
    exchange."""
    legend = (f'<p class="legend">Share of listed tickers with a row:'
              f'<span style="background:{GREEN}"></span>at least {COVERAGE_WARN:.0%}'
              f'<span style="background:{AMBER}"></span>at least {COVERAGE_ERROR:.0%}'
              f'<span style="background:{RED}"></span>below. Marks under the axis:'
              f'<span style="background:{HOLE}"></span>hole (never fetched)'
              f'<span style="background:{GREY}"></span>the source had no row. '
              "Hover a bar or mark for its numbers.</p>")
    sections = "\n".join(_section(c) for c in coverages)
    stamp = generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>eod-pipeline coverage</title>"
            f"<style>{_STYLE}</style></head><body>\n"
            f"<h1>Coverage per exchange</h1><p>Written {stamp} by `eod-pipeline status "
            "--html`, from the warehouse.</p>\n"
            f"{legend}\n{sections}\n</body></html>\n")


def write_coverage_html(conn: psycopg.Connection, exchanges: Sequence[str], path: Path,
                        now: dt.datetime | None = None) -> list[ExchangeCoverage]:
    """Write the picture of `exchanges` to `path` (one HTML file, nothing external);
    returns the coverages drawn. The function to call from elsewhere (e.g. an asset that
    links the picture in its metadata)."""
    coverages = [exchange_coverage(conn, code) for code in exchanges]
    path.write_text(render_html(coverages, now or dt.datetime.now(dt.UTC)))
    return coverages
