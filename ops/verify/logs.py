"""Log group checks: the executor's and the agent runtime's groups exist and keep logs as configured."""

from __future__ import annotations

from collections.abc import Callable

from ops.verify.context import CheckList, Context, Result

CHECKS = CheckList()
check = CHECKS.add


def log_group_check(label: str, name: Callable[[Context], str], missing: str = "") -> None:
    def run(ctx: Context) -> Result:
        group_name = name(ctx)
        found = [
            g
            for g in ctx.pages("logs", "describe_log_groups", "logGroups", logGroupNamePrefix=group_name)
            if g.get("logGroupName") == group_name
        ]
        if not found:
            return False, f"{group_name} does not exist{missing}"
        days = found[0].get("retentionInDays")
        expected = ctx.settings.log_retention_days
        if days != expected:
            shown = f"{days} days" if days else "never expires"
            return False, f"{group_name} retention {shown}, expected {expected} (logRetentionDays)"
        return True, f"{group_name} keeps {days} days"

    check(label)(run)


log_group_check("Executor log group", lambda ctx: ctx.outputs["executorLogGroup"])
# AgentCore owns its runtime's log groups and creates them at its first write; `pulumi up` creates the live
# endpoint's group ahead of that (if missing) and sets its retention. So after a deploy the group exists:
# missing means the retention step did not run or the group was deleted since, and AgentCore would re-create
# it without retention (kept forever). The DEFAULT endpoint's group is AgentCore's alone and not checked.
log_group_check(
    "Agent log group",
    lambda ctx: ctx.outputs["agentLogGroup"],
    "; AgentCore would create it at the next invocation and keep its logs forever: run `pulumi up` to create "
    "it with logRetentionDays",
)
