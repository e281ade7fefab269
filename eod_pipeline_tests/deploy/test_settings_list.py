"""One list of settings: `eod_pipeline.settings.ALL_SETTINGS`, and every place that hands
settings to a process (the env file, compose's code service, the README's
DockerRunLauncher) agrees with it, so no run container falls back to a default silently.
"""

from __future__ import annotations

import re

import yaml

from eod_pipeline.settings import (
    ALL_SETTINGS,
    DATABASE_URL_ENV,
    EODHD_TOKEN_ENV,
    container_settings,
    env_file_text,
)
from eod_pipeline_tests.deploy import files

ENV_EXAMPLE = files.ROOT / "deploy" / "eod-pipeline.env.example"


def test_env_example_is_generated_from_the_settings_model() -> None:
    # Regenerate with: python -c "from eod_pipeline.settings import env_file_text as t;
    #   open('deploy/eod-pipeline.env.example', 'w').write(t())"
    assert ENV_EXAMPLE.read_text() == env_file_text()


def test_every_setting_the_code_reads_is_in_the_model() -> None:
    assert files.settings_read() == set(ALL_SETTINGS)


def test_env_example_has_no_token_and_compose_defaults_match_it() -> None:
    values = dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
                  if line and not line.startswith("#"))
    assert values[EODHD_TOKEN_ENV] == ""
    raw = files.environment(files.compose_raw()["services"]["code"])
    for name in container_settings():
        if name in (EODHD_TOKEN_ENV, DATABASE_URL_ENV):
            continue
        assert raw[name] == f"${{{name}:-{values[name]}}}", name


def test_readme_docker_run_launcher_forwards_every_setting() -> None:
    text = files.README.read_text()
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S)
                 if "DockerRunLauncher" in b)
    env_vars = yaml.safe_load(block)["run_launcher"]["config"]["env_vars"]
    assert set(container_settings()) <= set(env_vars)
