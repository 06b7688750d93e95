"""The dynamic providers act with the stack's AWS provider's credentials and account, read at run time.

Each test runs the provider in Pulumi's real provider host (tests/dynamic_host.py: ``python -m
pulumi.dynamic``, configured over gRPC with the stack's configuration as the engine sends it) against a
moto server on 127.0.0.1, and looks at the server's side: which roles were assumed with which parameters
(moto's STS record of each AssumeRole request), which access key signed, and in which account the
resources changed. The deployer's own (ambient) credentials are in the environment throughout; moto maps
an assumed role's credentials to the role's account and an IAM user's keys to the user's account, so a
call made with the wrong credentials lands in the wrong account and shows.

What the AWS provider takes is from its configuration reference (pulumi_aws/config/vars.py and
config/outputs.py: ``assumeRoles`` entries with roleArn, sessionName, externalId, duration, tags...;
``accessKey``/``secretKey``; ``sharedCredentialsFiles``; ``allowedAccountIds``; ``endpoints``), and what
AssumeRole carries from STS's API reference (RoleArn, RoleSessionName, ExternalId, DurationSeconds).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from deep_insight_contract.environment import AgentEnv
from deep_insight_contract.target_group import SessionTargetGroupTemplate, target_group_prefix
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.logs.models import logs_backends
from moto.sts.models import sts_backends

from components.log_retention import RetentionProvider
from components.remote_build import ImageBuildProvider
from components.sweeper import SweeperProvider
from ops.offline_aws import ACCOUNT_ID as OFFLINE_ACCOUNT
from tests.dynamic_host import HostError, dynamic_host, secret
from tests.moto_server import executor_network, hold_ecs_tasks, moto_server

REGION = "us-east-1"
AMBIENT = DEFAULT_ACCOUNT_ID  # where moto puts calls signed with the deployer's own (unknown) keys
STACK_ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
DEPLOYER = f"arn:aws:iam::{STACK_ACCOUNT}:role/deployer"
GROUP = "/aws/bedrock-agentcore/runtimes/deep_insight_dev-AbCdEf1234-live"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def env(endpoint: str) -> dict[str, str | None]:
    """The deployer's shell: moto's address, ambient keys, and a default region that is not the stack's."""
    import urllib.request  # noqa: PLC0415

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=10).read()
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "AKIAAMBIENTDEPLOYER0",
        "AWS_SECRET_ACCESS_KEY": "ambient",
        "AWS_DEFAULT_REGION": "eu-west-1",
        **dict.fromkeys(("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE")),
    }


def assumed(account: str) -> list[tuple[str, str, str | None, int]]:
    """What moto recorded of each AssumeRole into ``account``: role, session name, external id, and the
    duration asked for (moto keeps the expiry it computed from it, to the minute here)."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return [
        (r.role_arn, r.session_name, r.external_id, round((r.expiration - now).total_seconds() / 60) * 60)
        for r in sts_backends[account]["aws"].assumed_roles
    ]


def groups(account: str) -> dict[str, Any]:
    return dict(logs_backends[account][REGION].groups)


def retention(account: str = STACK_ACCOUNT) -> dict[str, Any]:
    return {"log_group_name": GROUP, "days": 7, "region": REGION, "account_id": account}


def iam_user_keys(env: dict[str, str | None], account: str, name: str) -> tuple[str, str]:
    """An IAM user of ``account`` and its access key, made through moto's IAM API as an admin of that account."""
    url = env["AWS_ENDPOINT_URL"]
    iam = role_session(url, f"arn:aws:iam::{account}:role/admin").client("iam", endpoint_url=url)
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def last_used_service(account: str, key_id: str) -> str | None:
    used = iam_backends[account]["aws"].access_keys[key_id].last_used
    return used.service if used else None


# --- aws:assumeRoles ---


def test_the_providers_clients_act_as_the_configured_role_chain(env):
    roles = [
        {"roleArn": DEPLOYER, "sessionName": "ci-deploy", "externalId": "deep-insight-ci", "duration": "1h30m"},
        {"roleArn": f"arn:aws:iam::{OTHER_ACCOUNT}:role/stack-admin", "sessionName": "stack"},
    ]
    config = {"aws:region": REGION, "aws:assumeRoles": json.dumps(roles)}
    with dynamic_host(config, env) as host:
        created_id, _ = host.create(RetentionProvider(), retention(OTHER_ACCOUNT))

    assert created_id == GROUP
    assert assumed(STACK_ACCOUNT) == [(DEPLOYER, "ci-deploy", "deep-insight-ci", 5400)]
    assert assumed(OTHER_ACCOUNT) == [(f"arn:aws:iam::{OTHER_ACCOUNT}:role/stack-admin", "stack", None, 3600)]
    assert list(groups(OTHER_ACCOUNT)) == [GROUP]  # made as the last role of the chain
    assert groups(AMBIENT) == {}  # not with the deployer's own keys
    assert groups(STACK_ACCOUNT) == {}


def test_an_account_other_than_the_stacks_is_refused_in_one_line_naming_both(env):
    config = {"aws:region": REGION, "aws:assumeRoles": json.dumps([{"roleArn": DEPLOYER}])}
    with dynamic_host(config, env) as host, pytest.raises(HostError) as refused:
        host.create(RetentionProvider(), retention(OTHER_ACCOUNT))  # the stack's resources are in 222...
    message = str(refused.value)
    assert message == (
        f"log retention: the stack's AWS credentials act in account {STACK_ACCOUNT}, but its resources are in "
        f"account {OTHER_ACCOUNT}; use the credentials of account {OTHER_ACCOUNT} (the stack's aws: settings or "
        "the environment)"
    )
    assert all(groups(a) == {} for a in (AMBIENT, STACK_ACCOUNT, OTHER_ACCOUNT))


def test_allowed_account_ids_refuse_any_other_account(env):
    config = {
        "aws:region": REGION,
        "aws:assumeRoles": json.dumps([{"roleArn": DEPLOYER}]),
        "aws:allowedAccountIds": json.dumps([OTHER_ACCOUNT]),
    }
    with dynamic_host(config, env) as host, pytest.raises(HostError) as refused:
        host.create(RetentionProvider(), retention(STACK_ACCOUNT))
    assert str(refused.value) == (
        f"log retention: the stack's AWS credentials act in account {STACK_ACCOUNT}, but aws:allowedAccountIds "
        f"allows only {OTHER_ACCOUNT}"
    )
    assert groups(STACK_ACCOUNT) == {}


def test_the_image_build_uploads_and_starts_its_build_as_the_role(env, tmp_path):
    """The archive goes to the bucket of the role's account and the build starts in its project there. (moto's
    build succeeds without exporting a digest, so the create then fails, as one line.)"""
    url = env["AWS_ENDPOINT_URL"]
    admin = role_session(url, DEPLOYER)
    admin.client("s3", endpoint_url=url).create_bucket(Bucket="deep-insight-dev-build-sources-abcde")
    repository = admin.client("ecr", endpoint_url=url).create_repository(repositoryName="deep-insight-dev-agent")
    admin.client("codebuild", endpoint_url=url).create_project(
        name="deep-insight-dev-agent-image", source={"type": "S3", "location": "b/k"}, artifacts={"type": "NO_ARTIFACTS"},
        environment={"type": "ARM_CONTAINER", "image": "aws/codebuild/amazonlinux2-aarch64-standard:3.0",
                     "computeType": "BUILD_GENERAL1_SMALL"}, serviceRole=f"arn:aws:iam::{STACK_ACCOUNT}:role/build",
    )  # fmt: skip
    archive = tmp_path / "context.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    props = {
        "region": REGION, "account_id": STACK_ACCOUNT, "project": "deep-insight-dev-agent-image",
        "bucket": "deep-insight-dev-build-sources-abcde", "key": "sources/agent/x.zip", "archive_path": str(archive),
        "archive_sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "repository_url": repository["repository"]["repositoryUri"], "tag": "t", "buildspec": "version: 0.2",
        "environment": "ARM_CONTAINER", "quota": "Concurrently running builds for ARM/Small environment",
    }  # fmt: skip
    config = {"aws:region": REGION, "aws:assumeRoles": json.dumps([{"roleArn": DEPLOYER, "sessionName": "ci"}])}
    with (
        dynamic_host(config, env) as host,
        pytest.raises(HostError, match=r"^CodeBuild build .* exported no IMAGE_DIGEST"),
    ):
        host.create(ImageBuildProvider(), props)

    assert (DEPLOYER, "ci", None, 3600) in assumed(STACK_ACCOUNT)
    s3 = admin.client("s3", endpoint_url=url)
    assert s3.get_object(Bucket=props["bucket"], Key=props["key"])["Body"].read() == archive.read_bytes()
    codebuild = admin.client("codebuild", endpoint_url=url)
    assert len(codebuild.list_builds_for_project(projectName=props["project"])["ids"]) == 1


def role_session(url: str | None, role_arn: str) -> boto3.Session:
    """A session of ``role_arn``'s account for the test's own setup (assumed with made-up keys)."""
    ambient = boto3.Session("AKIAADMIN", "admin", region_name=REGION)
    role = ambient.client("sts", endpoint_url=url).assume_role(RoleArn=role_arn, RoleSessionName="test-setup")
    given = role["Credentials"]
    return boto3.Session(given["AccessKeyId"], given["SecretAccessKey"], given["SessionToken"], region_name=REGION)


# --- static keys, shared files, web identity, endpoints ---


def test_static_keys_of_the_stack_sign_the_calls_not_the_deployers(env):
    key_id, key_secret = iam_user_keys(env, STACK_ACCOUNT, "deployer")
    # The engine hands secrets over marked as such; the host unwraps them for configure().
    config = {"aws:region": REGION, "aws:accessKey": key_id, "aws:secretKey": secret(key_secret)}
    with dynamic_host(config, env) as host:
        host.create(RetentionProvider(), retention(STACK_ACCOUNT))
        with pytest.raises(
            HostError, match=f"act in account {STACK_ACCOUNT}, but its resources are in account {AMBIENT}"
        ):
            host.create(RetentionProvider(), retention(AMBIENT))

    assert list(groups(STACK_ACCOUNT)) == [GROUP]
    assert last_used_service(STACK_ACCOUNT, key_id) == "logs"
    assert groups(AMBIENT) == {}


def test_a_teammates_destroy_uses_the_profile_configured_now_not_one_in_state(env, tmp_path):
    """State written by the old program carries ``profile: alice``; the teammate configures their own."""
    hold_ecs_tasks(env["AWS_ENDPOINT_URL"] or "")
    key_id, key_secret = iam_user_keys(env, STACK_ACCOUNT, "bob")
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[bob]\naws_access_key_id = {key_id}\naws_secret_access_key = {key_secret}\n")
    stack = boto3.Session(key_id, key_secret, region_name=REGION)
    network = executor_network(
        stack.client("ec2", endpoint_url=env["AWS_ENDPOINT_URL"]),
        stack.client("ecs", endpoint_url=env["AWS_ENDPOINT_URL"]),
        stack.client("elbv2", endpoint_url=env["AWS_ENDPOINT_URL"]),
        cluster_name="deep-insight-dev-executor",
        family="deep-insight-dev-executor",
    )
    ecs = stack.client("ecs", endpoint_url=env["AWS_ENDPOINT_URL"])
    ecs.run_task(
        cluster=network.cluster_arn, taskDefinition=network.task_definition_arn, launchType="FARGATE",
        networkConfiguration={"awsvpcConfiguration": {"subnets": list(network.subnet_ids),
                                                      "securityGroups": [network.security_group_id]}},
    )  # fmt: skip
    props = {"environment": sweeper_environment(network), "profile": "alice", "account_id": STACK_ACCOUNT}
    config = {"aws:region": REGION, "aws:profile": "bob", "aws:sharedCredentialsFiles": json.dumps([str(credentials)])}

    with dynamic_host(config, env) as host:
        host.delete(SweeperProvider(), "sessions-of-dev", props)

    (task,) = ecs.describe_tasks(
        cluster=network.cluster_arn, tasks=ecs.list_tasks(cluster=network.cluster_arn)["taskArns"]
    )["tasks"]
    assert task["lastStatus"] == "STOPPED"
    assert last_used_service(STACK_ACCOUNT, key_id) in ("ecs", "elasticloadbalancing")


def test_a_web_identity_token_file_is_exchanged_for_the_role(env, tmp_path):
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl\n")
    web = {"roleArn": DEPLOYER, "sessionName": "github-actions", "webIdentityTokenFile": str(token)}
    config = {"aws:region": REGION, "aws:assumeRoleWithWebIdentity": json.dumps(web)}
    with dynamic_host(config, env) as host:
        host.create(RetentionProvider(), retention(STACK_ACCOUNT))
    assert assumed(STACK_ACCOUNT) == [(DEPLOYER, "github-actions", None, 3600)]
    assert list(groups(STACK_ACCOUNT)) == [GROUP]


def test_endpoints_of_the_stack_reach_the_services(env):
    """No AWS_ENDPOINT_URL: only aws:endpoints (the ``cloudwatchlogs`` alias for Logs) leads to moto."""
    key_id, key_secret = iam_user_keys(env, STACK_ACCOUNT, "deployer")
    url = env["AWS_ENDPOINT_URL"]
    config = {
        "aws:region": REGION,
        "aws:accessKey": key_id,
        "aws:secretKey": key_secret,
        "aws:endpoints": json.dumps([{"sts": url}, {"cloudwatchlogs": url}]),
    }
    with dynamic_host(config, {**env, "AWS_ENDPOINT_URL": None}) as host:
        host.create(RetentionProvider(), retention(STACK_ACCOUNT))
    assert list(groups(STACK_ACCOUNT)) == [GROUP]


def test_a_missing_profile_is_one_line(env):
    config = {"aws:region": REGION, "aws:profile": "nobody-has-this"}
    with dynamic_host(config, env) as host, pytest.raises(HostError) as refused:
        host.create(RetentionProvider(), retention(STACK_ACCOUNT))
    assert str(refused.value) == (
        "log retention: the stack's AWS credentials cannot be used: The config profile (nobody-has-this) could not "
        "be found"
    )


def test_no_credentials_at_all_is_one_line(env, tmp_path):
    nothing = {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_EC2_METADATA_DISABLED": "true"}
    files = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none")}
    with dynamic_host({"aws:region": REGION}, {**env, **nothing, **files}) as host, pytest.raises(HostError) as refused:
        host.create(RetentionProvider(), retention(STACK_ACCOUNT))
    assert str(refused.value) == (
        "log retention: no AWS credentials found (aws:profile, aws:accessKey, aws:assumeRoles... in the stack file, "
        "or the environment, as the AWS provider reads them)"
    )


def sweeper_environment(network: Any) -> dict[str, str]:
    """The sweeper's state as the program declares it (SPEC §7's agent environment) for ``network``."""
    return {
        AgentEnv.AWS_REGION: REGION,
        AgentEnv.STACK: "dev",
        AgentEnv.ARTIFACT_BUCKET: "bucket",
        AgentEnv.CLUSTER_ARN: network.cluster_arn,
        AgentEnv.TASK_DEFINITION_ARN: network.task_definition_arn,
        AgentEnv.EXECUTOR_CONTAINER: "executor",
        AgentEnv.SUBNET_IDS: ",".join(network.subnet_ids),
        AgentEnv.EXECUTOR_SECURITY_GROUP_ID: network.security_group_id,
        AgentEnv.VPC_ID: network.vpc_id,
        AgentEnv.LISTENER_ARN: network.listener_arn,
        AgentEnv.ALB_DNS: network.alb_dns,
        AgentEnv.MAX_SESSIONS: "20",
        AgentEnv.SESSION_TARGET_GROUP: SessionTargetGroupTemplate(name_prefix=target_group_prefix("dev")).to_json(),
        AgentEnv.EXECUTOR_SESSION_TIMEOUT_SECONDS: "3600",
    }


# --- what the program stores: nothing of the credentials, and the providers' code in the clear ---

DYNAMIC = {
    "pulumi-python:dynamic/images:RemoteImageBuild",
    "pulumi-python:dynamic/ecs:SessionSweeper",
    "pulumi-python:dynamic/logs:RuntimeLogRetention",
}


def test_the_state_holds_the_stacks_account_and_nothing_of_its_credentials(evaluate_stack):
    evaluation = evaluate_stack("dev", {"aws:profile": "alice-admin"})
    dynamic = [r for r in evaluation.resources if r.type in DYNAMIC]
    assert {r.type for r in dynamic} == DYNAMIC
    for resource in dynamic:
        stored = {k: v for k, v in resource.inputs.items() if k != "__provider"}
        assert "alice-admin" not in json.dumps(stored), resource.name
        assert stored["account_id"] == OFFLINE_ACCOUNT, resource.name  # the account aws.get_caller_identity gave
        # pulumi/pulumi#15864: the pickled provider is a secret only if it captured one (serialize_as_secret_always).
        assert "__provider" in resource.inputs
        assert "__provider" not in resource.secret_inputs, resource.name
