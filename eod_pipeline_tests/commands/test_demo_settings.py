"""`status`, `plan` and `doctor` run where the demo ran use the settings it recorded, say
so, and let the explicit environment win (issue 14, "The CLI sees the demo")."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest

from eod_pipeline.commands.demo import (
    demo_environment,
    demo_start_date,
    prepare_dagster_home,
    record_demo_settings,
)
from eod_pipeline.config import load_config
from eod_pipeline.settings import pipeline_env
from eod_pipeline_tests.commands.support import clear_settings, fields, run, verdicts
from eod_pipeline_tests.fixtures.simulator import SIM_TOKEN
from eodhd_simulator import SimulatorServer

DEMO_START = demo_start_date(dt.date.today())
LINE = ("using the demo's settings from .eod_pipeline/demo.json (EODHD_API_TOKEN, "
        "EODHD_BASE_URL, EOD_EXCHANGES, EOD_START_DATE)")


def _record_demo(folder: Path, sim_port: int) -> Path:
    """What `eod-pipeline demo` records, written the way it writes it (same functions),
    without starting the demo: its home is ./.eod_pipeline of `folder`."""
    home = folder / ".eod_pipeline"
    env = demo_environment({}, home, sim_port)
    dagster_home, _ = prepare_dagster_home(home)
    return record_demo_settings(home, env, load_config(env), dagster_home)


@pytest.fixture
def demo_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse_url: str,
                simulator: SimulatorServer) -> Path:
    """A folder the demo ran in (its simulator: the test's), the warehouse given by
    EOD_DATABASE_URL (which the demo does not record), and nothing else set."""
    clear_settings(monkeypatch)
    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    folder = tmp_path / "project"
    folder.mkdir()
    recorded = _record_demo(folder, simulator.port)
    assert json.loads(recorded.read_text())["settings"]["EODHD_BASE_URL"] == \
        simulator.base_url
    monkeypatch.chdir(folder)
    return folder


def test_the_recorded_file_holds_the_demos_settings(demo_folder: Path):
    data = json.loads((demo_folder / ".eod_pipeline" / "demo.json").read_text())
    assert data["settings"]["EODHD_API_TOKEN"] == SIM_TOKEN  # the simulator's public one
    assert data["settings"]["EOD_EXCHANGES"] == (f"US:{DEMO_START},LSE:{DEMO_START},"
                                                  f"XETRA:{DEMO_START}")
    assert data["settings"]["EOD_START_DATE"] == DEMO_START.isoformat()
    assert data["home"] == str(demo_folder / ".eod_pipeline")
    assert data["dagster_home"] == str(demo_folder / ".eod_pipeline" / "dagster_home")
    # Outside the commands that open it, nothing reads it: Dagster processes keep the
    # environment alone.
    assert pipeline_env().exchanges is None


def test_status_plan_and_doctor_use_the_demos_settings_and_say_so(demo_folder: Path):
    status = run("status")
    assert status.exit_code == 0, status.output
    assert status.stderr.splitlines()[0] == LINE
    assert [line.split()[0] for line in status.stdout.splitlines()[2:5]] == \
        ["US", "LSE", "XETRA"]

    # The demo's start, not the default 2020-01-02: before it there are no partitions.
    before = run("plan", "--exchange", "US", "--from", "2024-06-03", "--to", "2024-06-07")
    assert before.exit_code == 2
    assert f"is before US's configured start {DEMO_START}" in before.output
    plan = run("plan", "--exchange", "US", "--from", "2026-11-16", "--to", "2026-11-20")
    assert plan.exit_code == 0, plan.output
    assert plan.stderr.splitlines()[0] == LINE
    # The demo's simulator answered /user with the demo's token.
    assert fields(plan.stdout)["quota"].startswith("100,000 calls left today")

    doctor = run("doctor")
    assert doctor.exit_code == 0, doctor.output
    assert doctor.stderr.splitlines()[0] == LINE
    found = verdicts(doctor.stdout)
    assert found["token"] == "OK" and found["api"] == "OK" and found["dagster home"] == "OK"
    assert "FAIL" not in found.values()
    assert f"valid: US from {DEMO_START}, LSE from {DEMO_START}, XETRA from {DEMO_START}" \
        in doctor.stdout
    assert "the demo's simulator token (public" in doctor.stdout
    assert SIM_TOKEN not in doctor.output


def test_explicit_environment_wins_by_group(demo_folder: Path,
                                            monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EOD_EXCHANGES", "US:2026-01-02")
    doctor = run("doctor")
    assert doctor.stderr.splitlines()[0] == (
        "using the demo's settings from .eod_pipeline/demo.json (EODHD_API_TOKEN, "
        "EODHD_BASE_URL); your EOD_EXCHANGES win over the rest")
    assert "valid: US from 2026-01-02;" in doctor.stdout  # not the demo's start date

    # A real token is never sent to the demo's simulator: the API pair goes as one.
    monkeypatch.setenv("EODHD_API_TOKEN", "users-real-token-7a8b")
    both = run("doctor")
    assert both.stderr.splitlines()[0] == (
        "not using the demo's settings from .eod_pipeline/demo.json: your "
        "EODHD_API_TOKEN, EOD_EXCHANGES win")
    assert "reachable at https://eodhd.com/api" not in both.stdout
    assert "EODHD_API_TOKEN is set (value not shown)" in both.stdout
    assert "users-real-token-7a8b" not in both.output


def test_doctor_in_demo_mode_does_not_fail_when_the_simulator_is_down(
        demo_folder: Path, simulator: SimulatorServer):
    simulator.stop()  # the demo was stopped: its simulator is gone
    doctor = run("doctor")
    assert doctor.exit_code == 0, doctor.output
    found = verdicts(doctor.stdout)
    assert found["token"] == "OK" and found["api"] == "WARN"
    assert "it runs while `eod-pipeline demo` does" in doctor.stdout


def test_without_a_demo_doctor_still_fails_on_the_missing_token(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse_url: str):
    clear_settings(monkeypatch)
    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    monkeypatch.chdir(tmp_path)
    doctor = run("doctor")
    assert doctor.exit_code == 1
    assert verdicts(doctor.stdout)["token"] == "FAIL"
    assert "demo" not in doctor.stderr


def test_a_damaged_demo_file_is_named_with_the_fix(demo_folder: Path):
    (demo_folder / ".eod_pipeline" / "demo.json").write_text("{not json")
    result = run("status")
    assert result.exit_code == 2
    assert "demo.json: not a settings file the demo wrote" in result.output
    assert "run `eod-pipeline demo` again to rewrite it" in result.output


def test_eod_home_elsewhere_finds_the_demo_there(demo_folder: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)  # not the demo's folder: no demo settings here ...
    assert "demo" not in run("status").stderr
    monkeypatch.setenv("EOD_HOME", str(demo_folder / ".eod_pipeline"))  # ... unless named
    result = run("status")
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("using the demo's settings from ")
    assert os.environ.get("EOD_EXCHANGES") is None
