"""`deep-insight verify` against a dev stack deployed into moto (tests/ops/deployed.py), healthy and broken.

Each broken variant departs from the healthy stack in one way, either at creation (`Faults`, for what AWS
fixes at creation or moto cannot change later) or afterwards with boto3 (drift), and must turn exactly
the intended checks ✗ while every other check stays ✓.

What moto 5.2.5 cannot do, and how these tests live with it:
* ``ecs.update_cluster_settings`` is not implemented: Container Insights off is set at creation.
* ``ec2.modify_vpc_endpoint(PrivateDnsEnabled=False)`` answers success but changes nothing: the endpoint
  is created with private DNS off instead. (``RemoveRouteTableIds`` does work.)
* ``bedrock-agentcore-control`` reports READY on the first read after create, and an updated runtime
  stays UPDATING for good (moto has no UPDATING → READY transition): the runtime-update-not-rolled-out variant relies on that.
* ``iam.create_service_linked_role`` names the role differently from AWS: see deployed.py.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import get_type_hints

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from deep_insight_agent.executor_session import target_group_name
from deep_insight_contract.outputs import StackOutputs
from deep_insight_contract.target_group import target_group_prefix
from typer.testing import CliRunner

from ops.cli import app
from ops.verify import runner as verify
from tests.ops.deployed import Deployed, Faults, deploy, leave_session, shared_session

runner = CliRunner()
REGION = "us-east-1"
LINE = re.compile(r"^(?P<mark>[✓✗]) (?P<label>.+?): (?P<reason>.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(autouse=True, scope="module")
def quiet_moto_server() -> Iterator[None]:
    # werkzeug logs each of the ~150 requests a test makes at INFO, for pytest to capture and format.
    server_log = logging.getLogger("werkzeug")
    level = server_log.level
    server_log.setLevel(logging.WARNING)
    yield
    server_log.setLevel(level)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    lines: dict[str, tuple[bool, str]] = field(default_factory=dict)

    def failed(self) -> dict[str, str]:
        return {label: reason for label, (ok, reason) in self.lines.items() if not ok}


def run_verify(*args: str, stack: str = "dev") -> Run:
    result = runner.invoke(app, ["verify", "--stack", stack, *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    stdout = ANSI.sub("", result.stdout)
    lines = {}
    for line in stdout.splitlines():
        match = LINE.match(line)
        if match:
            lines[match["label"]] = (match["mark"] == "✓", match["reason"])
    return Run(result.exit_code, stdout, ANSI.sub("", result.stderr), lines)


def verify_deployed(deployed: Deployed, tmp_path: Path, stack: str = "dev") -> Run:
    return run_verify("--outputs", str(deployed.write(tmp_path / "outputs.json")), stack=stack)


def client(service: str):
    return shared_session().client(service, region_name=REGION)


# --- the healthy stack ---


def test_a_healthy_dev_stack_passes_every_check(aws, tmp_path):
    run = verify_deployed(deploy("dev"), tmp_path)

    assert run.exit_code == 0, run.stdout
    assert len(run.lines) == len(verify.CHECKS) >= 20
    assert run.failed() == {}
    assert list(run.lines) == [c.label for c in verify.CHECKS], "one line per check, in order"
    assert run.stdout.startswith("Verifying stack dev in account 123456789012, us-east-1\n")
    assert run.stdout.rstrip().endswith(f"{len(verify.CHECKS)} of {len(verify.CHECKS)} checks passed")
    # the reasons say what was checked against what the config asks for
    assert run.lines["Subnets"][1].endswith("one each in use1-az1, use1-az2 (AgentCore-supported AZ IDs)")
    assert "ARM64, 1024 CPU / 2048 MiB" in run.lines["Task definition"][1]
    assert run.lines["Executor log group"][1] == "/deep-insight/dev/executor keeps 7 days"
    assert run.lines["Agent log group"][1].endswith("-live keeps 7 days")
    assert "6 available with private DNS in the first AZ's private subnet" in run.lines["Interface endpoints"][1]


def test_a_healthy_prod_stack_passes_every_check(aws, tmp_path):
    """Three listed AZ IDs, a NAT gateway per AZ, 30-day logs: the other branches of the expectations."""
    run = verify_deployed(deploy("prod"), tmp_path, stack="prod")

    assert run.exit_code == 0, run.stdout
    assert run.failed() == {}
    assert run.lines["NAT gateways"][1].startswith("3 available (perAz)")
    assert "use1-az1, use1-az2, use1-az4" in run.lines["Subnets"][1]
    assert run.lines["Executor log group"][1] == "/deep-insight/prod/executor keeps 30 days"
    assert run.lines["Agent log group"][1].endswith("-live keeps 30 days")
    assert run.lines["ALB"][1].endswith("with deletion protection and access logs")


def test_labels_are_unique_and_parseable():
    labels = [c.label for c in verify.CHECKS]
    assert len(set(labels)) == len(labels)
    assert not [label for label in labels if ": " in label]


# --- broken variants: exactly the intended checks fail ---


@dataclass(frozen=True)
class Variant:
    id: str
    expected: dict[str, str]
    """Label of each check that must fail → a phrase its reason must contain."""
    faults: Faults = field(default_factory=Faults)
    drift: Callable[[Deployed], None] | None = None


def revoke_alb_ingress_from_agent(d: Deployed) -> None:
    """No inbound rule on the ALB's group: the agent's calls to the ALB would time out."""
    ec2, alb = client("ec2"), d.outputs["securityGroupIds"]["alb"]
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [alb]}])["SecurityGroupRules"]
    ingress = [r["SecurityGroupRuleId"] for r in rules if not r["IsEgress"]]
    ec2.revoke_security_group_ingress(GroupId=alb, SecurityGroupRuleIds=ingress)


def default_group(d: Deployed) -> str:
    found = client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [d.outputs["vpcId"]]}, {"Name": "group-name", "Values": ["default"]}]
    )
    return found["SecurityGroups"][0]["GroupId"]


def add_nat_gateway(d: Deployed) -> None:
    """Someone adds a NAT gateway by hand to a stack configured without one (dev)."""
    ec2 = client("ec2")
    address = ec2.allocate_address(Domain="vpc")
    ec2.create_nat_gateway(SubnetId=d.outputs["privateSubnetIds"][0], AllocationId=address["AllocationId"])


def delete_all(items: list[dict], id_key: str) -> None:
    """Delete NAT gateways or network interfaces (the id key names which)."""
    ec2 = client("ec2")
    delete = {"NatGatewayId": ec2.delete_nat_gateway, "NetworkInterfaceId": ec2.delete_network_interface}[id_key]
    for item in items:
        delete(**{id_key: item[id_key]})


def repository(d: Deployed, output: str) -> str:
    return d.outputs[output].split("@")[0].split("/", 1)[1]


VARIANTS = [
    Variant(
        "dns-hostnames-off",
        {"VPC DNS": "has DNS hostnames off"},
        drift=lambda d: client("ec2").modify_vpc_attribute(
            VpcId=d.outputs["vpcId"], EnableDnsHostnames={"Value": False}
        ),
    ),
    Variant(
        "private-subnet-in-use1-az6",
        {"Subnets": "is in use1-az6, which AgentCore does not support in us-east-1"},
        faults=Faults(private_zone_ids=("use1-az1", "use1-az6")),
    ),
    Variant(
        "nat-gateway-added",
        {"NAT gateways": "1 NAT gateways, expected 0 (network.natGateways none)"},
        drift=add_nat_gateway,
    ),
    Variant(
        "interface-endpoint-missing",
        {"Interface endpoints": "logs missing"},
        drift=lambda d: client("ec2").delete_vpc_endpoints(VpcEndpointIds=[d.outputs["endpointIds"]["logs"]]),
    ),
    Variant(
        "interface-endpoint-unneeded",
        {"Interface endpoints": "sts is not one the stack needs and bills by the hour"},
        drift=lambda d: client("ec2").create_vpc_endpoint(
            VpcId=d.outputs["vpcId"],
            ServiceName="com.amazonaws.us-east-1.sts",
            VpcEndpointType="Interface",
            SubnetIds=d.outputs["privateSubnetIds"][:1],
        ),
    ),
    Variant(
        "private-dns-off", {"Interface endpoints": "logs has private DNS off"}, faults=Faults(private_dns_off=("logs",))
    ),
    Variant(
        "s3-gateway-off-a-private-route-table",
        {"S3 gateway endpoint": "is not on the route table of"},
        drift=lambda d: client("ec2").modify_vpc_endpoint(
            VpcEndpointId=d.s3_endpoint, RemoveRouteTableIds=[d.private_route_tables[1]]
        ),
    ),
    Variant(
        "alb-open-to-the-internet",
        {
            "Open ingress": "alb group allows tcp/80 from 0.0.0.0/0",
            "Security group rules": "unexpected alb ingress tcp/80 from 0.0.0.0/0",
        },
        drift=lambda d: client("ec2").authorize_security_group_ingress(
            GroupId=d.outputs["securityGroupIds"]["alb"],
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        ),
    ),
    Variant(
        "ipv6-ingress-on-the-default-group",
        {"Open ingress": "default group allows tcp/22 from ::/0"},
        drift=lambda d: client("ec2").authorize_security_group_ingress(
            GroupId=default_group(d),
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}],
        ),
    ),
    Variant(
        "agent-cannot-reach-the-alb",
        {"Security group rules": "missing alb ingress tcp/80 from agent"},
        drift=revoke_alb_ingress_from_agent,
    ),
    Variant(
        "executor-egress-to-the-internet",
        {
            "Executor egress": "executor group allows tcp/443 to 0.0.0.0/0; executor.internetAccess is false",
            "Security group rules": "unexpected executor egress tcp/443 to 0.0.0.0/0",
        },
        drift=lambda d: client("ec2").authorize_security_group_egress(
            GroupId=d.outputs["securityGroupIds"]["executor"],
            IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            ],
        ),
    ),
    Variant(
        "alb-internet-facing",
        {"ALB": "scheme is internet-facing, expected internal"},
        faults=Faults(alb_scheme="internet-facing"),
    ),
    Variant(
        "listener-default-not-404",
        {"ALB listener": "default action is fixed-response 200, expected fixed-response 404"},
        drift=lambda d: client("elbv2").modify_listener(
            ListenerArn=d.outputs["listenerArn"],
            DefaultActions=[
                {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "ContentType": "text/plain"}}
            ],
        ),
    ),
    Variant(
        "container-insights-off",
        {"ECS cluster": "Container Insights disabled, expected enabled"},
        faults=Faults(container_insights="disabled"),
    ),
    Variant(
        "x86-task-definition-when-arm64-configured",
        {"Task definition": "cpu architecture X86_64, expected ARM64 (executor.architecture arm64)"},
        faults=Faults(architecture="X86_64"),
    ),
    Variant(
        "task-definition-deregistered",
        {"Task definition": "status INACTIVE, expected ACTIVE"},
        drift=lambda d: client("ecs").deregister_task_definition(taskDefinition=d.outputs["executorTaskDefinitionArn"]),
    ),
    Variant(
        "executor-image-by-tag",
        {"Executor image": "deep-insight-dev-executor:latest, which is not digest-pinned"},
        faults=Faults(executor_image_tag="latest"),
    ),
    Variant(
        "wrong-log-retention",
        {"Executor log group": "/deep-insight/dev/executor retention 14 days, expected 7 (logRetentionDays)"},
        drift=lambda d: client("logs").put_retention_policy(
            logGroupName=d.outputs["executorLogGroup"], retentionInDays=14
        ),
    ),
    Variant(
        # Not invoked yet and the retention step of `pulumi up` did not run: AgentCore would create the group
        # at its first write, without retention.
        "agent-log-group-not-created",
        {"Agent log group": "-live does not exist; AgentCore would create it at the next invocation"},
        faults=Faults(agent_log_retention=False),
    ),
    Variant(
        "agent-log-group-without-retention",
        {"Agent log group": "-live retention never expires, expected 7 (logRetentionDays)"},
        drift=lambda d: client("logs").delete_retention_policy(logGroupName=d.outputs["agentLogGroup"]),
    ),
    Variant(
        "scan-on-push-off",
        {"Executor repository": "deep-insight-dev-executor has scan on push off"},
        drift=lambda d: client("ecr").put_image_scanning_configuration(
            repositoryName=repository(d, "executorImageUri"), imageScanningConfiguration={"scanOnPush": False}
        ),
    ),
    Variant(
        "immutable-tags",
        {"Agent repository": "deep-insight-dev-agent has IMMUTABLE tags, expected MUTABLE"},
        drift=lambda d: client("ecr").put_image_tag_mutability(
            repositoryName=repository(d, "agentImageUri"), imageTagMutability="IMMUTABLE"
        ),
    ),
    Variant(
        "deployed-digest-absent-from-repository",
        {"Executor repository": "is not in deep-insight-dev-executor (executorImageUri)"},
        drift=lambda d: client("ecr").batch_delete_image(
            repositoryName=repository(d, "executorImageUri"),
            imageIds=[{"imageDigest": d.outputs["executorImageUri"].split("@")[1]}],
        ),
    ),
    Variant(
        "bucket-public-access-block-off",
        {"Bucket public access": "has BlockPublicPolicy, RestrictPublicBuckets off; all four must be on"},
        drift=lambda d: client("s3").put_public_access_block(
            Bucket=d.outputs["artifactBucket"],
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": False,
                "RestrictPublicBuckets": False,
            },
        ),
    ),
    Variant(
        "bucket-policy-removed",
        {"Bucket TLS only": "has no bucket policy"},
        drift=lambda d: client("s3").delete_bucket_policy(Bucket=d.outputs["artifactBucket"]),
    ),
    Variant(
        # AgentCore puts its ENIs where the runtime's subnets are, so they leave the agent subnets too.
        "runtime-in-the-private-subnets",
        {
            "Runtime network": "expected agentSubnetIds",
            "AgentCore ENIs": "no ENI tagged AmazonBedrockAgentCoreManaged=true",
        },
        faults=Faults(runtime_in_private_subnets=True),
    ),
    Variant(
        # An update whose new image is not live yet: moto keeps an updated runtime UPDATING.
        "runtime-update-not-rolled-out",
        {
            "Agent runtime": "status UPDATING, expected READY",
            "Runtime image": "(image not rolled out)",
            "Runtime endpoint": "serves version 1, the runtime is at version 2",
        },
        drift=lambda d: update_runtime_image(d, d.outputs["agentImageUri"].split("@")[0] + "@sha256:" + "0" * 64),
    ),
    Variant(
        "runtime-endpoint-deleted",
        {"Runtime endpoint": "AWS refused GetAgentRuntimeEndpoint: ResourceNotFoundException"},
        drift=lambda d: client("bedrock-agentcore-control").delete_agent_runtime_endpoint(
            agentRuntimeId=d.outputs["agentRuntimeId"], endpointName="live"
        ),
    ),
    Variant(
        "no-service-linked-role",
        {"Service-linked role": "AWSServiceRoleForBedrockAgentCoreNetwork does not exist"},
        faults=Faults(service_linked_role=False),
    ),
    Variant(
        "agentcore-eni-missing-in-one-subnet",
        {"AgentCore ENIs": "no AgentCore ENI in agent subnet(s)"},
        drift=lambda d: delete_all(
            client("ec2").describe_network_interfaces(
                Filters=[
                    {"Name": "tag:AmazonBedrockAgentCoreManaged", "Values": ["true"]},
                    {"Name": "subnet-id", "Values": d.outputs["agentSubnetIds"][:1]},
                ]
            )["NetworkInterfaces"],
            "NetworkInterfaceId",
        ),
    ),
    Variant(
        "no-agentcore-enis",
        {"AgentCore ENIs": "no ENI tagged AmazonBedrockAgentCoreManaged=true in the agent subnets"},
        drift=lambda d: delete_all(
            client("ec2").describe_network_interfaces(
                Filters=[{"Name": "tag:AmazonBedrockAgentCoreManaged", "Values": ["true"]}]
            )["NetworkInterfaces"],
            "NetworkInterfaceId",
        ),
    ),
    Variant(
        "orphaned-target-group",
        {"Orphaned sessions": "1 target group (di-dev-"},
        drift=lambda d: leave_session(d, "crashed-session", timedelta(hours=2), task=False),
    ),
]


def update_runtime_image(d: Deployed, image: str) -> None:
    control = client("bedrock-agentcore-control")
    current = control.get_agent_runtime(agentRuntimeId=d.outputs["agentRuntimeId"])
    control.update_agent_runtime(
        agentRuntimeId=d.outputs["agentRuntimeId"],
        agentRuntimeArtifact={"containerConfiguration": {"containerUri": image}},
        roleArn=current["roleArn"],
        networkConfiguration=current["networkConfiguration"],
    )


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_a_broken_stack_fails_exactly_the_intended_checks(aws, tmp_path, variant: Variant):
    deployed = deploy("dev", variant.faults)
    if variant.drift is not None:
        variant.drift(deployed)

    run = verify_deployed(deployed, tmp_path)

    assert run.exit_code == 1, run.stdout
    assert set(run.failed()) == set(variant.expected), run.stdout
    for label, phrase in variant.expected.items():
        assert phrase in run.failed()[label], f"{label}: {run.failed()[label]}"
    assert len(run.lines) == len(verify.CHECKS), "a failing check must not stop the others"
    failed = len(variant.expected)
    assert f"{len(verify.CHECKS) - failed} of {len(verify.CHECKS)} checks passed" in run.stdout


def test_an_orphaned_session_names_every_leftover_and_the_fix(aws, tmp_path):
    deployed = deploy("dev")
    leave_session(deployed, "crashed-session", timedelta(hours=2))

    run = verify_deployed(deployed, tmp_path)

    assert run.exit_code == 1
    assert list(run.failed()) == ["Orphaned sessions"]
    reason = run.failed()["Orphaned sessions"]
    assert "1 listener rule" in reason
    assert f"1 target group ({target_group_name(target_group_prefix('dev'), 'crashed-session')})" in reason
    assert "1 task (" in reason
    # executor.sessionTimeoutSeconds 3600 plus the reaper's 10-minute margin
    assert "of stack dev older than 70 min; remove with `deep-insight reap --stack dev`" in reason


def test_live_sessions_and_other_stacks_are_not_orphans(aws, tmp_path):
    deployed = deploy("dev")
    leave_session(deployed, "running-now", timedelta(minutes=5))
    leave_session(deployed, "prod-session", timedelta(days=2), stack="prod", task=False)

    run = verify_deployed(deployed, tmp_path)

    assert run.exit_code == 0, run.stdout
    assert run.lines["Orphaned sessions"] == (True, "nothing of stack dev older than 70 min (1 live session)")


# --- bad input: one line on stderr, exit 2, no check runs ---


def assert_one_line_error(run: Run, exit_code: int, phrase: str) -> None:
    assert run.exit_code == exit_code
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith("error: ")
    assert phrase in run.stderr
    assert "Traceback" not in run.stderr


def test_a_missing_outputs_file_is_one_line(tmp_path):
    run = run_verify("--outputs", str(tmp_path / "absent.json"))
    assert_one_line_error(run, 2, "cannot read --outputs")


def test_an_outputs_file_that_is_not_json_is_one_line(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text("region: us-east-1\n", encoding="utf-8")
    assert_one_line_error(run_verify("--outputs", str(path)), 2, "is not JSON")


def test_outputs_missing_names_are_listed(tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"region": REGION, "vpcId": "vpc-1"}), encoding="utf-8")
    assert_one_line_error(
        run_verify("--outputs", str(path)), 2, "lacks the outputs availabilityZoneIds, privateSubnetIds"
    )


def outputs_file(tmp_path: Path, **changes: object) -> str:
    """Outputs of the right shape naming nothing real: enough for what is refused before any AWS call."""
    example = {str: "x", list[str]: ["x"], dict[str, str]: {}}
    outputs: dict[str, object] = {name: example[shape] for name, shape in get_type_hints(StackOutputs).items()}
    outputs |= {"region": REGION, "securityGroupIds": dict.fromkeys(("agent", "alb", "executor", "endpoints"), "sg-1")}
    outputs |= {"endpointIds": {}, **changes}
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    return str(path)


def test_malformed_outputs_are_one_line(tmp_path):
    run = run_verify(
        "--outputs", outputs_file(tmp_path, privateSubnetIds="subnet-1,subnet-2", securityGroupIds={"agent": "sg-1"})
    )
    assert_one_line_error(run, 2, "privateSubnetIds should be a list of strings")
    assert "(lacks alb, executor, endpoints)" in run.stderr


def test_outputs_of_another_region_are_refused(tmp_path):
    run = run_verify("--outputs", outputs_file(tmp_path, region="eu-west-1"))
    assert_one_line_error(run, 2, "the outputs are in eu-west-1 but Pulumi.dev.yaml deploys to us-east-1")


def test_without_the_pulumi_cli_and_without_outputs_it_says_what_to_pass(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi here
    assert_one_line_error(run_verify(), 2, "the Pulumi CLI is not on PATH; pass --outputs FILE")


def test_an_unknown_stack_is_one_line(tmp_path):
    result = runner.invoke(app, ["verify", "--stack", "nope", "--outputs", str(tmp_path / "x.json")])
    run = Run(result.exit_code, result.stdout, ANSI.sub("", result.stderr))
    assert_one_line_error(run, 2, "Pulumi.nope.yaml not found")


def test_without_credentials_it_stops_before_any_check(aws, tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup off this machine
    # the shared session has cached the test credentials: this test needs one that finds none
    monkeypatch.setattr(
        verify, "aws_client", lambda service, region: boto3.session.Session().client(service, region_name=region)
    )

    run = run_verify("--outputs", outputs_file(tmp_path))

    assert_one_line_error(run, 1, "no AWS credentials found")


# --- the runner itself ---


def test_an_unexpected_error_in_one_check_is_a_cross_not_a_crash():
    def broken(ctx):
        raise KeyError("subnets")

    ok, reason = verify.run_check(verify.Check("Broken", broken), ctx=None)  # type: ignore[arg-type]

    assert not ok
    assert reason == "could not check: KeyError: 'subnets'"


def test_missing_credentials_are_not_a_check_failure():
    def no_credentials(ctx):
        raise NoCredentialsError()

    with pytest.raises(NoCredentialsError):
        verify.run_check(verify.Check("Any", no_credentials), ctx=None)  # type: ignore[arg-type]
