"""The `eod-pipeline` commands against a real warehouse and the real simulator.

In-process through click's CliRunner for the details (exact messages, exit codes, what
`plan` predicts versus what a run then spends), plus real subprocesses for what only a
process shows: the console script, `simulate` serving over loopback, `demo --no-ui`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner, Result

from eod_pipeline.cli import cli
from eod_pipeline.commands.demo import (
    FALLBACK_DAGSTER_YAML,
    dagster_yaml_text,
    demo_environment,
    demo_start_date,
)
from eod_pipeline.markets.registry import EXCHANGES
from eod_pipeline.warehouse.migrations import HYPERTABLES, latest_version
from eod_pipeline.warehouse.slices import DateRange, TableSlice
from eod_pipeline.warehouse.tables import PRICES
from eod_pipeline.warehouse.writer import write_frames
from eod_pipeline_tests.commands.support import fields as _fields
from eod_pipeline_tests.commands.support import verdicts as _verdicts
from eod_pipeline_tests.defs.harness import Harness, make_pipeline
from eod_pipeline_tests.fixtures.postgres import (
    compress_all_chunks,
    create_database,
    drop_database,
)
from eod_pipeline_tests.fixtures.simulator import SIM_NOW, SIM_TOKEN
from eod_pipeline_tests.warehouse.frames import price_frame
from eodhd_simulator import SimulatorServer

#: Environment the commands read; cleared so the developer's own settings never leak in.
_SETTINGS = ("EOD_CONFIG", "EOD_EXCHANGES", "EOD_START_DATE", "EOD_MAX_FAILED_SHARE",
             "EOD_REFRESH_DELAY_MINUTES", "EOD_DATABASE_URL", "EODHD_API_TOKEN",
             "EODHD_BASE_URL", "EODHD_REQUESTS_PER_MINUTE", "DAGSTER_HOME", "EOD_TIMESCALEDB")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _calls(sim: SimulatorServer) -> int:
    """API calls the simulator has charged (all tokens, all days)."""
    return sum(n for per_day in sim.stats()["credits"].values() for n in per_day.values())


def _error_line(result: Result) -> str:
    return next(line for line in result.output.splitlines() if line.startswith("Error:"))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in _SETTINGS:
        monkeypatch.delenv(name, raising=False)
    # Anything that would fall back to the embedded cluster makes it here, not in the repo.
    monkeypatch.setenv("EOD_HOME", str(tmp_path / "eod_home"))
    return monkeypatch


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch, warehouse_url: str, simulator: SimulatorServer
        ) -> pytest.MonkeyPatch:
    """Settings pointing at a fresh warehouse and the simulator, US configured."""
    clean_env.setenv("EOD_DATABASE_URL", warehouse_url)
    clean_env.setenv("EODHD_BASE_URL", simulator.base_url)
    clean_env.setenv("EODHD_API_TOKEN", SIM_TOKEN)
    clean_env.setenv("EOD_EXCHANGES", "US:2025-01-02,LSE:2025-01-02")
    return clean_env


@pytest.fixture
def harness(env: pytest.MonkeyPatch, warehouse_url: str, simulator: SimulatorServer
            ) -> Iterator[Harness]:
    """Runs real materializations into the same warehouse, from the same simulator."""
    with dg.instance_for_test() as instance:
        yield Harness(simulator, warehouse_url, instance,
                      make_pipeline("US:2025-01-02", SIM_NOW.date()), SIM_NOW)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# ----- plan --------------------------------------------------------------------------------


def test_plan_predicts_what_the_run_spends_and_spends_nothing_itself(harness: Harness):
    harness.load_reference("US")
    assert harness.backfill("US", "2026-11-16", "2026-11-20").success
    before = _calls(harness.sim)

    result = run("plan", "--exchange", "US", "--from", "2026-11-02", "--to", "2026-11-20")

    assert result.exit_code == 0, result.output
    assert _calls(harness.sim) == before  # /user is free: not one call spent
    fields = _fields(result.output)
    days = harness.sim.universe.trading_days("US", dt.date(2026, 11, 2), dt.date(2026, 11, 20))
    assert fields["trading days"] == f"{len(days)} (10 not fully fetched yet)"
    assert fields["bulk by date"] == "1,000 calls (10 requests x 100 calls)"
    assert fields["strategy"] == "per_ticker_history"
    calls = int(fields["calls"].replace(",", ""))
    assert fields["per ticker"] == f"{calls} calls ({calls} requests x 1 call)"
    assert fields["requests"] == str(calls)
    assert fields["minutes at rate limit"].startswith("0.0")
    left = 100_000 - before
    assert fields["quota"].startswith(f"{left:,} calls left today of 100,000")
    assert fields["quota suffices"] == f"yes ({calls} needed)"
    assert SIM_TOKEN not in result.output

    # The run the plan describes spends exactly what the plan said.
    backfill = harness.backfill("US", "2026-11-02", "2026-11-20")
    assert backfill.success
    assert _calls(harness.sim) - before == calls

    # Now everything is known; the run options change the plan as they change the run.
    args = ("plan", "--exchange", "US", "--from", "2026-11-02", "--to", "2026-11-20")
    again = run(*args)
    assert _fields(again.output)["strategy"] == "nothing_missing"
    assert _fields(again.output)["calls"] == "0"
    assert "note: the fetch log already covers the whole range" in again.output
    refetch = _fields(run(*args, "--refetch").output)
    assert refetch["strategy"] == "per_ticker_history"
    assert refetch["trading days"] == f"{len(days)} ({len(days)} not fully fetched yet)"
    forced = _fields(run(*args, "--refetch", "--strategy", "bulk_by_date").output)
    assert forced["strategy"] == "bulk_by_date (forced by --strategy)"
    assert forced["calls"] == f"{100 * len(days):,}"


def test_plan_on_an_empty_warehouse_goes_bulk_and_says_why(env: pytest.MonkeyPatch):
    result = run("plan", "--exchange", "US", "--from", "2026-11-16", "--to", "2026-11-20")
    assert result.exit_code == 0, result.output
    fields = _fields(result.output)
    assert fields["strategy"] == "bulk_by_date"
    assert fields["calls"] == "500"
    assert "note: no symbol list for US in the warehouse yet" in result.output
    assert "note: no holidays for US in the warehouse yet" in result.output


def test_plan_without_a_token_says_the_quota_is_unknown(env: pytest.MonkeyPatch):
    env.delenv("EODHD_API_TOKEN")
    result = run("plan", "--exchange", "US", "--from", "2026-11-16", "--to", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert _fields(result.output)["quota"] == "unknown (EODHD_API_TOKEN not set)"
    assert "quota suffices" not in result.output


def test_plan_when_the_quota_does_not_suffice(env: pytest.MonkeyPatch,
                                              simulator: SimulatorServer):
    simulator.configure(daily_quota=300)
    result = run("plan", "--exchange", "US", "--from", "2026-11-16", "--to", "2026-11-20")
    assert result.exit_code == 0, result.output
    assert _fields(result.output)["quota suffices"].startswith("NO: needs 500, 300 left")


_KNOWN = ", ".join(sorted(EXCHANGES))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exchange", "US", "--from", "2026-11-20", "--to", "2026-11-02"],
         "Error: Invalid value for '--from': 2026-11-20 is after --to 2026-11-02"),
        (["--exchange", "US", "--from", "2026-13-01", "--to", "2026-11-02"],
         "Error: Invalid value for '--from': '2026-13-01' is not a date (expected YYYY-MM-DD)"),
        (["--exchange", "US", "--from", "2026-11-02", "--to", "20.11.2026"],
         "Error: Invalid value for '--to': '20.11.2026' is not a date (expected YYYY-MM-DD)"),
        (["--exchange", "XX", "--from", "2026-11-02", "--to", "2026-11-20"],
         f"Error: Invalid value for '--exchange': 'XX' is not an exchange code this pipeline "
         f"knows (known: {_KNOWN})"),
        (["--exchange", "XETRA", "--from", "2026-11-02", "--to", "2026-11-20"],
         "Error: Invalid value for '--exchange': 'XETRA' is not configured "
         "(EOD_EXCHANGES: US, LSE)"),
        (["--exchange", "US", "--from", "2024-12-31", "--to", "2026-11-20"],
         "Error: Invalid value for '--from': 2024-12-31 is before US's configured start "
         "2025-01-02 (EOD_EXCHANGES / EOD_START_DATE): there are no partitions before it"),
        (["--exchange", "US", "--from", "2026-11-02", "--to", "2999-01-01"],
         f"Error: Invalid value for '--to': 2999-01-01 is in the future "
         f"(today is {dt.date.today()})"),
        (["--exchange", "US", "--to", "2026-11-20"],
         "Error: Missing option '--from'."),
    ],
    ids=["from-after-to", "bad-from", "bad-to", "unknown-exchange", "not-configured",
         "before-start", "future", "missing-from"],
)
def test_plan_refuses_invalid_arguments(clean_env: pytest.MonkeyPatch, args: list[str],
                                        message: str):
    clean_env.setenv("EOD_EXCHANGES", "US:2025-01-02,LSE:2025-01-02")
    # No database is configured: validation must happen before anything connects.
    result = run("plan", *args)
    assert result.exit_code == 2
    assert _error_line(result) == message
    assert not (Path(os.environ["EOD_HOME"]) / "postgres").exists()


@pytest.mark.parametrize("command", [["status"], ["plan", "--exchange", "US", "--from",
                                                  "2026-11-02", "--to", "2026-11-20"]])
def test_invalid_settings_exit_2_with_the_setting_named(clean_env: pytest.MonkeyPatch,
                                                        command: list[str]):
    clean_env.setenv("EOD_EXCHANGES", "US,NOPE")
    result = run(*command)
    assert result.exit_code == 2
    assert _error_line(result).startswith(
        "Error: EOD_EXCHANGES: unknown exchange code 'NOPE'. Known codes: ")


# ----- status ------------------------------------------------------------------------------


def test_status_counts_rows_span_and_gaps(harness: Harness, warehouse_url: str):
    harness.load_reference("US")
    assert harness.backfill("US", "2026-11-02", "2026-11-06").success
    assert harness.backfill("US", "2026-11-16", "2026-11-20").success
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("INSERT INTO eod.price_rejects VALUES ('US', 'ZZZ', '2026-11-03', "
                     "'null close', '{}', 'run', now())")
        active, delisted = conn.execute(
            "SELECT count(*) FILTER (WHERE NOT delisted), count(*) FILTER (WHERE delisted) "
            "FROM eod.symbols WHERE exchange = 'US'").fetchone()
    stored = harness.stored("US")

    result = run("status")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["EXCHANGE", "SYMBOLS", "(active/delisted)", "PRICE", "ROWS",
                                "FIRST", "LAST", "MISSING", "DAYS", "LAST", "FETCH", "REJECTED"]
    us = next(line for line in lines if line.startswith("US ")).split()
    assert us[:6] == ["US", f"{active}/{delisted}", f"{stored.height:,}", "2026-11-02",
                      "2026-11-20", "5"]
    # The fetch log's time is the pipeline's clock (the harness's simulated now).
    assert us[6] == harness.now.date().isoformat() and us[-1] == "1"
    lse = next(line for line in lines if line.startswith("LSE ")).split()
    assert lse == ["LSE", "0/0", "0", "-", "-", "0", "never", "0"]
    assert ("US: 5 trading days between first and last have no rows: 2026-11-09, "
            "2026-11-10, 2026-11-11, 2026-11-12, 2026-11-13") in lines
    assert "US: 1 rows rejected by the row checks (see eod.price_rejects)" in lines
    assert "LSE: no symbol list yet (materialize symbol_lists)" in lines


# ----- doctor ------------------------------------------------------------------------------


def test_doctor_all_ok(env: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "dh").mkdir()
    (tmp_path / "dh" / "dagster.yaml").write_text(dagster_yaml_text())
    env.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    result = run("doctor")
    assert result.exit_code == 0, result.output
    expected = {"config": "OK", "database": "OK", "schema": "OK", "storage": "OK",
                "token": "OK", "api": "OK", "dagster home": "OK"}
    if "TimescaleDB" in result.output:  # the suite's default mode: a line per hypertable
        expected.update({spec.qualified_name: "OK" for spec in HYPERTABLES})
    assert _verdicts(result.output) == expected
    assert "0 of 100,000 calls used today" in result.output
    assert result.output.rstrip().endswith("verdict: ready")
    assert SIM_TOKEN not in result.output


def test_doctor_without_a_token_fails(env: pytest.MonkeyPatch):
    env.delenv("EODHD_API_TOKEN")
    result = run("doctor")
    assert result.exit_code == 1
    # Names are padded to the longest (e.g. `eod.dividends` in TimescaleDB mode).
    assert re.search(r"^FAIL  token {2,}EODHD_API_TOKEN is not set: export your EODHD API "
                     r"token \(or run `eod-pipeline demo` for simulated data\)$",
                     result.output, re.MULTILINE)
    assert _verdicts(result.output)["api"] == "WARN"
    assert "verdict: NOT READY (1 FAIL, 2 WARN)" in result.output


def test_doctor_with_a_rejected_token_fails_without_printing_it(env: pytest.MonkeyPatch):
    env.setenv("EODHD_API_TOKEN", "not-the-token-9d8c7b")
    result = run("doctor")
    assert result.exit_code == 1
    assert _verdicts(result.output)["api"] == "FAIL"
    assert "AuthenticationError" in result.output
    assert "not-the-token-9d8c7b" not in result.output


def test_doctor_with_an_unreachable_database_hides_the_password(env: pytest.MonkeyPatch):
    port = _free_port()  # nothing listens there
    env.setenv("EOD_DATABASE_URL", f"postgresql://eod:s3cret-pw@127.0.0.1:{port}/eod")
    env.setenv("EOD_EXCHANGES", "US,NOPE")
    result = run("doctor")
    assert result.exit_code == 1
    verdicts = _verdicts(result.output)
    assert verdicts["config"] == "FAIL" and verdicts["database"] == "FAIL"
    assert "schema" not in verdicts  # not checked without a database
    assert f"postgresql://eod@127.0.0.1:{port}/eod (EOD_DATABASE_URL)" in result.output
    assert "s3cret-pw" not in result.output


@pytest.mark.parametrize("url", ["postgresql://eod:s3cret-pw@bad host/eod",
                                 "host=x password=s3cret-pw nonsense"])
def test_a_malformed_database_url_is_reported_without_its_password(
        env: pytest.MonkeyPatch, url: str):
    env.setenv("EOD_DATABASE_URL", url)
    doctor = run("doctor")
    assert doctor.exit_code == 1 and _verdicts(doctor.output)["database"] == "FAIL"
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 1
    assert _error_line(status).startswith("Error: cannot reach the warehouse at ")
    for result in (doctor, status):
        assert "s3cret-pw" not in result.output


# ----- db ----------------------------------------------------------------------------------


def test_db_url_hides_the_password_of_an_external_database(clean_env: pytest.MonkeyPatch):
    clean_env.setenv("EOD_DATABASE_URL", "postgresql://u:pw123@db.example:5433/eod")
    result = CliRunner().invoke(cli, ["db", "url"])
    assert result.exit_code == 0
    assert result.stdout == "postgresql://u@db.example:5433/eod\n"
    assert "pw123" not in result.output


def test_db_url_before_the_embedded_cluster_exists(clean_env: pytest.MonkeyPatch):
    result = CliRunner().invoke(cli, ["db", "url"])
    assert result.exit_code == 1
    assert "`eod-pipeline db start` creates it" in result.output


# ----- schema and storage mode ---------------------------------------------------------------


@pytest.fixture
def fresh_env(clean_env: pytest.MonkeyPatch, database_url: str) -> pytest.MonkeyPatch:
    """An empty database as the warehouse, US configured, no token."""
    clean_env.setenv("EOD_DATABASE_URL", database_url)
    clean_env.setenv("EOD_EXCHANGES", "US:2025-01-02")
    return clean_env


@pytest.fixture
def plain_server_env(clean_env: pytest.MonkeyPatch, pg_plain_server_url: str
                     ) -> Iterator[pytest.MonkeyPatch]:
    """An empty database on a server with timescaledb installed but not preloaded."""
    url = create_database(pg_plain_server_url)
    clean_env.setenv("EOD_DATABASE_URL", url)
    clean_env.setenv("EOD_EXCHANGES", "US:2025-01-02")
    yield clean_env
    drop_database(pg_plain_server_url, url)


_PLAN = ("plan", "--exchange", "US", "--from", "2026-11-16", "--to", "2026-11-20")


def _no_schema(url: str) -> bool:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regnamespace('eod')").fetchone() == (None,)


def test_status_and_plan_never_migrate_and_say_which_command_does(fresh_env, database_url):
    for command in (("status",), _PLAN):
        result = CliRunner().invoke(cli, list(command))
        assert result.exit_code == 1, result.output
        assert _error_line(result) == (
            "Error: The warehouse has no schema yet: run `eod-pipeline db migrate` (or "
            "`eod-pipeline db start` for the embedded cluster) to create it")
    assert _no_schema(database_url)

    created = run("db", "migrate")
    assert created.exit_code == 0, created.output
    assert f"applied migration {latest_version()}: " in created.output
    assert run("status").exit_code == 0

    with psycopg.connect(database_url) as conn:  # as if the code had a newer migration
        conn.execute("DELETE FROM eod.schema_migrations WHERE version = %s",
                     (latest_version(),))
    behind = CliRunner().invoke(cli, ["status"])
    assert behind.exit_code == 1
    assert _error_line(behind).endswith("not applied): run `eod-pipeline db migrate`")
    doctor = run("doctor")
    assert _verdicts(doctor.output)["schema"] == "FAIL"
    assert "runs refuse it until you run `eod-pipeline db migrate`" in doctor.output

    again = run("db", "migrate")
    assert again.exit_code == 0, again.output
    assert f"applied migration {latest_version()}: " in again.output
    assert run("db", "migrate").output.splitlines()[1:] == [
        f"schema up to date (version {latest_version()})",
        again.output.splitlines()[-1],
    ]


def _contents(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {spec.name: conn.execute(
            f"SELECT * FROM eod.{spec.name} ORDER BY exchange, symbol, date").fetchall()
            for spec in HYPERTABLES}


@pytest.mark.timescaledb
def test_db_migrate_converts_a_plain_warehouse_keeping_every_row(fresh_env, database_url):
    fresh_env.setenv("EOD_TIMESCALEDB", "off")
    created = run("db", "migrate")
    assert created.output.splitlines()[-1] == "storage mode: plain PostgreSQL"
    fresh_env.delenv("EOD_TIMESCALEDB")
    frame = price_frame(start=dt.date(2021, 6, 1), days=3 * 365, symbols=("AAA", "M&G"))
    with psycopg.connect(database_url) as conn:
        write_frames(conn, PRICES, frame, TableSlice(
            PRICES, {"exchange": ["US"]},
            DateRange("date", dt.date(2021, 1, 1), dt.date(2024, 12, 31))))
        conn.execute("INSERT INTO eod.splits VALUES ('US', 'AAA', '2022-06-01', "
                     "'4.000000/1.000000', 4, 1)")
        conn.execute("INSERT INTO eod.dividends (exchange, symbol, date, value) VALUES "
                     "('US', 'AAA', '2023-03-01', 0.25), ('US', 'M&G', '2021-09-01', 0.1)")
    before = _contents(database_url)

    # Neither reading nor migrating without a flag converts anything.
    assert run("status").exit_code == 0
    unchanged = run("db", "migrate")
    assert unchanged.output.splitlines()[-1] == "storage mode: plain PostgreSQL"

    converted = run("db", "migrate", "--timescaledb")
    assert converted.exit_code == 0, converted.output
    lines = converted.output.splitlines()
    assert "converting the time-series tables: plain PostgreSQL -> TimescaleDB" in lines
    rows = {m[1]: (m[2], m[4]) for line in lines
            if (m := re.match(r"^  (eod\.\w+)\s+([\d,]+) rows\s+([\d.]+) s  (.+)$", line))}
    assert rows == {"eod.prices": (f"{frame.height:,}", "hypertable"),
                    "eod.splits": ("1", "hypertable"), "eod.dividends": ("2", "hypertable")}
    assert re.search(r"^storage mode: TimescaleDB \(was plain PostgreSQL\); conversion "
                     r"took [\d.]+ s$", converted.output, re.MULTILINE)
    assert _contents(database_url) == before
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM timescaledb_information.hypertables "
                            "WHERE hypertable_schema = 'eod'").fetchone() == (len(HYPERTABLES),)
        compress_all_chunks(conn, "eod.prices")

    back = run("db", "migrate", "--plain")
    assert back.exit_code == 0, back.output
    assert "storage mode: plain PostgreSQL (was TimescaleDB)" in back.output
    assert _contents(database_url) == before
    again = run("db", "migrate", "--plain")
    assert again.output.splitlines()[-1] == "storage mode: plain PostgreSQL (nothing to convert)"


@pytest.mark.timescaledb
def test_doctor_reports_each_hypertable_chunks_and_compression(env, warehouse_url):
    frame = price_frame(start=dt.date(2021, 6, 1), days=2 * 365, symbols=("AAA", "BBB"))
    with psycopg.connect(warehouse_url) as conn:
        write_frames(conn, PRICES, frame, TableSlice(
            PRICES, {"exchange": ["US"]},
            DateRange("date", dt.date(2021, 1, 1), dt.date(2023, 12, 31))))
        chunks = conn.execute("SELECT count(*) FROM show_chunks('eod.prices')").fetchone()[0]
        compress_all_chunks(conn, "eod.prices")
    result = run("doctor")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    storage = next(line for line in lines if line.startswith("OK    storage"))
    assert f"({len(HYPERTABLES)} of {len(HYPERTABLES)} time-series tables are hypertables)" \
        in storage
    prices = next(line for line in lines if " eod.prices " in line)
    assert re.match(rf"^OK\s+eod\.prices\s+hypertable: {chunks} chunks, {chunks} compressed; "
                    r"[\d.]+ [kMG]?B before, [\d.]+ [kMG]?B after compression; "
                    r"[\d.]+ [kMG]?B in all$", prices), prices
    splits = next(line for line in lines if " eod.splits " in line)
    assert "0 chunks, 0 compressed; nothing compressed yet" in splits


@pytest.mark.timescaledb
def test_a_server_with_timescaledb_installed_but_not_preloaded(plain_server_env):
    url = os.environ["EOD_DATABASE_URL"]
    doctor = run("doctor")
    verdicts = _verdicts(doctor.output)
    assert verdicts["schema"] == "FAIL" and verdicts["storage"] == "FAIL"
    storage = next(line for line in doctor.output.splitlines() if "storage" in line)
    assert ("timescaledb is installed but unusable, so the warehouse would be created with "
            "plain tables: set shared_preload_libraries = 'timescaledb' in postgresql.conf "
            "and restart the server") in storage

    refused = CliRunner().invoke(cli, ["db", "migrate", "--timescaledb"])
    assert refused.exit_code == 1
    assert "Cannot use TimescaleDB: timescaledb is installed but not preloaded" in \
        refused.output
    assert _no_schema(url)  # refused before creating anything

    created = run("db", "migrate")
    assert created.exit_code == 0, created.output
    assert created.output.splitlines()[-1] == "storage mode: plain PostgreSQL"
    for command in (("status",), _PLAN):
        assert run(*command).exit_code == 0
    doctor = run("doctor")
    assert _verdicts(doctor.output)["storage"] == "WARN"
    assert "then run `eod-pipeline db migrate --timescaledb`" in doctor.output

    # A TimescaleDB warehouse on such a server (its preload removed): refused, clearly.
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE eod.warehouse_settings SET storage_mode = 'timescaledb'")
    for command in (("status",), _PLAN):
        result = CliRunner().invoke(cli, list(command))
        assert result.exit_code == 1
        assert _error_line(result) == (
            "Error: The warehouse's storage mode is TimescaleDB, but timescaledb is "
            "installed but not preloaded: set shared_preload_libraries = 'timescaledb' in "
            "postgresql.conf and restart the server")
    assert _verdicts(run("doctor").output)["storage"] == "FAIL"


# ----- simulate ----------------------------------------------------------------------------


def test_simulate_maps_options_to_the_simulator_config(monkeypatch: pytest.MonkeyPatch):
    seen = {}
    import eodhd_simulator

    monkeypatch.setattr(eodhd_simulator, "serve",
                        lambda host, port, config: seen.update(host=host, port=port,
                                                               config=config))
    result = run("simulate", "--port", "9999", "--seed", "3", "--symbols", "5",
                 "--clock", "2026-11-20T23:00:00", "--error-5xx-rate", "0.1", "--latency",
                 "0.05", "--hang-rate", "0.01", "--truncate-rate", "0.02",
                 "--malformed-rate", "0.03", "--per-minute-limit", "50", "--daily-quota", "500")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("SIMULATED EODHD API")
    config = seen["config"]
    assert (seen["host"], seen["port"]) == ("127.0.0.1", 9999)
    assert (config.seed, config.symbols_per_exchange) == (3, 5)
    assert config.now == dt.datetime(2026, 11, 20, 23, tzinfo=dt.UTC)
    assert (config.error_5xx_rate, config.latency_s, config.hang_rate, config.truncate_rate,
            config.malformed_rate) == (0.1, 0.05, 0.01, 0.02, 0.03)
    assert (config.per_minute_limit, config.daily_quota) == (50, 500)


def test_simulate_refuses_a_bad_rate_and_clock():
    bad_rate = run("simulate", "--error-5xx-rate", "1.5")
    assert bad_rate.exit_code == 2
    assert "Invalid value for '--error-5xx-rate': 1.5 is not in the range 0.0<=x<=1.0" \
        in bad_rate.output
    bad_clock = run("simulate", "--clock", "yesterday")
    assert bad_clock.exit_code == 2
    assert _error_line(bad_clock) == ("Error: Invalid value for '--clock': 'yesterday' is not "
                                      "an ISO date-time (e.g. 2026-11-20T23:00:00Z)")


def _console_script() -> list[str]:
    script = Path(sys.executable).parent / "eod-pipeline"
    return [str(script)] if script.exists() else [sys.executable, "-m", "eod_pipeline.cli"]


def test_simulate_subprocess_serves_the_api_with_the_token():
    port = _free_port()
    proc = subprocess.Popen(
        [*_console_script(), "simulate", "--port", str(port), "--symbols", "5",
         "--clock", "2026-11-20T23:00:00Z"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/exchanges-list/?api_token={SIM_TOKEN}&fmt=json"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    body = json.loads(resp.read())
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.2)
        assert {e["Code"] for e in body} >= {"US", "LSE", "XETRA"}
        # Without the token: refused.
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/exchanges-list/?fmt=json",
                                   timeout=5)
        assert refused.value.code in (401, 403)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert out.splitlines()[0].startswith("SIMULATED EODHD API")


# ----- demo --------------------------------------------------------------------------------


def test_demo_environment_always_points_at_the_simulator(tmp_path: Path):
    env = demo_environment({"EODHD_API_TOKEN": "real-token", "EODHD_BASE_URL": "https://x",
                            "EOD_EXCHANGES": "US"}, tmp_path, 9876)
    assert env["EODHD_API_TOKEN"] == SIM_TOKEN
    assert env["EODHD_BASE_URL"] == "http://127.0.0.1:9876/api"
    assert env["EOD_EXCHANGES"] == "US"  # the user's choice is kept
    assert env["EOD_START_DATE"] == demo_start_date(dt.date.today()).isoformat()
    assert demo_environment({}, tmp_path, 1)["EOD_EXCHANGES"] == "US,LSE,XETRA"
    assert demo_start_date(dt.date(2026, 11, 23)) == dt.date(2025, 1, 2)


def test_dagster_yaml_has_pools_and_run_limits_where_dagster_wants_them():
    import yaml

    for text in (dagster_yaml_text(), FALLBACK_DAGSTER_YAML):
        config = yaml.safe_load(text)
        assert config["concurrency"]["pools"]["default_limit"] == 1
        assert config["concurrency"]["runs"]["max_concurrent_runs"] >= 1
        assert "max_concurrent_runs" not in (config.get("run_coordinator") or {}).get(
            "config", {})


def test_demo_refuses_exchanges_the_simulator_does_not_serve(clean_env: pytest.MonkeyPatch):
    clean_env.setenv("EOD_EXCHANGES", "US,TO")
    result = run("demo", "--no-ui")
    assert result.exit_code == 2
    assert result.output.splitlines()[1].startswith("SIMULATED DATA")
    assert _error_line(result) == (
        "Error: EOD_EXCHANGES: the simulator serves only FOREX, LSE, US, VI, WAR, XETRA; "
        "not TO "
        "(unset EOD_EXCHANGES for the default US,LSE,XETRA)")


def test_demo_no_ui_subprocess(warehouse_url: str, tmp_path: Path):
    """The quickstart end to end, short of the UI: real process, real children."""
    sim_port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in _SETTINGS}
    env.update(EOD_HOME=str(tmp_path / "home"), EOD_DATABASE_URL=warehouse_url,
               EODHD_API_TOKEN="users-real-token-5e6f")
    done = subprocess.run(
        [*_console_script(), "demo", "--no-ui", "--sim-port", str(sim_port)],
        env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if line.strip("= ")]
    assert lines[0].startswith("SIMULATED DATA") and "NOT real market data" in lines[1]
    assert (tmp_path / "home" / "dagster_home" / "dagster.yaml").read_text() == \
        dagster_yaml_text()
    assert "code location eod_pipeline.defs loads" in done.stdout
    assert "note: your EODHD_API_TOKEN is not used" in done.stdout
    assert "users-real-token-5e6f" not in done.stdout + done.stderr
    # It records its settings for `status`, `plan` and `doctor` run in that folder (the
    # simulator's public token, never the user's), and prints a range that works.
    recorded = json.loads((tmp_path / "home" / "demo.json").read_text())
    assert recorded["settings"]["EODHD_BASE_URL"] == f"http://127.0.0.1:{sim_port}/api"
    assert recorded["settings"]["EODHD_API_TOKEN"] == SIM_TOKEN
    assert recorded["dagster_home"] == str(tmp_path / "home" / "dagster_home")
    assert re.search(r"^price range \[\d{4}-\d\d-\d\d\.\.\.\d{4}-\d\d-\d\d\] ",
                     done.stdout, re.MULTILINE)
    # The simulator child is gone: its port is free again.
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", sim_port))
