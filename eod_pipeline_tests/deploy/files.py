"""Readers for the deployment files, shared by the deploy tests.

Small on purpose: compose's variable syntax (`${VAR}`, `${VAR:-default}`,
`${VAR:?message}`, `$$`) and the Dockerfile's instructions are parsed only as far as the
tests need, so the tests can check what a container would actually get without Docker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
#: The docker deployment's instance config (the Dockerfile installs it in DAGSTER_HOME).
DAGSTER_YAML = ROOT / "deploy" / "dagster.yaml"
#: The top-level instance config: what Dagster reads in the checkout as it stands.
TOP_DAGSTER_YAML = ROOT / "dagster.yaml"
LOCAL_DAGSTER_YAML = ROOT / "eod_pipeline" / "templates" / "dagster.local.yaml"
WORKSPACE_YAML = ROOT / "workspace.yaml"
DOCKER_WORKSPACE_YAML = ROOT / "deploy" / "workspace.docker.yaml"
README = ROOT / "README.md"

_VARIABLE = re.compile(
    r"\$\$"
    r"|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


class MissingVariable(LookupError):
    """A `${VAR:?message}` variable is unset: compose refuses to start."""


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """`text` as compose substitutes it from `env` (the shell or an .env file)."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match["name"] or match["bare"]
        value = env.get(name)
        op, arg = match["op"], match["arg"]
        if op == ":-":
            return value if value else arg
        if op == "-":
            return arg if value is None else value
        if op in (":?", "?") and (value is None or (op == ":?" and not value)):
            raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return _VARIABLE.sub(substitute, text)


def interpolate_all(value: Any, env: Mapping[str, str]) -> Any:
    """Interpolate every string inside a parsed compose document."""
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, Mapping):
        return {k: interpolate_all(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_all(v, env) for v in value]
    return value


def compose_raw() -> dict[str, Any]:
    """docker-compose.yml as written (anchors and merge keys resolved, `${}` kept)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def compose(env: Mapping[str, str]) -> dict[str, Any]:
    """docker-compose.yml as compose would see it with `env` in the shell."""
    return interpolate_all(compose_raw(), env)


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's `environment:` as a dict, whichever of the two forms it uses."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        """The JSON array of CMD/ENTRYPOINT/RUN in exec form."""
        return json.loads(self.args)


def dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    return instructions


def dockerfile_env() -> dict[str, str]:
    """Variables set by ENV (`KEY=value ...` form)."""
    env: dict[str, str] = {}
    for ins in dockerfile():
        if ins.keyword == "ENV":
            for pair in re.findall(r"(\w+)=(\S+)", ins.args):
                env[pair[0]] = pair[1]
    return env


_READS = (
    re.compile(r"""(?:environ|env)\.get\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    re.compile(r"""(?:environ|env)\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""),
    re.compile(r"""getenv\(\s*["']([A-Z][A-Z0-9_]*)["']"""),
    # Names kept in constants: ENV_TOKEN: Final[str] = "EODHD_API_TOKEN", X_ENV = "..."
    re.compile(r"""^\s*[A-Z_]*ENV[A-Z_]*(?::[^=]+)?\s*=\s*["']([A-Z][A-Z0-9_]*)["']""",
               re.MULTILINE),
)


def settings_read(package: Path = ROOT / "eod_pipeline") -> set[str]:
    """Environment variables of this project that the code reads (EOD_*, EODHD_*)."""
    names: set[str] = set()
    for path in package.rglob("*.py"):
        text = path.read_text()
        for pattern in _READS:
            names.update(pattern.findall(text))
    return {n for n in names if n.startswith(("EOD_", "EODHD_"))}
