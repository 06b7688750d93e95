"""`deep-insight reap` removes exactly this stack's old session resources, through the runtime's reaper."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from deep_insight_agent.executor_session import target_group_name
from deep_insight_agent.reaper import reap_stack
from typer.testing import CliRunner

import ops.reap
from ops.cli import app
from tests.ops.deployed import deploy, leave_session, shared_session

runner = CliRunner()
REGION = "us-east-1"


@pytest.fixture
def stack(aws, tmp_path) -> dict:
    """A deployed dev stack in moto, and its outputs file."""
    deployed = deploy("dev")
    ecs, elbv2 = (shared_session().client(s, region_name=REGION) for s in ("ecs", "elbv2"))
    return {
        "deployed": deployed,
        "outputs": deployed.outputs,
        "file": deployed.write(tmp_path / "outputs.json"),
        "ecs": ecs,
        "elbv2": elbv2,
    }


def sessions_left(stack: dict) -> dict[str, set[str]]:
    out, ecs, elbv2 = stack["outputs"], stack["ecs"], stack["elbv2"]
    groups = {g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]}
    # A rule matches the routing key, not the id: the session is the rule's tag.
    rule_arns = [
        r["RuleArn"] for r in elbv2.describe_rules(ListenerArn=out["listenerArn"])["Rules"] if not r["IsDefault"]
    ]
    described = elbv2.describe_tags(ResourceArns=rule_arns)["TagDescriptions"] if rule_arns else []
    rules = {t["Value"] for d in described for t in d["Tags"] if t["Key"] == "deep-insight:session"}
    arns = ecs.list_tasks(cluster=out["clusterArn"], desiredStatus="RUNNING")["taskArns"]
    tasks = ecs.describe_tasks(cluster=out["clusterArn"], tasks=arns, include=["TAGS"])["tasks"] if arns else []
    sessions = {t["value"] for task in tasks for t in task.get("tags", []) if t["key"] == "deep-insight:session"}
    return {"target_groups": groups, "rules": rules, "tasks": sessions}


def reap(stack: dict, *args: str):
    return runner.invoke(
        app, ["reap", "--stack", "dev", "--outputs", str(stack["file"]), *args], env={"COLUMNS": "200", "NO_COLOR": "1"}
    )


def test_reaps_only_this_stacks_sessions_older_than_the_session_timeout(stack):
    # dev's executor session timeout is 3600 s: a 50-minute-old session may still be working.
    leave_session(stack["deployed"], "crashed-two-hours-ago-0000000000000", timedelta(hours=2))
    leave_session(stack["deployed"], "still-running-for-50-min-000000000000", timedelta(minutes=50))
    leave_session(stack["deployed"], "another-stacks-old-session-00000000000", timedelta(hours=5), stack="prod")
    result = reap(stack)
    assert result.exit_code == 0, result.output
    assert result.stdout.count("removed listener rule") == 1
    assert result.stdout.count("removed target group") == 1
    assert result.stdout.count("removed task") == 1
    assert "Removed 1 rules, 1 target groups, 1 tasks." in result.stdout
    left = sessions_left(stack)
    assert left["rules"] == {"still-running-for-50-min-000000000000", "another-stacks-old-session-00000000000"}
    assert left["tasks"] == {"still-running-for-50-min-000000000000", "another-stacks-old-session-00000000000"}
    assert target_group_name("di-dev-", "crashed-two-hours-ago-0000000000000") not in left["target_groups"]
    assert len(left["target_groups"]) == 2


def test_older_than_lowers_the_age_with_a_warning(stack):
    leave_session(stack["deployed"], "still-running-for-50-min-000000000000", timedelta(minutes=50))
    result = reap(stack, "--older-than", "30")
    assert result.exit_code == 0, result.output
    assert (
        "warning: --older-than 30 is below the session timeout plus 10 minutes (70): live sessions may be removed"
        in result.stdout
    )
    assert sessions_left(stack)["rules"] == set()


def test_nothing_to_reap_says_so(stack):
    result = reap(stack)
    assert result.exit_code == 0, result.output
    assert "No orphans of stack dev older than 1:10:00." in result.stdout
    assert "warning" not in result.stdout


class RefusingElb:
    """The real elbv2 client, except that DeleteRule is AccessDenied (a caller without the permission)."""

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def delete_rule(self, **kwargs):
        error = {"Code": "AccessDenied", "Message": "not authorized to perform: elasticloadbalancing:DeleteRule"}
        raise ClientError({"Error": error}, "DeleteRule")


def test_a_refused_removal_is_a_red_line_and_exit_1(stack, monkeypatch):
    leave_session(stack["deployed"], "crashed-two-hours-ago-0000000000000", timedelta(hours=2))
    real = ops.reap.aws_client

    def aws_client(service: str, region: str):
        client = real(service, region)
        return RefusingElb(client) if service == "elbv2" else client

    monkeypatch.setattr(ops.reap, "aws_client", aws_client)
    result = reap(stack)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    refused = [line for line in lines if line.startswith("✗ could not remove")]
    assert len(refused) == 2, result.stdout
    assert refused[0].startswith("✗ could not remove listener rule arn:aws:elasticloadbalancing:")
    assert refused[0].endswith(": AccessDenied: not authorized to perform: elasticloadbalancing:DeleteRule")
    # The rule still forwards to the target group, so that deletion is refused too; the task still goes.
    assert refused[1].startswith("✗ could not remove target group arn:aws:elasticloadbalancing:")
    assert ": ResourceInUse: " in refused[1]
    assert "✓ removed task " in result.stdout
    assert "Removed 0 rules, 0 target groups, 1 tasks; 2 could not be removed." in result.stdout
    assert "No orphans" not in result.stdout
    left = sessions_left(stack)
    assert left["rules"] == {"crashed-two-hours-ago-0000000000000"}
    assert left["tasks"] == set()


def test_outputs_problems_are_one_line_errors(stack, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    result = runner.invoke(app, ["reap", "--stack", "dev", "--outputs", str(broken)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {broken} is not JSON")
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({"region": REGION}), encoding="utf-8")
    result = runner.invoke(app, ["reap", "--stack", "dev", "--outputs", str(partial)])
    assert result.exit_code == 2
    assert "lacks the outputs vpcId" in result.stderr
    result = runner.invoke(app, ["reap", "--stack", "dev", "--outputs", str(tmp_path / "absent.json")])
    assert result.exit_code == 2
    assert "cannot read --outputs" in result.stderr


def test_without_outputs_file_and_without_pulumi_the_fix_is_named(stack, monkeypatch):
    monkeypatch.setenv("PATH", str(Path(stack["file"]).parent))
    result = runner.invoke(app, ["reap", "--stack", "dev"])
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("error: the Pulumi CLI is not on PATH; pass --outputs FILE")


def test_malformed_outputs_are_one_line_before_any_aws_call(stack, tmp_path):
    outputs = dict(stack["outputs"], securityGroupIds={"agent": "sg-1"}, region=["us-east-1"])
    path = tmp_path / "malformed.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    result = runner.invoke(app, ["reap", "--stack", "dev", "--outputs", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {path} is malformed: region should be a non-empty string")
    assert "securityGroupIds should map agent, alb, executor, endpoints to ids (lacks alb, executor, endpoints)" in line


class StoppingSlowly:
    """The real ECS client, except that a stopped task reports ``DEPROVISIONING`` (its network interface still
    attached) the first ``times`` times DescribeTasks sees it: AWS's STOPPING → DEPROVISIONING → STOPPED."""

    def __init__(self, real, times: int) -> None:
        self._real, self._times, self.seen = real, times, {}

    def __getattr__(self, name: str):
        return getattr(self._real, name)

    def describe_tasks(self, **kwargs):
        described = self._real.describe_tasks(**kwargs)
        for task in described["tasks"]:
            if task["lastStatus"] == "STOPPED":
                self.seen[task["taskArn"]] = self.seen.get(task["taskArn"], 0) + 1
                if self.seen[task["taskArn"]] <= self._times:
                    task["lastStatus"] = "DEPROVISIONING"
        return described


def test_all_removes_every_session_of_the_stack_and_waits_until_its_tasks_stopped(stack, monkeypatch):
    leave_session(stack["deployed"], "crashed-two-hours-ago-0000000000000", timedelta(hours=2))
    leave_session(stack["deployed"], "started-a-minute-ago-00000000000000", timedelta(minutes=1))
    leave_session(stack["deployed"], "another-stacks-old-session-00000000000", timedelta(hours=5), stack="prod")
    real, clients = ops.reap.aws_client, {}

    def aws_client(service: str, region: str):
        clients[service] = real(service, region)
        if service == "ecs":
            clients[service] = StoppingSlowly(clients[service], times=2)
        return clients[service]

    monkeypatch.setattr(ops.reap, "aws_client", aws_client)
    result = reap(stack, "--all")
    assert result.exit_code == 0, result.output
    assert "Removed 2 rules, 2 target groups, 2 tasks." in result.stdout
    assert "warning" not in result.stdout
    left = sessions_left(stack)
    assert left["rules"] == left["tasks"] == {"another-stacks-old-session-00000000000"}
    assert len(left["target_groups"]) == 1
    # It waited: each of dev's stopped tasks was described until it reported STOPPED.
    assert sorted(clients["ecs"].seen.values()) == [3, 3]
    # Nothing of dev is left that holds a network interface.
    out = stack["outputs"]
    arns = stack["ecs"].list_tasks(cluster=out["clusterArn"], desiredStatus="STOPPED")["taskArns"]
    stopped = stack["ecs"].describe_tasks(cluster=out["clusterArn"], tasks=arns, include=["TAGS"])["tasks"]
    assert {t["lastStatus"] for t in stopped} == {"STOPPED"}


def test_all_and_older_than_exclude_each_other(stack):
    result = reap(stack, "--all", "--older-than", "5")
    assert result.exit_code == 2
    assert "give either --all or --older-than" in result.output


def test_the_stack_reaper_is_a_plain_function_and_reports_tasks_that_did_not_stop(stack):
    """What the program's destroy mechanism calls: no CLI, a bounded wait, the laggards named."""
    leave_session(stack["deployed"], "started-a-minute-ago-00000000000000", timedelta(minutes=1))
    settings = ops.reap.ecs_settings("dev", stack["outputs"], ops.reap.read_settings("dev"))
    never = StoppingSlowly(stack["ecs"], times=10**6)
    reaped = reap_stack(settings, ecs=never, elbv2=stack["elbv2"], stop_deadline_seconds=2)
    assert (len(reaped.rules), len(reaped.target_groups), len(reaped.tasks), reaped.failures) == (1, 1, 1, [])
    assert reaped.not_stopped == reaped.tasks
    again = reap_stack(settings, ecs=stack["ecs"], elbv2=stack["elbv2"], stop_deadline_seconds=2)
    assert (again.rules, again.target_groups, again.tasks, again.not_stopped) == ([], [], [], [])
