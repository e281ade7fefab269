"""The simulator is a package of its own, off the pipeline's runtime import path.

A deployment imports `eod_pipeline.defs` (code server, run workers) and the CLI; neither
may pull in the simulator's 3k lines, its seeds or its aiohttp server. `eod-pipeline
simulate` and `demo` import it when they run.
"""

from __future__ import annotations

import subprocess
import sys


def _modules_loaded_by(statement: str) -> set[str]:
    code = f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return set(out.split())


def test_definitions_and_cli_do_not_import_the_simulator() -> None:
    loaded = _modules_loaded_by("import eod_pipeline.defs, eod_pipeline.cli")
    assert "eod_pipeline.defs" in loaded
    assert not {m for m in loaded if m.startswith("eodhd_simulator")}


def test_the_simulator_is_importable_on_its_own() -> None:
    loaded = _modules_loaded_by("import eodhd_simulator")
    assert "eodhd_simulator.server" in loaded
