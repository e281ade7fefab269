"""README.md stays in step with the code and the deployment files.

The Quickstart's two commands are what CI and new users run, verbatim; every environment
variable the package or docker compose reads is in the configuration reference.
"""

from __future__ import annotations

import re

from eod_pipeline_tests.deploy import files

QUICKSTART = (
    "    pip install -e . && eod-pipeline demo\n",
    "    pip install -e '.[dev]' && pytest\n",
)


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_quickstart_commands_are_verbatim() -> None:
    quickstart = _section(files.README.read_text(), "Quickstart")
    for command in QUICKSTART:
        assert command in quickstart, f"Quickstart lost {command.strip()!r}"
    assert quickstart.index(QUICKSTART[0]) < quickstart.index(QUICKSTART[1])


def test_every_setting_is_documented() -> None:
    reference = _section(files.README.read_text(), "Configuration reference")
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", reference))
    compose_vars = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", files.COMPOSE_FILE.read_text()))
    missing = sorted((files.settings_read() | compose_vars) - documented)
    assert not missing, f"README's configuration reference lacks {missing}"
