"""Fetching from EODHD into the warehouse: plans by cost, row checks, streaming, resume.

Independent of Dagster: the assets in `eod_pipeline.defs` drive these pieces.
"""
