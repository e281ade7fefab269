"""`eod-pipeline acknowledge` records a halt, and the gaps check then lists it as such."""

import datetime as dt

import psycopg
from click.testing import CliRunner

from eod_pipeline.cli import cli


def test_acknowledge_records_the_stretch_and_refuses_a_reversed_one(warehouse_url,
                                                                    monkeypatch):
    monkeypatch.setenv("EOD_DATABASE_URL", warehouse_url)
    runner = CliRunner()
    done = runner.invoke(cli, ["acknowledge", "--exchange", "US", "--symbol", "BRK-B",
                               "--from", "2024-05-24", "--to", "2024-06-07",
                               "--reason", "trading halt"])
    assert done.exit_code == 0, done.output
    assert "acknowledged: US BRK-B 2024-05-24..2024-06-07" in done.output
    reversed_ = runner.invoke(cli, ["acknowledge", "--exchange", "US", "--symbol", "X",
                                    "--from", "2024-06-07", "--to", "2024-05-24",
                                    "--reason", "halt"])
    assert reversed_.exit_code == 2 and "is before --from" in reversed_.output
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute("SELECT exchange, symbol, start_date, end_date, reason "
                            "FROM eod.gap_acknowledgements").fetchall()
    assert rows == [("US", "BRK-B", dt.date(2024, 5, 24), dt.date(2024, 6, 7),
                     "trading halt")]
