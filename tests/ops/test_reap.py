"""`deep-insight reap` removes exactly this stack's old session resources, through the runtime's reaper."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from deep_insight_agent.executor_session import target_group_name
from typer.testing import CliRunner

from components.runtime_contract import SESSION_HEADER, target_group_prefix
from ops.cli import app
from ops.stack import OUTPUT_NAMES

runner = CliRunner()
REGION = "us-east-1"


@pytest.fixture
def stack(aws, tmp_path) -> dict:
    """The executor side of a dev deployment (VPC, ALB + listener, cluster, task definition) in moto."""
    ec2, elbv2, ecs = (boto3.client(s, region_name=REGION) for s in ("ec2", "elbv2", "ecs"))
    vpc = ec2.create_vpc(CidrBlock="10.100.0.0/16")["Vpc"]["VpcId"]
    # moto's awsvpc RunTask needs DNS hostnames on the VPC (SPEC §11).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.100.{i}.0/24", AvailabilityZoneId=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(("use1-az1", "use1-az2"))
    ]
    group = ec2.create_security_group(GroupName="executor", Description="executor", VpcId=vpc)["GroupId"]
    alb = elbv2.create_load_balancer(Name="dev-alb", Subnets=subnets, Scheme="internal", Type="application")
    alb_arn = alb["LoadBalancers"][0]["LoadBalancerArn"]
    listener = elbv2.create_listener(
        LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404", "ContentType": "application/json", "MessageBody": "{}"}}],
    )["Listeners"][0]["ListenerArn"]  # fmt: skip
    cluster = ecs.create_cluster(clusterName="dev-executor")["cluster"]["clusterArn"]
    task_definition = ecs.register_task_definition(
        family="dev-executor", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
        containerDefinitions=[{"name": "executor", "image": "public.ecr.aws/x/y@sha256:" + "a" * 64, "memory": 2048}],
    )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
    outputs = dict.fromkeys(OUTPUT_NAMES, "unused-by-reap")
    outputs.update(
        region=REGION, vpcId=vpc, privateSubnetIds=subnets, securityGroupIds={"executor": group}, listenerArn=listener,
        albArn=alb_arn, albDnsName=alb["LoadBalancers"][0]["DNSName"], clusterArn=cluster,
        executorTaskDefinitionArn=task_definition, executorContainerName="executor", artifactBucket="dev-artifacts",
    )  # fmt: skip
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return {"outputs": outputs, "file": path, "ecs": ecs, "elbv2": elbv2}


def leave_session(stack: dict, stack_name: str, session: str, age: timedelta) -> None:
    """What a crashed runtime leaves: a tagged task, target group and header rule."""
    out, ecs, elbv2 = stack["outputs"], stack["ecs"], stack["elbv2"]
    created = (datetime.now(UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    tags = {"deep-insight:stack": stack_name, "deep-insight:session": session, "deep-insight:created": created}
    group = elbv2.create_target_group(
        Name=target_group_name(target_group_prefix(stack_name), session), Protocol="HTTP", Port=8080,
        VpcId=out["vpcId"], TargetType="ip", Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )["TargetGroups"][0]["TargetGroupArn"]  # fmt: skip
    taken = {r["Priority"] for r in elbv2.describe_rules(ListenerArn=out["listenerArn"])["Rules"]}
    elbv2.create_rule(
        ListenerArn=out["listenerArn"], Priority=next(p for p in range(1, 100) if str(p) not in taken),
        Conditions=[{"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": SESSION_HEADER, "Values": [session]}}],
        Actions=[{"Type": "forward", "TargetGroupArn": group}], Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )  # fmt: skip
    ecs.run_task(
        cluster=out["clusterArn"], taskDefinition=out["executorTaskDefinitionArn"], launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": out["privateSubnetIds"], "securityGroups": [out["securityGroupIds"]["executor"]]}},
        tags=[{"key": k, "value": v} for k, v in tags.items()],
    )  # fmt: skip


def sessions_left(stack: dict) -> dict[str, set[str]]:
    out, ecs, elbv2 = stack["outputs"], stack["ecs"], stack["elbv2"]
    groups = {g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]}
    rules = {
        c["HttpHeaderConfig"]["Values"][0]
        for r in elbv2.describe_rules(ListenerArn=out["listenerArn"])["Rules"]
        for c in r["Conditions"]
        if c["Field"] == "http-header"
    }
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
    leave_session(stack, "dev", "crashed-two-hours-ago-0000000000000", timedelta(hours=2))
    leave_session(stack, "dev", "still-running-for-50-min-000000000000", timedelta(minutes=50))
    leave_session(stack, "prod", "another-stacks-old-session-00000000000", timedelta(hours=5))
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
    leave_session(stack, "dev", "still-running-for-50-min-000000000000", timedelta(minutes=50))
    result = reap(stack, "--older-than", "30")
    assert result.exit_code == 0, result.output
    assert "live sessions may be removed" in result.stdout
    assert sessions_left(stack)["rules"] == set()


def test_nothing_to_reap_says_so(stack):
    result = reap(stack)
    assert result.exit_code == 0, result.output
    assert "No orphans of stack dev older than 1:10:00." in result.stdout


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
