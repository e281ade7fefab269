"""eod-pipeline: EODHD end-of-day data into TimescaleDB, orchestrated by Dagster."""
