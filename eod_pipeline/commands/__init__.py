"""The `eod-pipeline` subcommands, one module each; `eod_pipeline.cli` assembles them.

Why a package: the commands share argument types, error handling and output helpers
(`common.py`), but each is a self-contained screen of behaviour that is easier to read
and test on its own than inside one long module.
"""
