"""Suite-wide fixtures: a throwaway PostgreSQL cluster and the EODHD simulator.

Both are real servers on loopback; see the modules under `fixtures/`.
"""

pytest_plugins = [
    "eod_pipeline_tests.fixtures.postgres",
    "eod_pipeline_tests.fixtures.simulator",
]
