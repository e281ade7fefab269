"""The Dagster code location (`dagster dev -m eod_pipeline.defs`).

Settings are read and validated here, when the definitions load: a bad EOD_EXCHANGES
fails the load with a message naming the setting.
"""

from eod_pipeline.defs.definitions import build_definitions

defs = build_definitions()
