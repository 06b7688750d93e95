"""Executor session checks: nothing of the stack outlives the orphan age."""

from __future__ import annotations

from datetime import UTC, datetime

from deep_insight_agent.reaper import created_before, orphan_age, session_resources
from deep_insight_contract.tags import SESSION_TAG, STACK_TAG

from ops.reap import ecs_settings
from ops.verify.context import CheckList, Context, Result, listing

CHECKS = CheckList()
check = CHECKS.add


def short_name(kind: str, arn: str) -> str:
    """A target group's name (…:targetgroup/<name>/<id>); a rule's or task's id (the ARN's last part)."""
    parts = arn.split("/")
    return parts[1] if kind == "target group" and len(parts) > 2 else parts[-1]


@check("Orphaned sessions")
def orphaned_sessions(ctx: Context) -> Result:
    sessions = ecs_settings(ctx.stack, dict(ctx.outputs), ctx.settings)
    age = orphan_age(sessions)
    cutoff = datetime.now(UTC) - age
    found = session_resources(sessions, ecs=ctx.client("ecs"), elbv2=ctx.client("elbv2"))
    ours = {
        kind: {arn: t for arn, t in items.items() if t.get(STACK_TAG) == ctx.stack} for kind, items in found.items()
    }
    stale = {kind: [arn for arn, t in items.items() if created_before(t, cutoff)] for kind, items in ours.items()}
    minutes = int(age.total_seconds() // 60)
    orphans = [
        f"{len(arns)} {kind}{'s' * (len(arns) != 1)} ({listing(short_name(kind, arn) for arn in arns)})"
        for kind, arns in stale.items()
        if arns
    ]
    if orphans:
        return False, (
            f"{listing(orphans)} of stack {ctx.stack} older than {minutes} min; "
            f"remove with `deep-insight reap --stack {ctx.stack}`"
        )
    live = len({t.get(SESSION_TAG) for items in ours.values() for t in items.values()})
    return True, f"nothing of stack {ctx.stack} older than {minutes} min ({live} live session{'s' * (live != 1)})"
