"""What the command tests share: a clean environment, running the CLI in-process."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner, Result

from eod_pipeline.cli import cli

#: Settings the commands read; cleared so the developer's own never leak in (a demo run in
#: the checkout included: every test runs in a folder of its own).
SETTINGS = ("EOD_CONFIG", "EOD_EXCHANGES", "EOD_START_DATE", "EOD_MAX_FAILED_SHARE",
            "EOD_REFRESH_DELAY_MINUTES", "EOD_DATABASE_URL", "EODHD_API_TOKEN",
            "EODHD_BASE_URL", "EODHD_REQUESTS_PER_MINUTE", "DAGSTER_HOME", "EOD_TIMESCALEDB",
            "EOD_HOME")


def clear_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def verdicts(output: str) -> dict[str, str]:
    """`doctor`'s lines -> {check name: OK/WARN/FAIL}."""
    out = {}
    for line in output.splitlines():
        if m := re.match(r"^(OK|WARN|FAIL)\s+(\S+(?: home)?)\s{2,}", line):
            out[m[2]] = m[1]
    return out


def fields(output: str) -> dict[str, str]:
    """`  name  value` lines (plan, status --symbol) -> {name: value}."""
    out = {}
    for line in output.splitlines():
        if line.startswith("  ") and (m := re.match(r"^  (\S.*?)\s{2,}(.*)$", line)):
            out[m[1]] = m[2]
    return out
