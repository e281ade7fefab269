"""The coverage picture is reachable from the UI: the `coverage_report` asset draws it and
links it in its metadata, holes marked."""

import psycopg


def test_coverage_report_draws_a_hole_made_on_purpose(harness, tmp_path, monkeypatch):
    monkeypatch.setenv("EOD_HOME", str(tmp_path))
    harness.load_reference("US")
    assert harness.backfill("US", "2026-11-02", "2026-11-20").success
    with psycopg.connect(harness.warehouse_url) as conn:
        # Never fetched and not stored: a hole.
        conn.execute("DELETE FROM eod.fetch_log WHERE exchange = 'US' AND symbol = 'BRK-B'")
        conn.execute("DELETE FROM eod.prices WHERE exchange = 'US' AND symbol = 'BRK-B' "
                     "AND date = '2026-11-10'")
    result = harness.materialize("coverage_report")
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    path = tmp_path / "reports" / "coverage.html"
    assert metadata["coverage_picture"].value == str(path)
    assert metadata["hole_rows"].value == 1
    assert "| US |" in metadata["summary"].value
    page = path.read_text()
    assert "<svg" in page and "BRK-B" in page and "2026-11-10" in page
