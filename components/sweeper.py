"""The session sweeper: on ``pulumi destroy``, stop this stack's executor sessions before their network goes.

Executor tasks are started by the agent at run time, not by Pulumi. If any still run at destroy, their
ENIs block deleting the executor security group and the private subnets (DependencyViolation), ECS
refuses DeleteCluster while tasks run, and their listener rules and target groups are left behind.

`SessionSweeper` is a Pulumi dynamic resource that does nothing on create and update, and on delete
removes every session resource of the stack: listener rules, target groups and tasks (the agent's own
reaper, any age), then waits, bounded, until the tasks are STOPPED. Its order in the graph does the
rest: it takes the cluster, listener, executor security group and private subnets as inputs, so Pulumi
deletes it before any of them; and the agent runtime depends on it, so the runtime (which starts new
sessions) is deleted before the sweep. It is never replaced (a replacement would delete, i.e. sweep,
live sessions during ``pulumi up``): every change is an in-place update.

The sweep acts with the stack's AWS credentials as configured when ``pulumi destroy`` runs
(`components.stack_aws`), and only in the account the stack was deployed to: a sweep with other credentials
would find nothing to stop and let the destroy fail later on DependencyViolation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.dynamic
from deep_insight_contract.environment import AgentEnv

from components.provider_errors import OneLineError
from components.stack_aws import StackAwsProvider, StackSession

SWEEP_TIMEOUT_SECONDS = 300.0
TARGET_GROUP_DEADLINE_SECONDS = 60.0


def sweep_sessions(settings: Any, *, ecs: Any, elbv2: Any, timeout: float = SWEEP_TIMEOUT_SECONDS) -> Any:
    """Remove every session resource of the stack (``settings``: the agent's `EcsSettings`), any age.

    The agent's own `reap_stack` (returns its `Reaped`): rules, then target groups (retried on
    ResourceInUse), then tasks, by their tags and whatever their age; with ``whole_cluster`` also tasks of
    the stack's cluster that carry no stack tag (the cluster is this stack's alone). Then a bounded wait
    until the tasks are STOPPED, and one more pass for what AWS refused while the tasks were still going.
    """
    from deep_insight_agent.reaper import reap_stack  # noqa: PLC0415 - the provider process imports late

    return reap_stack(
        settings,
        ecs=ecs,
        elbv2=elbv2,
        stop_deadline_seconds=timeout,
        target_group_deadline_seconds=TARGET_GROUP_DEADLINE_SECONDS,
        whole_cluster=True,
    )


class SweepError(OneLineError):
    pass


def clients(session: StackSession) -> tuple[Any, Any]:
    return session.client("ecs"), session.client("elbv2")


class SweeperProvider(StackAwsProvider):
    """create/update: record the stack's session settings; delete: sweep, bounded."""

    acting = "session sweep"

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        return pulumi.dynamic.CreateResult(id_=f"sessions-of-{props['environment'][AgentEnv.STACK]}", outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = {k for k in set(olds) | set(news) if not k.startswith("__") and olds.get(k) != news.get(k)}
        # Never replace: deleting the old sweeper would stop live sessions in the middle of `pulumi up`.
        return pulumi.dynamic.DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.UpdateResult:
        return pulumi.dynamic.UpdateResult(outs=news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        from deep_insight_agent.config import EcsSettings  # noqa: PLC0415 - the provider process imports late

        settings = EcsSettings.from_env(props["environment"])  # exactly what the agent runtime is configured with
        ecs, elbv2 = clients(self.stack_session(settings.region, props.get("account_id")))
        swept = sweep_sessions(settings, ecs=ecs, elbv2=elbv2)
        problems = [f"{f.kind} {f.arn}: {f.code}: {f.message}" for f in swept.failures]
        problems += [f"task {arn} not STOPPED yet" for arn in swept.not_stopped]
        if problems:
            raise SweepError(
                f"{len(problems)} executor session resource(s) of stack {settings.stack} remain after "
                f"{int(SWEEP_TIMEOUT_SECONDS)} s; run `pulumi destroy` again: " + "; ".join(problems)
            )


@dataclass(frozen=True)
class SweeperArgs:
    environment: Mapping[str, pulumi.Input[str]]
    """The agent runtime's environment (SPEC §7): what the sweep needs, and, through its Outputs, the
    dependencies on the cluster, listener, executor security group and private subnets."""
    account_id: str
    """The stack's account: the sweep stops unless the credentials act in it."""


class SessionSweeper(pulumi.dynamic.Resource, module="ecs", name="SessionSweeper"):
    """Type ``pulumi-python:dynamic/ecs:SessionSweeper``. Its inputs are its dependencies: see the module."""

    def __init__(self, name: str, args: SweeperArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        props = {"environment": {str(k): v for k, v in args.environment.items()}, "account_id": args.account_id}
        super().__init__(SweeperProvider(), name, props, opts)


class SessionCleanup(pulumi.ComponentResource):
    """The component around `SessionSweeper` (what `pulumi preview` shows as ``deep-insight:sessions``)."""

    sweeper: SessionSweeper

    def __init__(self, name: str, args: SweeperArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:sessions:SessionCleanup", name, None, opts)
        self.sweeper = SessionSweeper(f"{name}-sweeper", args, pulumi.ResourceOptions(parent=self))
        self.register_outputs({"sweeperId": self.sweeper.id})
