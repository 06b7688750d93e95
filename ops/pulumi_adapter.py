"""The few things the offline evaluator needs from Pulumi that its public mock API does not offer.

`ops.evaluate` runs the program with public calls only: ``pulumi.runtime.set_mocks``,
``pulumi.runtime.Mocks`` (with ``MockResourceArgs``/``MockCallArgs``), ``pulumi.runtime.set_all_config``,
``pulumi.runtime.test`` (runs a function under the runtime and waits for every registration and output it
started) and ``pulumi.Output``. This module holds the rest, each relying on Pulumi's implementation
rather than a documented contract; tests/ops/test_pulumi_adapter.py checks every item against the
installed Pulumi, so an upgrade that changes one fails there, by name, rather than as odd evaluations.

1. ``pulumi.runtime.mocks.MockMonitor`` (`RecordingMonitor`). ``set_mocks(monitor=...)`` takes one, but the
   class is not in ``pulumi.runtime.__all__``. Subclassed because ``Mocks.new_resource`` never sees a
   registration's options (parent, protect, retainOnDelete, dependencies, custom), which the policies and
   tests judge. Relied on: the engine-named method ``RegisterResource(request)`` with those request fields,
   its response's ``urn``, and ``get_registered_resources()`` holding the id and state the mocks returned.
2. ``pulumi.runtime.rpc.deserialize_properties``, ``is_rpc_secret`` and ``unwrap_rpc_secret``: a request's
   inputs arrive as a protobuf Struct, in which a secret is a marked map; these turn it into plain values
   and recognise and open the marks, so the record says which inputs were secret.
3. The root stack's ``outputs`` dict (`stack_outputs`): ``pulumi.export`` stores each output there and no
   public call reads them back in-process.
4. Pulumi's runtime state (settings, config, the root stack) lives in context variables (`fresh_runtime`).
   ``set_mocks`` makes a root stack only when the context has none, so each evaluation runs in an empty
   ``contextvars.Context``: it gets its own stack (named for its own stack), and the caller's context is
   left as it was.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any, TypeVar

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

T = TypeVar("T")

STACK_TYPE = "pulumi:pulumi:Stack"


class PulumiChanged(RuntimeError):
    """The installed Pulumi no longer behaves as this module relies on."""

    def __init__(self, internal: str, detail: str) -> None:
        super().__init__(f"pulumi {version('pulumi')} changed {internal} ({detail}); update ops/pulumi_adapter.py")


@dataclass(frozen=True)
class Registration:
    """One ``RegisterResource`` request as the engine would have received it, with the mocks' answer."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: Mapping[str, Any]
    """With secrets opened; `secret_inputs` names the top-level inputs that held one."""
    secret_inputs: frozenset[str]
    id: str
    state: Mapping[str, Any]
    retain_on_delete: bool
    protect: bool
    dependencies: tuple[str, ...]


class RecordingMonitor(MockMonitor):
    """The stock mock monitor, also handing every resource registration (not the stack's) to ``record``."""

    def __init__(self, mocks: pulumi.runtime.Mocks, record: Callable[[Registration], None]) -> None:
        super().__init__(mocks)
        self._record = record

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type == STACK_TYPE:
            return response
        registered = self.get_registered_resources()[response.urn]
        inputs = rpc.deserialize_properties(request.object)
        self._record(
            Registration(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                custom=request.custom,
                inputs=opened(inputs),
                secret_inputs=frozenset(k for k, v in inputs.items() if has_secret(v)),
                id=registered.id,
                state=registered.state,
                retain_on_delete=bool(request.retainOnDelete),
                protect=bool(request.protect),
                dependencies=tuple(request.dependencies),
            )
        )
        return response


def has_secret(value: Any) -> bool:
    """Whether a deserialized value is, or contains, a secret."""
    if rpc.is_rpc_secret(value):
        return True
    if isinstance(value, dict):
        return any(has_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(has_secret(v) for v in value)
    return False


def opened(value: Any) -> Any:
    """A deserialized value with every secret replaced by what it holds."""
    if rpc.is_rpc_secret(value):
        return opened(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: opened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [opened(v) for v in value]
    return value


def stack_outputs() -> dict[str, Any]:
    """What the program has exported so far (values may still be Outputs)."""
    root = pulumi.runtime.get_root_resource()
    outputs = getattr(root, "outputs", None)
    if not isinstance(outputs, dict):
        raise PulumiChanged("the root stack's outputs", f"{type(root).__name__}.outputs is {type(outputs).__name__}")
    return outputs


def fresh_runtime(run: Callable[[], T]) -> T:
    """``run()`` with no Pulumi runtime state from earlier evaluations, leaving the caller's state alone."""
    return contextvars.Context().run(run)
