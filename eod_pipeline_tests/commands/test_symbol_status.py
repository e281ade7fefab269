"""`status --symbol` names a hole made on purpose, tells it from a day the source had
nothing for, and shows the ticker's fetches, actions and revisions; `status --html` draws
the same hole on the exchange's coverage picture."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import psycopg
import pytest

from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.writer import write_frames
from eod_pipeline_tests.commands.support import clear_settings, fields, run
from eod_pipeline_tests.warehouse.frames import price_frame

FIRST = dt.date(2026, 11, 2)
LAST = dt.date(2026, 11, 13)
HOLE = dt.date(2026, 11, 4)         # deleted, and no fetch ever covered it
SOURCE_GAP = dt.date(2026, 11, 10)  # deleted, but a logged fetch asked for it
REVISED = dt.date(2026, 11, 12)


def _store(conn: psycopg.Connection, frame: pl.DataFrame) -> None:
    write_frames(conn, PRICES, frame, TableSlice(
        PRICES, {"exchange": ["US"]}, DateRange("date", FIRST, LAST)))


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse_url: str) -> str:
    """AAA and BBB on every weekday FIRST..LAST, then AAA's HOLE and SOURCE_GAP deleted;
    a per-ticker fetch of AAA logged over SOURCE_GAP only; a split, a dividend and a
    revised close for AAA."""
    clear_settings(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("EOD_EXCHANGES", "US:2025-01-02,LSE:2025-01-02")
    frame = price_frame(symbols=("AAA", "BBB"), start=FIRST, days=(LAST - FIRST).days + 1)
    frame = frame.filter(pl.col("date").dt.weekday() <= 5)
    with psycopg.connect(warehouse_url) as conn:
        _store(conn, frame)
        # The source revises AAA's close of REVISED: the writer records the change.
        _store(conn, frame.filter((pl.col("symbol") == "AAA") & (pl.col("date") == REVISED))
               .with_columns(pl.col("close") + 0.5))
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND symbol = 'AAA' "
                     "AND date = ANY(%s)", ([HOLE, SOURCE_GAP],))
        conn.execute("INSERT INTO eod.fetch_log (exchange, dataset, symbol, start_date, "
                     "end_date, rows, run_id, fetched_at, rejected) VALUES ('US', 'prices', "
                     "'AAA', %s, %s, 0, 'run-gap', '2026-11-14 10:00+00', 0)",
                     (SOURCE_GAP, SOURCE_GAP))
        conn.execute("INSERT INTO eod.splits VALUES ('US', 'AAA', '2026-11-05', "
                     "'2.000000/1.000000', 2, 1)")
        conn.execute("INSERT INTO eod.dividends (exchange, symbol, date, value, currency) "
                     "VALUES ('US', 'AAA', '2026-11-06', 0.25, 'USD')")
    return warehouse_url


def test_status_symbol_names_the_hole(stored: str):
    result = run("status", "--symbol", "AAA")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "US AAA"
    got = fields(result.output)
    assert got["stored"] == f"8 rows, {FIRST} .. {LAST}"
    assert got["holes"] == "1 trading day(s) with no row that no fetch covered:"
    hole_at = lines.index(next(line for line in lines if line.startswith("  holes")))
    assert lines[hole_at + 1].strip() == HOLE.isoformat()
    assert (f"fix: backfill eod_prices/US over them (`eod-pipeline plan --exchange US "
            f"--from {HOLE} --to {HOLE}` shows the cost)") in lines[hole_at + 2]
    # The day a fetch asked for and got nothing is not a hole: the source had no row.
    assert got["source gaps"] == "1 trading day(s) a fetch covered and the source had no row for:"
    assert any(line.strip() == SOURCE_GAP.isoformat() for line in lines)
    assert got["last fetch"].startswith(
        f"2026-11-14 10:00 UTC: prices per ticker, {SOURCE_GAP} .. {SOURCE_GAP}, 0 rows, "
        "run run-gap")
    assert got["splits"] == "2026-11-05 2.000000/1.000000"
    assert got["dividends"] == "2026-11-06 0.25 USD"
    assert got["revisions"] == "1 stored row(s) later changed by the source, newest first:"
    revision = next(line for line in lines if line.strip().startswith(f"{REVISED} (seen"))
    assert re.search(r"close [\d.]+ -> [\d.]+$", revision), revision
    assert got["listing"].startswith("not in the symbol list")


def test_status_symbol_of_a_whole_ticker_has_no_holes(stored: str):
    result = run("status", "--symbol", "bbb", "--exchange", "US")  # as typed, then upper
    assert result.exit_code == 0, result.output
    got = fields(result.output)
    assert result.output.splitlines()[0] == "US BBB"
    assert got["holes"].startswith("none")
    assert "source gaps" not in got
    assert got["last fetch"] == "never" and got["revisions"] == "none"


@pytest.mark.parametrize(("args", "message"), [
    (["--symbol", "ZZZ"], "Error: ticker 'ZZZ' is not known on any configured exchange "
                          "(US, LSE): neither its symbol list nor its prices name it"),
    (["--symbol", "AAA", "--exchange", "LSE"], "Error: ticker 'AAA' is not known on LSE"),
    (["--symbol", "AAA", "--exchange", "XETRA"],
     "Error: Invalid value for '--exchange': 'XETRA' is not configured (EOD_EXCHANGES: "
     "US, LSE)"),
])
def test_status_symbol_unknown_ticker_or_exchange(stored: str, args: list[str],
                                                  message: str):
    result = run("status", *args)
    assert result.exit_code in (1, 2)
    assert any(line.startswith(message) for line in result.output.splitlines()), \
        result.output


def test_status_html_draws_the_hole(stored: str, tmp_path: Path):
    path = tmp_path / "coverage.html"
    result = run("status", "--html", str(path))
    assert result.exit_code == 0, result.output
    assert f"coverage picture: {path} (2 exchange(s); 1 missing rows never fetched)" \
        in result.output
    page = path.read_text()
    # Self-contained: inline SVG, no script, nothing loaded from elsewhere.
    assert "<svg" in page and "<script" not in page
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    holes = re.findall(r'<rect class="hole" data-date="([\d-]+)"', page)
    assert holes == [HOLE.isoformat()]
    assert re.findall(r'<rect class="answered" data-date="([\d-]+)"', page) == \
        [SOURCE_GAP.isoformat()]
    # Every trading day FIRST..LAST is a bar; the hole's day shows 1 of 2 tickers.
    assert page.count('<rect class="day"') == 10
    assert f"{HOLE}: 50.0% (1 of 2 listed tickers have a row); 1 never fetched" in page
    assert "AAA 2026-11-04 (1 trading day)" in page
    assert '<section id="LSE">' in page and "no prices stored yet" in page
