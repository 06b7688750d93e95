"""Run the real Pulumi program offline, under Pulumi's mock runtime, and record what it declares.

This is the one set of mocks in the project: the tests use it, and so does ``deep-insight plan``.
No Pulumi CLI, no engine, no AWS credentials: `evaluate` loads ``Pulumi.<stack>.yaml`` the way the CLI
hands config to a program, answers the few invokes the program makes (AZ lookup, S3 prefix list) with
realistic data (`ops.offline_aws`), runs ``__main__.py`` in-process and returns every registered resource
with its inputs and options, the stack outputs, and any warning or configuration error. What it needs of
Pulumi beyond the public mock API is in `ops.pulumi_adapter`.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import json
import logging
import os
import runpy
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_overloads

import pulumi

from components.settings_schema import PROJECT, REGION_KEY
from ops.config_file import check_program, project_defaults, stack_values
from ops.offline_aws import (
    ACCOUNT_ID,
    REGION_ZONES,
    OfflineAws,
    UnansweredInvoke,
    offline_zones,
    partition_of,
)
from ops.project import PROJECT_DIR
from ops.pulumi_adapter import RecordingMonitor, Registration, fresh_runtime, stack_outputs

# With the offline AWS answers, which callers know as ops.evaluate's.
__all__ = [
    "ACCOUNT_ID",
    "PROJECT_DIR",
    "REGION_ZONES",
    "Declared",
    "Evaluation",
    "UnansweredInvoke",
    "evaluate",
    "is_taggable",
    "load_stack_config",
    "offline_zones",
    "partition_of",
]


@dataclass(frozen=True)
class Declared:
    """One resource the program registered, as the engine would have received it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: Mapping[str, Any]
    state: Mapping[str, Any]
    id: str
    retain_on_delete: bool
    protect: bool
    dependencies: tuple[str, ...]
    secret_inputs: frozenset[str] = frozenset()
    """Top-level input names whose value (or part of it) the program marked secret."""


@dataclass
class Evaluation:
    stack: str
    config: Mapping[str, str]
    resources: list[Declared] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    def of_type(self, type_token: str) -> list[Declared]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str, type_token: str | None = None) -> Declared:
        """The one resource of that name (and type: Pulumi names are unique per type only)."""
        matches = [r for r in self.resources if r.name == name and type_token in (None, r.type)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r} of type {type_token or 'any'}")
        return matches[0]

    def by_urn(self, urn: str) -> Declared:
        return next(r for r in self.resources if r.urn == urn)

    def children_of(self, parent: Declared) -> list[Declared]:
        return [r for r in self.resources if r.parent == parent.urn]

    def id_of(self, name: str, type_token: str | None = None) -> str:
        return self.named(name, type_token).id


def load_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> dict[str, str]:
    """The config a program of ``stack`` gets: the project file's defaults, then the stack file's values."""
    defaults = project_defaults(project_dir, PROJECT)
    return {**defaults, **stack_values(stack, project_dir, PROJECT, defaults=bool(defaults))}


class _WarningLog(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.WARNING)
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self._sink.append(record.getMessage())


def _ensure_event_loop() -> None:
    """Pulumi's runtime runs on the thread's current event loop; code that ran ``asyncio.run`` before
    (a test, a CLI command) leaves none behind."""
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


def _program_path(project_dir: Path) -> str:
    # The Pulumi CLI runs the program with its directory on sys.path (for `import components`).
    if str(project_dir) not in sys.path:
        sys.path.insert(0, str(project_dir))
    return str(project_dir / "__main__.py")


def evaluate(
    stack: str,
    overrides: Mapping[str, str | None] | None = None,
    *,
    config: Mapping[str, str] | None = None,
    project_dir: Path = PROJECT_DIR,
) -> Evaluation:
    """Evaluate the program for ``stack``.

    ``config`` replaces the stack file's config; ``overrides`` then sets (or, with None, removes) keys.
    A configuration error is returned in ``Evaluation.error`` (the text the CLI would print); any other
    exception propagates.
    """
    _ensure_event_loop()
    check_program(project_dir)
    raw = dict(config) if config is not None else load_stack_config(stack, project_dir)
    for k, v in (overrides or {}).items():
        if v is None:
            raw.pop(k, None)
        else:
            raw[k] = v
    evaluation = Evaluation(stack=stack, config=raw)
    # Importing pulumi_aws builds a few hundred thousand long-lived objects; the cyclic collector's
    # repeated passes over them while that happens cost about a third of a second. Nothing it would
    # free is made here in quantity, and it runs again afterwards.
    enabled = gc.isenabled()
    gc.disable()
    try:
        fresh_runtime(lambda: _run_program(evaluation, project_dir))
    finally:
        if enabled:
            gc.enable()
    return evaluation


def _declared(registration: Registration) -> Declared:
    return Declared(**{f.name: getattr(registration, f.name) for f in fields(Declared)})


def _run_program(evaluation: Evaluation, project_dir: Path) -> None:
    """Run ``__main__.py`` under the mocks, recording into ``evaluation``."""
    raw = dict(evaluation.config)
    logger = logging.getLogger(f"deep-insight.evaluate.{evaluation.stack}")
    logger.propagate = False
    handler = _WarningLog(evaluation.warnings)
    logger.addHandler(handler)
    mocks = OfflineAws(raw.get(REGION_KEY, ""), raw, evaluation.invokes)
    if mocks.warning:
        evaluation.warnings.append(mocks.warning)
    monitor = RecordingMonitor(mocks, lambda registration: evaluation.resources.append(_declared(registration)))
    program = _program_path(project_dir)
    outputs: dict[str, Any] = {}

    @pulumi.runtime.test
    def run() -> pulumi.Output[None]:
        runpy.run_path(program, run_name="__main__")
        return pulumi.Output.from_input(stack_outputs()).apply(outputs.update)

    saved_config_env = os.environ.get("PULUMI_CONFIG")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pulumi.runtime.set_mocks(
                mocks, project=PROJECT, stack=evaluation.stack, preview=False, logger=logger, monitor=monitor
            )
            pulumi.runtime.set_all_config(raw)
            # The engine also hands a program all its config as JSON in PULUMI_CONFIG; the program lists
            # the keys that are set from there (components.settings.pulumi_config).
            os.environ["PULUMI_CONFIG"] = json.dumps(raw)
            try:
                run()
            except pulumi.RunError as error:
                evaluation.error = str(error)
            else:
                evaluation.outputs = outputs
        # Python warnings raised from the project's own code (not from inside installed packages,
        # such as pulumi-aws deprecating one of its modules at import time).
        evaluation.warnings.extend(
            f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
            for w in caught
            if "site-packages" not in w.filename
        )
    finally:
        logger.removeHandler(handler)
        if saved_config_env is None:
            os.environ.pop("PULUMI_CONFIG", None)
        else:
            os.environ["PULUMI_CONFIG"] = saved_config_env


def is_taggable(type_token: str) -> bool:
    """Whether an AWS resource type accepts ``tags`` (asked of the pulumi-aws class's constructor)."""
    package, module_path, class_name = type_token.split(":")
    if package != "aws":
        return False
    module_name = module_path.split("/")[0]
    module = importlib.import_module("pulumi_aws" if module_name == "index" else f"pulumi_aws.{module_name}")
    resource_class = getattr(module, class_name)
    # The generated constructor is typed by its overloads (keyword arguments, or one Args object).
    return any("tags" in inspect.signature(overload).parameters for overload in get_overloads(resource_class.__init__))
