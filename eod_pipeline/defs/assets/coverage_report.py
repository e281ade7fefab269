"""The coverage picture as an asset: what the warehouse holds and what is missing, one
click away in the UI.

Materializing `coverage_report` draws every configured exchange (trading days x share of
listed tickers with a row, holes and source gaps marked; `reports/coverage_picture.py`,
the same page as `eod-pipeline status --html`) into one self-contained HTML file under
the project home, and puts its path and a summary table in the materialization's
metadata. It reads the warehouse only, spends no API call, and writes no table rows.
"""

import dagster as dg

from eod_pipeline.config import PipelineConfig
from eod_pipeline.defs.assets.prices import OWNERS, price_asset_key
from eod_pipeline.defs.resources import ClockResource, WarehouseResource
from eod_pipeline.reports.coverage_picture import write_coverage_html
from eod_pipeline.warehouse.embedded import default_home

#: Where the page goes, under EOD_HOME (default ./.eod_pipeline).
REPORT_PATH = ("reports", "coverage.html")


def build_coverage_report(pipeline: PipelineConfig) -> dg.AssetsDefinition:
    codes = [s.code for s in pipeline.exchanges]

    @dg.asset(
        name="coverage_report",
        group_name="eod_quality",
        deps=[price_asset_key(code) for code in codes],
        description=(
            "A picture per exchange of what is stored: each trading day's share of listed "
            "tickers with a row, holes (never fetched) and source gaps marked. Written to "
            "$EOD_HOME/reports/coverage.html (path in the metadata); the same page as "
            "`eod-pipeline status --html`. Reads the warehouse only."),
        owners=OWNERS,
        kinds={"python", "html"},
    )
    def coverage_report(warehouse: WarehouseResource, clock: ClockResource
                        ) -> dg.MaterializeResult:
        path = default_home().joinpath(*REPORT_PATH)
        path.parent.mkdir(parents=True, exist_ok=True)
        with warehouse.connect() as conn:
            coverages = write_coverage_html(conn, codes, path, clock.now())
        rows = ["| exchange | trading days drawn | hole rows | hole stretches | "
                "source-gap stretches |", "| --- | ---: | ---: | ---: | ---: |"]
        rows += [f"| {c.code} | {len(c.days)} | {c.hole_rows} | {len(c.hole_stretches)} | "
                 f"{len(c.answered_stretches)} |" for c in coverages]
        return dg.MaterializeResult(metadata={
            "coverage_picture": dg.MetadataValue.path(str(path)),
            "summary": dg.MetadataValue.md("\n".join(rows)),
            "hole_rows": sum(c.hole_rows for c in coverages),
        })

    return coverage_report
