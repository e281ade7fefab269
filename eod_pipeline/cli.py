"""The `eod-pipeline` command line: demo, simulator, cost plans, status, health, warehouse.

    eod-pipeline demo                     # offline quickstart on SIMULATED data + Dagster UI
    eod-pipeline simulate --port 8765     # the EODHD simulator in the foreground
    eod-pipeline plan --exchange US --from 2026-01-02 --to 2026-11-20
    eod-pipeline status                   # rows, span and gaps per configured exchange
    eod-pipeline status --symbol AAPL     # one ticker: range, holes, fetches, actions
    eod-pipeline status --html cov.html   # coverage picture per exchange (inline SVG)
    eod-pipeline doctor                   # OK/WARN/FAIL per prerequisite; exit 1 on FAIL
    eod-pipeline db start|stop|url        # the embedded PostgreSQL cluster
    eod-pipeline acknowledge --exchange US --symbol X --from D --to D --reason "halt"

Dagster stays the way to *run* the pipeline (`dagster dev -m eod_pipeline.defs`); these
commands cover what happens around runs: trying it out, deciding what a backfill costs
before paying for it, and seeing what the warehouse holds. Each command lives in
`eod_pipeline/commands/`.
"""

from __future__ import annotations

import click

from eod_pipeline.commands.acknowledge import acknowledge
from eod_pipeline.commands.dagster_storage import dagster_env_command
from eod_pipeline.commands.db import db
from eod_pipeline.commands.demo import demo
from eod_pipeline.commands.doctor import doctor
from eod_pipeline.commands.export import export
from eod_pipeline.commands.plan import plan
from eod_pipeline.commands.simulate import simulate
from eod_pipeline.commands.status import status


@click.group()
def cli() -> None:
    """EODHD end-of-day data into PostgreSQL/TimescaleDB, orchestrated by Dagster.

    Settings come from the environment (EOD_EXCHANGES, EOD_START_DATE, EOD_DATABASE_URL,
    EODHD_API_TOKEN, ...; see README.md). Start with `eod-pipeline demo`: `status`, `plan`
    and `doctor` run in its folder then use the settings it recorded there.
    """


for command in (demo, simulate, plan, status, doctor, db, acknowledge, export):
    cli.add_command(command)
db.add_command(dagster_env_command)


def main() -> None:
    """Console-script entry point (`eod-pipeline`, declared in pyproject.toml)."""
    cli(prog_name="eod-pipeline")


if __name__ == "__main__":  # `python -m eod_pipeline.cli`, how the demo starts its children
    main()
