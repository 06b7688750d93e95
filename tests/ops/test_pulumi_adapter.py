"""What ops/pulumi_adapter.py relies on in Pulumi's implementation, checked against the installed Pulumi.

Each item of the adapter's docstring has a check here. When a Pulumi upgrade changes one, the failure
reads "pulumi <version> changed <internal> (...); update ops/pulumi_adapter.py" instead of surfacing as
resources without options, outputs that went missing or one stack's resources inside another's.
The adapter is imported inside the tests, so that when a name it imports is gone the checks of the names,
which do not import it, still run and say which one.
"""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import version
from typing import Any

import pulumi
import pytest
from pulumi.runtime.proto import resource_pb2


def changed(internal: str, detail: str) -> str:
    return f"pulumi {version('pulumi')} changed {internal} ({detail}); update ops/pulumi_adapter.py"


def internal(module: str, name: str) -> Any:
    try:
        value = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        pytest.fail(changed(f"{module}.{name}", f"gone: {error}"))
    return value


def parameters(function: Any) -> list[str]:
    return [p for p in inspect.signature(function).parameters if p != "self"]


# (module, name, the parameters the adapter passes, in order)
FUNCTIONS = [
    ("pulumi.runtime.mocks", "MockMonitor", ["mocks"]),
    ("pulumi.runtime.rpc", "deserialize_properties", ["props_struct"]),
    ("pulumi.runtime.rpc", "is_rpc_secret", ["value"]),
    ("pulumi.runtime.rpc", "unwrap_rpc_secret", ["value"]),
]


@pytest.mark.parametrize(("module", "name", "expected"), FUNCTIONS, ids=[f"{m}.{n}" for m, n, _ in FUNCTIONS])
def test_each_internal_exists_with_the_parameters_used(module, name, expected):
    found = parameters(internal(module, name))
    assert found[: len(expected)] == expected, changed(f"{module}.{name}", f"parameters now {found}")


def test_the_mock_monitor_has_what_the_recording_monitor_overrides_and_reads():
    monitor = internal("pulumi.runtime.mocks", "MockMonitor")
    for method in ("RegisterResource", "get_registered_resources"):
        assert callable(getattr(monitor, method, None)), changed(f"MockMonitor.{method}", "gone")
    fields = getattr(getattr(monitor, "ResourceRegistration", None), "_fields", ())
    assert {"urn", "id", "state"} <= set(fields), changed("MockMonitor.ResourceRegistration", f"fields {fields}")
    assert "monitor" in inspect.signature(pulumi.runtime.set_mocks).parameters, changed("set_mocks", "no monitor=")


def test_a_registration_request_has_the_fields_the_record_reads():
    fields = set(resource_pb2.RegisterResourceRequest.DESCRIPTOR.fields_by_name)
    wanted = {"type", "name", "parent", "custom", "object", "protect", "retainOnDelete", "dependencies"}
    assert wanted <= fields, changed("RegisterResourceRequest", f"lacks {sorted(wanted - fields)}")


class _Echo(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        return f"{args.name}-id", {**args.inputs, "computed": "yes"}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list]:
        return {}, []


def _under_mocks(program: Any, stack: str = "adapter") -> tuple[list, Any]:
    """Run ``program`` in a fresh runtime under a RecordingMonitor: the registrations, and what it returned
    (resolved, if an Output)."""
    from ops.pulumi_adapter import RecordingMonitor, fresh_runtime  # noqa: PLC0415 - see the module docstring

    recorded: list = []

    def run() -> Any:
        mocks = _Echo()
        monitor = RecordingMonitor(mocks, recorded.append)
        pulumi.runtime.set_mocks(mocks, project="adapter", stack=stack, preview=False, monitor=monitor)
        result: list = []
        pulumi.runtime.test(lambda: pulumi.Output.from_input(program()).apply(result.append))()
        return result[0]

    return recorded, fresh_runtime(run)


def test_the_recording_monitor_records_inputs_options_and_secrets():
    def program() -> None:
        parent = pulumi.ComponentResource("test:index:Group", "group")
        other = pulumi.CustomResource(
            "test:index:Thing", "other", {"plain": "b"}, pulumi.ResourceOptions(parent=parent)
        )
        pulumi.CustomResource(
            "test:index:Thing",
            "thing",
            {"plain": "a", "nested": {"key": pulumi.Output.secret("hidden")}},
            pulumi.ResourceOptions(parent=parent, protect=True, retain_on_delete=True, depends_on=[other]),
        )

    recorded, _ = _under_mocks(program)
    by_name = {r.name: r for r in recorded}
    assert set(by_name) == {"group", "other", "thing"}, changed(
        "MockMonitor.RegisterResource", f"saw {sorted(by_name)}"
    )
    thing, group, other = by_name["thing"], by_name["group"], by_name["other"]
    where = "MockMonitor.RegisterResource or the registration request"
    assert (thing.type, thing.custom, group.custom) == ("test:index:Thing", True, False), changed(where, "type/custom")
    assert thing.parent == group.urn, changed(where, f"parent {thing.parent!r}")
    assert (thing.protect, thing.retain_on_delete) == (True, True), changed(where, "protect/retainOnDelete")
    assert other.urn in thing.dependencies, changed(where, f"dependencies {thing.dependencies}")
    assert thing.inputs == {"plain": "a", "nested": {"key": "hidden"}}, changed("rpc secrets", f"{thing.inputs}")
    assert thing.secret_inputs == {"nested"}, changed("rpc.is_rpc_secret", f"secret inputs {thing.secret_inputs}")
    assert (thing.id, thing.state.get("computed")) == ("thing-id", "yes"), changed(
        "MockMonitor.get_registered_resources", f"id {thing.id!r}, state {thing.state}"
    )


def test_stack_outputs_are_what_the_program_exported():
    from ops.pulumi_adapter import stack_outputs  # noqa: PLC0415

    def program() -> dict:
        pulumi.export("answer", 42)
        return dict(stack_outputs())

    _, outputs = _under_mocks(program)
    assert outputs == {"answer": 42}, changed("the root stack's outputs", f"read {outputs}")


def test_each_fresh_runtime_has_its_own_root_stack_and_leaves_the_callers_alone():
    from ops.pulumi_adapter import fresh_runtime  # noqa: PLC0415

    before = pulumi.runtime.get_root_resource()
    urns = [_under_mocks(lambda: pulumi.runtime.get_root_resource().urn, stack)[1] for stack in ("one", "two")]
    expected = [f"urn:pulumi:{stack}::adapter::pulumi:pulumi:Stack::adapter-{stack}" for stack in ("one", "two")]
    assert urns == expected, changed("where the runtime keeps its root stack", f"stacks {urns}")
    assert pulumi.runtime.get_root_resource() is before, changed(
        "where the runtime keeps its state", "caller's changed"
    )
    assert fresh_runtime(pulumi.runtime.get_root_resource) is None, changed(
        "the runtime state", "new context has a stack"
    )
