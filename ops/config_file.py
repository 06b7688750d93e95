"""Reading config files the way the Pulumi CLI does, for the offline evaluator (``plan``).

The CLI merges the project file's ``config:`` (defaults for every stack) under the stack file's, and
hands a program each value as text. These helpers cover what a new user gets wrong: no stack file or
no program where ``-C`` points, keys left at the top level of a stack file, and project-level config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


class ConfigFileError(ValueError):
    """A config file is unreadable (missing, not YAML, no config map) or the project dir has no program."""


def config_text(value: Any) -> str:
    # The Pulumi CLI hands every config value to the program as a string: scalars as YAML wrote them
    # (booleans lower-case), lists and maps as JSON.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigFileError(f"{path.name} is not valid YAML: {error}") from None


def existing_stacks(project_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def _missing(what: str, project_dir: Path) -> ConfigFileError:
    stacks = existing_stacks(project_dir)
    listed = f"stacks there: {', '.join(stacks)}" if stacks else "no Pulumi.<stack>.yaml there"
    return ConfigFileError(f"{what} not found in {project_dir} ({listed}); pass -C <project dir> or another --stack")


def check_program(project_dir: Path) -> None:
    """The project directory must hold the program (``__main__.py``), as ``pulumi -C`` needs."""
    if not (project_dir / "__main__.py").is_file():
        raise _missing("__main__.py", project_dir)


def project_defaults(project_dir: Path, project: str) -> dict[str, str]:
    """The project file's ``config:``: ``key: value``, or ``key: {default: ...}`` / ``{value: ...}``."""
    path = project_dir / "Pulumi.yaml"
    if not path.is_file():
        return {}
    document = _read_yaml(path)
    config = document.get("config", {}) if isinstance(document, dict) else {}
    if not isinstance(config, dict):
        raise ConfigFileError(f"{path.name}: 'config:' is not a map")
    values: dict[str, str] = {}
    for name, entry in config.items():
        full_key = name if ":" in name else f"{project}:{name}"
        if isinstance(entry, dict) and ({"default", "value", "type", "description", "secret"} & set(entry)):
            found = entry.get("value", entry.get("default"))
            if found is not None:
                values[full_key] = config_text(found)
        elif entry is not None:
            values[full_key] = config_text(entry)
    return values


def stack_values(stack: str, project_dir: Path, project: str, *, defaults: bool = False) -> dict[str, str]:
    """The stack file's ``config:`` as the program gets it (project keys namespaced).

    A stack file without ``config:`` is an error unless the project file gives defaults (``defaults``)
    and nothing was left at the top level by mistake.
    """
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        raise _missing(path.name, project_dir)
    document = _read_yaml(path)
    if not isinstance(document, dict):
        raise ConfigFileError(f"{path.name} has no 'config:' map")
    stray = [k for k in document if isinstance(k, str) and ":" in k]
    if "config" not in document and (stray or not defaults):
        hint = f" ({', '.join(stray[:3])} are at the top level)" if stray else ""
        raise ConfigFileError(
            f"{path.name} has no top-level 'config:' map{hint}; put the settings under config:, "
            "as `pulumi config set` writes them"
        )
    config = document.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigFileError(f"{path.name} has no 'config:' map")
    # Keys without a namespace belong to the project, as in `pulumi config set key value`.
    return {(k if ":" in k else f"{project}:{k}"): config_text(v) for k, v in config.items()}
