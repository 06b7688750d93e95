"""IAM documents as data: parliament-clean, no wildcard grants, and scoped exactly as SPEC §9 says."""

from __future__ import annotations

import pytest

from components.iam import (
    ImagePuller,
    access_log_bucket_policy,
    agent_runtime_policy,
    agentcore_baseline_statements,
    agentcore_trust,
    analyst_policy,
    analyst_session_statements,
    document,
    ecs_tasks_trust,
    executor_execution_policy,
    image_pull_statements,
    invoke_runtime_statements,
    listener_rule_arns,
    model_statements,
    run_task_statements,
    session_object_statements,
    session_routing_statements,
    tls_only_bucket_policy,
)
from tests.policy_lint import parliament_findings, statements_by_sid, wildcard_grants

ACCOUNT = "123456789012"
BUCKET = "arn:aws:s3:::deep-insight-dev-artifacts-x"
LISTENER = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/app/alb-lb/50dc6c495c0c9188/f2f7dc8efc522ab2"
CLUSTER = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/deep-insight-dev"
ROLES = (f"arn:aws:iam::{ACCOUNT}:role/executor-execution",)  # the executor task has no task role
REPO = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/deep-insight-dev-agent"
EXECUTOR_REPO = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/deep-insight-dev-executor"
LOG_GROUP = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/deep-insight/dev/executor"


def agent_policy(model_id: str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0") -> dict:
    """The dev agent's policy, assembled as __main__.py does from what each dependency grants."""
    aws = {"partition": "aws", "region": "us-east-1", "account_id": ACCOUNT}
    return agent_runtime_policy(
        image_pull=image_pull_statements(REPO, sid="PullAgentImage", puller=ImagePuller.AGENTCORE),
        baseline=agentcore_baseline_statements(**aws, runtime_name="deep_insight_dev"),
        grants=[
            *model_statements(model_id, **aws),
            *run_task_statements(**aws, cluster_arn=CLUSTER, task_family="deep-insight-dev-executor", role_arns=ROLES),
            *session_routing_statements(listener_arn=LISTENER, stack="dev", target_group_prefix="di-dev-"),
            *session_object_statements(BUCKET),
        ],
    )


DOCUMENTS = {
    "agent runtime": agent_policy(),
    "agent runtime, global profile": agent_policy("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
    "agent runtime, foundation model": agent_policy("anthropic.claude-3-5-haiku-20241022-v1:0"),
    "executor execution": executor_execution_policy(
        image_pull=image_pull_statements(EXECUTOR_REPO, sid="PullExecutorImage", puller=ImagePuller.ECS),
        log_group_arn=LOG_GROUP,
    ),
    "session objects": document(*session_object_statements(BUCKET)),
    "analyst": analyst_policy(
        [
            *invoke_runtime_statements(f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:runtime/r-1", "live"),
            *analyst_session_statements(BUCKET),
        ]
    ),
    "agentcore trust": agentcore_trust(partition="aws", region="us-east-1", account_id=ACCOUNT),
    "ecs tasks trust": ecs_tasks_trust(partition="aws", region="us-east-1", account_id=ACCOUNT),
    "artifacts bucket": tls_only_bucket_policy(BUCKET),
    "access-log bucket": access_log_bucket_policy(
        bucket_arn=BUCKET, account_id=ACCOUNT, elb_account_arn="arn:aws:iam::127311923021:root", prefix="alb"
    ),
}


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_parliament_finds_nothing_medium_or_worse(name):
    assert parliament_findings(DOCUMENTS[name]) == []


@pytest.mark.parametrize("name", list(DOCUMENTS))
def test_no_wildcard_grants(name):
    assert wildcard_grants(DOCUMENTS[name]) == []


def test_the_linters_do_catch_violations():
    broad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Sid": "Ecs", "Effect": "Allow", "Action": ["ecs:*"], "Resource": "*"},
            {"Sid": "Wrong", "Effect": "Allow", "Action": ["bedrock:InvokeModel"], "Resource": [BUCKET]},
        ],
    }
    assert wildcard_grants(broad) == ["All allows '*'", "Ecs allows 'ecs:*'"]
    assert any("Wrong: MEDIUM RESOURCE_MISMATCH" in f for f in parliament_findings(broad))


@pytest.mark.parametrize(
    ("trust", "service", "source_arn"),
    [
        (
            DOCUMENTS["agentcore trust"],
            "bedrock-agentcore.amazonaws.com",
            f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:*",
        ),
        (DOCUMENTS["ecs tasks trust"], "ecs-tasks.amazonaws.com", f"arn:aws:ecs:us-east-1:{ACCOUNT}:*"),
    ],
)
def test_trust_is_one_service_for_this_account_only(trust, service, source_arn):
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": service}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": source_arn},
    }


def test_executor_execution_role_pulls_one_repository_and_writes_one_log_group():
    statements = statements_by_sid(DOCUMENTS["executor execution"])
    assert set(statements) == {"EcrToken", "PullExecutorImage", "WriteExecutorLogs"}
    assert statements["PullExecutorImage"]["Resource"] == [EXECUTOR_REPO]
    assert statements["WriteExecutorLogs"]["Resource"] == [f"{LOG_GROUP}:log-stream:*"]
    assert statements["EcrToken"]["Action"] == ["ecr:GetAuthorizationToken"]


def test_the_agents_object_grant_reaches_only_session_objects():
    statements = statements_by_sid(DOCUMENTS["session objects"])
    assert statements["SessionObjects"]["Resource"] == [f"{BUCKET}/sessions/*"]
    assert statements["SessionObjects"]["Action"] == ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"]
    assert statements["ListSessions"]["Condition"] == {"StringLike": {"s3:prefix": ["sessions/*"]}}
    # The one delete: a plan decision, taken once read (deep_insight_agent.plan_review), in any session.
    assert statements["TakePlanDecisions"]["Action"] == ["s3:DeleteObject"]
    assert statements["TakePlanDecisions"]["Resource"] == [f"{BUCKET}/sessions/*/review/decision.json"]
    assert len(statements) == 3


class TestAgentRuntimePolicy:
    statements = statements_by_sid(DOCUMENTS["agent runtime"])

    def test_aws_baseline(self):
        s = self.statements
        assert s["PullAgentImage"]["Resource"] == [REPO]
        assert s["RuntimeLogEvents"]["Resource"] == [
            f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/bedrock-agentcore/runtimes/*:log-stream:*"
        ]
        assert s["Metrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "bedrock-agentcore"}}
        assert s["WorkloadAccessToken"]["Resource"] == [
            f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:workload-identity-directory/default",
            f"arn:aws:bedrock-agentcore:us-east-1:{ACCOUNT}:workload-identity-directory/default/workload-identity/deep_insight_dev-*",
        ]
        assert set(s["Tracing"]["Action"]) == {
            "xray:PutTraceSegments",
            "xray:PutTelemetryRecords",
            "xray:GetSamplingRules",
            "xray:GetSamplingTargets",
        }

    def test_run_task_only_for_the_executor_family_in_this_cluster(self):
        run = self.statements["RunExecutorTask"]
        assert run["Action"] == ["ecs:RunTask"]
        assert run["Resource"] == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/deep-insight-dev-executor:*"]
        assert run["Condition"] == {"ArnEquals": {"ecs:cluster": CLUSTER}}

    def test_stop_and_describe_only_in_this_cluster(self):
        manage = self.statements["ManageExecutorTasks"]
        assert manage["Action"] == ["ecs:DescribeTasks", "ecs:StopTask"]
        assert manage["Resource"] == [f"arn:aws:ecs:us-east-1:{ACCOUNT}:task/deep-insight-dev/*"]
        assert manage["Condition"] == {"ArnEquals": {"ecs:cluster": CLUSTER}}

    def test_pass_role_only_the_executor_execution_role_to_ecs_tasks(self):
        pass_role = self.statements["PassExecutorRoles"]
        assert pass_role["Resource"] == list(ROLES)
        assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}

    def test_load_balancer_calls_are_tag_and_listener_scoped(self):
        s = self.statements
        target_groups = f"arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/di-dev-*/*"
        rules = listener_rule_arns(LISTENER)
        assert rules.endswith(":listener-rule/app/alb-lb/50dc6c495c0c9188/f2f7dc8efc522ab2/*")
        assert s["CreateSessionTargetGroup"]["Resource"] == [target_groups]
        assert s["CreateSessionTargetGroup"]["Condition"]["StringEquals"] == {
            "aws:RequestTag/deep-insight:stack": "dev"
        }
        assert s["CreateSessionRule"]["Resource"] == [LISTENER]
        for sid in ("ManageSessionTargetGroups", "ManageSessionRules"):
            assert s[sid]["Condition"] == {"StringEquals": {"aws:ResourceTag/deep-insight:stack": "dev"}}
        assert s["ManageSessionRules"]["Resource"] == [rules]
        assert s["DescribeLoadBalancing"]["Resource"] == "*"
        assert all(a.startswith("elasticloadbalancing:Describe") for a in s["DescribeLoadBalancing"]["Action"])

    def test_artifacts_are_session_objects_only(self):
        assert self.statements["SessionObjects"]["Resource"] == [f"{BUCKET}/sessions/*"]

    def test_star_resources_only_where_aws_has_no_resource_level_permissions(self):
        star = {sid for sid, s in self.statements.items() if s["Resource"] == "*"}
        assert star == {
            "EcrToken",
            "Tracing",
            "Metrics",
            "DescribeLogGroups",
            "DescribeLoadBalancing",
            "ListExecutorTasks",
        }

    def test_list_tasks_is_on_star_scoped_to_this_cluster(self):
        # ListTasks naming only a cluster is authorized against "*" (AccessDenied "...ecs:ListTasks on
        # resource: *"); the ecs:cluster condition is what keeps it to this cluster.
        listing = self.statements["ListExecutorTasks"]
        assert (listing["Action"], listing["Resource"]) == (["ecs:ListTasks"], "*")
        assert listing["Condition"] == {"ArnEquals": {"ecs:cluster": CLUSTER}}


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        (
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            {"InvokeModel": ["arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"]},
        ),
        (
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            {
                "InvokeInferenceProfile": [
                    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0"
                ],
                "InvokeModelThroughProfile": [
                    "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0"
                ],
            },
        ),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            {
                "InvokeInferenceProfile": [
                    f"arn:aws:bedrock:us-east-1:{ACCOUNT}:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0"
                ],
                "InvokeModelThroughProfile": [
                    "arn:aws:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
                    "arn:aws:bedrock:::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0",
                ],
            },
        ),
        (
            f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123",
            {
                "InvokeInferenceProfile": [f"arn:aws:bedrock:us-east-1:{ACCOUNT}:application-inference-profile/abc123"],
                "InvokeModelThroughProfile": ["arn:aws:bedrock:*::foundation-model/*"],
            },
        ),
    ],
)
def test_model_access_is_the_configured_model_only(model_id, expected):
    statements = {
        s["Sid"]: s for s in model_statements(model_id, partition="aws", region="us-east-1", account_id=ACCOUNT)
    }
    assert {sid: s["Resource"] for sid, s in statements.items()} == expected
    if "InvokeModelThroughProfile" in statements:
        profile = statements["InvokeInferenceProfile"]["Resource"][0]
        assert statements["InvokeModelThroughProfile"]["Condition"] == {
            "StringEquals": {"bedrock:InferenceProfileArn": profile}
        }


def test_bucket_policies_deny_plain_http_and_deliver_only_alb_logs():
    (deny,) = DOCUMENTS["artifacts bucket"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    statements = statements_by_sid(DOCUMENTS["access-log bucket"])
    assert statements["ElbAccountDelivery"]["Principal"] == {"AWS": "arn:aws:iam::127311923021:root"}
    assert statements["ElbAccountDelivery"]["Resource"] == f"{BUCKET}/alb/AWSLogs/{ACCOUNT}/*"
    assert statements["ElbServiceDelivery"]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_a_statement_id_granted_twice_is_an_error():
    twice = session_object_statements(BUCKET)
    with pytest.raises(
        ValueError,
        match=r"^agent runtime policy: statement ids ListSessions, SessionObjects, TakePlanDecisions appear more than once$",
    ):
        agent_runtime_policy(image_pull=[], baseline=twice, grants=twice)


def test_each_puller_gets_the_ecr_actions_its_service_documents():
    # AmazonECSTaskExecutionRolePolicy's three ECR read actions; AgentCore's runtime guide lists two.
    ecs = statements_by_sid(document(*image_pull_statements(EXECUTOR_REPO, sid="Pull", puller=ImagePuller.ECS)))
    assert ecs["Pull"]["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    agent = statements_by_sid(document(*image_pull_statements(REPO, sid="Pull", puller=ImagePuller.AGENTCORE)))
    assert agent["Pull"]["Action"] == ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    assert image_pull_statements(None, sid="Pull", puller=ImagePuller.ECS) == []
