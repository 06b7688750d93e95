"""Every IAM and bucket policy document of the stack, as pure functions of plain ARNs and names.

Components resolve the ARNs (Outputs) and call these inside ``apply`` to get JSON; the tests call them
directly, lint each document with parliament and check actions, resources and conditions. Grants name
their actions one by one (no ``*`` and no ``service:*``); ``Resource: "*"`` appears only for actions
AWS does not scope to a resource (ecr:GetAuthorizationToken, X-Ray, PutMetricData, ELB Describe*,
ecs:ListTasks on a whole cluster), and
each of those carries a condition where AWS offers one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from deep_insight_contract.storage import (
    SESSIONS_PREFIX,
    artifacts_prefix,
    console_record_key,
    input_prefix,
    plan_review_key,
)
from deep_insight_contract.tags import SESSION_RESOURCE_TAGS, STACK_TAG

Document = dict[str, Any]
Statement = dict[str, Any]

ECS_TASKS = "ecs-tasks.amazonaws.com"
AGENTCORE = "bedrock-agentcore.amazonaws.com"
CODEBUILD = "codebuild.amazonaws.com"


def document(*statements: Statement) -> Document:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(
    sid: str, actions: Sequence[str], resources: Sequence[str] | str, conditions: dict | None = None
) -> Statement:
    statement: Statement = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }
    if conditions:
        statement["Condition"] = conditions
    return statement


# --- trust policies ---


def service_trust(service: str, *, account_id: str, source_arn: str) -> Document:
    """AssumeRole for one AWS service, only on behalf of this account (confused-deputy conditions)."""
    return document(
        {
            "Sid": "AssumedByService",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {"aws:SourceAccount": account_id},
                "ArnLike": {"aws:SourceArn": source_arn},
            },
        }
    )


def ecs_tasks_trust(*, partition: str, region: str, account_id: str) -> Document:
    return service_trust(ECS_TASKS, account_id=account_id, source_arn=f"arn:{partition}:ecs:{region}:{account_id}:*")


def agentcore_trust(*, partition: str, region: str, account_id: str) -> Document:
    return service_trust(
        AGENTCORE, account_id=account_id, source_arn=f"arn:{partition}:bedrock-agentcore:{region}:{account_id}:*"
    )


# --- executor roles ---


def executor_execution_policy(*, image_pull: Sequence[Statement], log_group_arn: str) -> Document:
    """What ECS needs to start the executor: pull its image (``image_pull``), write its log group. Nothing else."""
    return document(
        *image_pull,
        allow("WriteExecutorLogs", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:log-stream:*"]),
    )


def session_objects(bucket_arn: str) -> str:
    return f"{bucket_arn}/sessions/*"


ANY_SESSION = "*"
"""In an object ARN, every session id: the contract's key of a session ``*`` is the key in every session."""


def plan_decisions(bucket_arn: str) -> str:
    return f"{bucket_arn}/{plan_review_key(ANY_SESSION)}"


def session_object_statements(bucket_arn: str) -> list[Statement]:
    """Read and write the session objects of a bucket, and list them (``sessions/*`` only).

    The agent's grant: it presigns the executor's GET/PUT URLs with it, and S3 authorizes each request made
    with a URL as the agent's role. IAM cannot narrow it to one runtime session (the AgentCore session id is
    no request context key), so it spans every session; ``deep_insight_agent.presign`` signs only the
    session's own keys. The executor task has no role at all."""
    return [
        allow(
            "SessionObjects",
            ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            [session_objects(bucket_arn)],
        ),
        allow("ListSessions", ["s3:ListBucket"], [bucket_arn], {"StringLike": {"s3:prefix": ["sessions/*"]}}),
        # A plan decision is taken once: the runtime deletes it when read (and one left from an earlier job of
        # the session before it asks), so it never acts on a stale one. Only decision objects, of any session.
        allow("TakePlanDecisions", ["s3:DeleteObject"], [plan_decisions(bucket_arn)]),
    ]


def analyst_session_statements(bucket_arn: str) -> list[Statement]:
    """What a person running jobs (``deep-insight invoke``, ``console --stack``) does with a bucket's session
    objects: put a session's inputs, its console record and plan decisions; read its artifacts and console
    records; list the sessions (the console's history) and a session's artifacts. Not the agent's artifacts to
    write, nor another session's inputs to read."""
    return [
        allow(
            "PutSessionInputsAndDecisions",
            ["s3:PutObject"],
            [
                f"{bucket_arn}/{input_prefix(ANY_SESSION)}*",
                plan_decisions(bucket_arn),
                f"{bucket_arn}/{console_record_key(ANY_SESSION)}",
            ],
        ),
        allow(
            "ReadSessionResults",
            ["s3:GetObject"],
            [f"{bucket_arn}/{artifacts_prefix(ANY_SESSION)}*", f"{bucket_arn}/{console_record_key(ANY_SESSION)}"],
        ),
        allow(
            "ListSessionResults",
            ["s3:ListBucket"],
            [bucket_arn],
            {"StringLike": {"s3:prefix": [SESSIONS_PREFIX, artifacts_prefix(ANY_SESSION)]}},
        ),
    ]


def invoke_runtime_statements(runtime_arn: str, endpoint_name: str) -> list[Statement]:
    """Start jobs on one runtime through one of its endpoints. The Service Authorization Reference lists both
    the runtime and the runtime endpoint as required resources of InvokeAgentRuntime: both are granted."""
    endpoint = f"{runtime_arn}/runtime-endpoint/{endpoint_name}"
    return [allow("InvokeRuntimeEndpoint", ["bedrock-agentcore:InvokeAgentRuntime"], [runtime_arn, endpoint])]


def analyst_policy(grants: Sequence[Statement]) -> Document:
    """The customer-managed policy a person is given to use a deployed stack: each granter's statements."""
    return _granted("analyst policy", grants)


def _granted(name: str, statements: Sequence[Statement]) -> Document:
    """A document of statements from several granters, whose ids must not collide (Sids are unique in a policy)."""
    sids = [s["Sid"] for s in statements]
    if duplicates := sorted({sid for sid in sids if sids.count(sid) > 1}):
        raise ValueError(f"{name}: statement ids {', '.join(duplicates)} appear more than once")
    return document(*statements)


class ImagePuller(StrEnum):
    ECS = "ecs"
    """A task execution role: the ECR actions of AmazonECSTaskExecutionRolePolicy."""
    AGENTCORE = "agentcore"
    """AgentCore's execution role: the pair of actions its runtime guide lists."""


PULL_ACTIONS: dict[ImagePuller, tuple[str, ...]] = {
    ImagePuller.ECS: ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
    ImagePuller.AGENTCORE: ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"),
}


def image_pull_statements(repository_arn: str | None, *, sid: str, puller: ImagePuller) -> list[Statement]:
    """Pull images from one private ECR repository, plus the registry token; none for ECR Public (anonymous)."""
    if repository_arn is None:
        return []
    return [
        allow("EcrToken", ["ecr:GetAuthorizationToken"], "*"),  # has no resource-level permissions
        allow(sid, PULL_ACTIONS[puller], [repository_arn]),
    ]


# --- the AgentCore runtime ---

_PROFILE_ID = re.compile(r"^(?P<geo>[a-z]{2,6}(-gov)?)\.(?P<model>[a-z0-9-]+\..+)$")


def model_statements(model_id: str, *, partition: str, region: str, account_id: str, sid: int = 0) -> list[Statement]:
    """InvokeModel on the configured model, inference profile or profile ARN, and nothing else.

    A cross-region profile routes to the same foundation model in several regions, so the model
    itself is allowed in any region, but only when called through that profile. ``sid``: the statements
    of the second, third, ... model of one policy get it as a suffix (Sids are unique in a policy).
    """
    statements = _model_statements(model_id, partition=partition, region=region, account_id=account_id)
    return [{**s, "Sid": f"{s['Sid']}{sid}"} for s in statements] if sid else statements


def _model_statements(model_id: str, *, partition: str, region: str, account_id: str) -> list[Statement]:
    actions = ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
    if model_id.startswith("arn:"):
        profile_arn = model_id
        resource_name = model_id.split(":", 5)[5]
        kind, _, name = resource_name.partition("/")
        if kind not in ("inference-profile", "application-inference-profile"):
            return [allow("InvokeModel", actions, [model_id])]
        match = _PROFILE_ID.match(name) if kind == "inference-profile" else None
        models = [f"arn:{partition}:bedrock:*::foundation-model/{match['model']}"] if match else None
    else:
        match = _PROFILE_ID.match(model_id)
        if not match:
            return [allow("InvokeModel", actions, [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"])]
        profile_arn = f"arn:{partition}:bedrock:{region}:{account_id}:inference-profile/{model_id}"
        models = [f"arn:{partition}:bedrock:*::foundation-model/{match['model']}"]
    if models is None:  # an application profile: the models behind it are known only to Bedrock
        models = [f"arn:{partition}:bedrock:*::foundation-model/*"]
    if match and match["geo"] == "global":  # global profiles also address the model without a region
        models.append(f"arn:{partition}:bedrock:::foundation-model/{match['model']}")
    return [
        allow("InvokeInferenceProfile", actions, [profile_arn]),
        allow(
            "InvokeModelThroughProfile",
            actions,
            models,
            {"StringEquals": {"bedrock:InferenceProfileArn": profile_arn}},
        ),
    ]


def listener_rule_arns(listener_arn: str) -> str:
    """Rules of one listener: listener/app/N/L/X -> listener-rule/app/N/L/X/*."""
    return listener_arn.replace(":listener/", ":listener-rule/", 1) + "/*"


def run_task_statements(
    *, partition: str, region: str, account_id: str, cluster_arn: str, task_family: str, role_arns: Sequence[str]
) -> list[Statement]:
    """One task at a time from one family in one cluster: run (tagged on create), describe, stop, list, pass roles."""
    p, r, a = partition, region, account_id
    cluster_name = cluster_arn.rsplit("/", 1)[-1]
    in_cluster = {"ArnEquals": {"ecs:cluster": cluster_arn}}
    tasks = f"arn:{p}:ecs:{r}:{a}:task/{cluster_name}/*"
    return [
        allow("RunExecutorTask", ["ecs:RunTask"], [f"arn:{p}:ecs:{r}:{a}:task-definition/{task_family}:*"], in_cluster),
        allow("TagExecutorTaskOnRun", ["ecs:TagResource"], [tasks], {"StringEquals": {"ecs:CreateAction": "RunTask"}}),
        allow("ManageExecutorTasks", ["ecs:DescribeTasks", "ecs:StopTask"], [tasks], in_cluster),
        # Listing a cluster's tasks is authorized against "*" (the reference's container-instance type
        # applies only to a request that names a container instance); ecs:cluster scopes it to this cluster.
        allow("ListExecutorTasks", ["ecs:ListTasks"], "*", in_cluster),
        allow(
            "PassExecutorRoles", ["iam:PassRole"], list(role_arns), {"StringEquals": {"iam:PassedToService": ECS_TASKS}}
        ),
    ]


def session_routing_statements(*, listener_arn: str, stack: str, target_group_prefix: str) -> list[Statement]:
    """Per-session target groups (named ``<prefix>…``) and rules on one listener, all tagged with the stack.

    Partition, region and account are the listener's: the target groups live next to it.
    """
    elb = listener_arn.split(":listener/", 1)[0]  # arn:<partition>:elasticloadbalancing:<region>:<account>
    target_groups = f"{elb}:targetgroup/{target_group_prefix}*/*"
    rules = listener_rule_arns(listener_arn)
    ours = {"StringEquals": {f"aws:ResourceTag/{STACK_TAG}": stack}}
    tagged_on_create = {
        "StringEquals": {f"aws:RequestTag/{STACK_TAG}": stack},
        "ForAllValues:StringEquals": {"aws:TagKeys": list(SESSION_RESOURCE_TAGS)},
    }
    return [
        allow(
            "CreateSessionTargetGroup", ["elasticloadbalancing:CreateTargetGroup"], [target_groups], tagged_on_create
        ),
        allow("CreateSessionRule", ["elasticloadbalancing:CreateRule"], [listener_arn], tagged_on_create),
        allow(
            "TagSessionResourcesOnCreate",
            ["elasticloadbalancing:AddTags"],
            [target_groups, rules],
            {
                "StringEquals": {
                    "elasticloadbalancing:CreateAction": ["CreateRule", "CreateTargetGroup"],
                    f"aws:RequestTag/{STACK_TAG}": stack,
                }
            },
        ),
        allow(
            "ManageSessionTargetGroups",
            [
                "elasticloadbalancing:DeleteTargetGroup",
                "elasticloadbalancing:DeregisterTargets",
                "elasticloadbalancing:ModifyTargetGroup",
                "elasticloadbalancing:ModifyTargetGroupAttributes",
                "elasticloadbalancing:RegisterTargets",
            ],
            [target_groups],
            ours,
        ),
        allow(
            "ManageSessionRules", ["elasticloadbalancing:DeleteRule", "elasticloadbalancing:ModifyRule"], [rules], ours
        ),
        allow(
            "DescribeLoadBalancing",  # Describe* calls have no resource-level permissions
            [
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:DescribeTags",
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeTargetHealth",
            ],
            "*",
        ),
    ]


def agentcore_baseline_statements(
    *, partition: str, region: str, account_id: str, runtime_name: str
) -> list[Statement]:
    """AWS's documented baseline for an AgentCore runtime execution role, less the image pull (the image's)."""
    p, r, a = partition, region, account_id
    runtime_logs = f"arn:{p}:logs:{r}:{a}:log-group:/aws/bedrock-agentcore/runtimes/*"
    directory = f"arn:{p}:bedrock-agentcore:{r}:{a}:workload-identity-directory/default"
    return [
        allow("RuntimeLogGroups", ["logs:CreateLogGroup", "logs:DescribeLogStreams"], [runtime_logs]),
        allow("DescribeLogGroups", ["logs:DescribeLogGroups"], "*"),  # no resource-level permissions
        allow("RuntimeLogEvents", ["logs:CreateLogStream", "logs:PutLogEvents"], [f"{runtime_logs}:log-stream:*"]),
        allow(
            "Tracing",
            ["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "*",
        ),
        allow(
            "Metrics",
            ["cloudwatch:PutMetricData"],
            "*",
            {"StringEquals": {"cloudwatch:namespace": "bedrock-agentcore"}},
        ),
        allow(
            "WorkloadAccessToken",
            [
                "bedrock-agentcore:GetWorkloadAccessToken",
                "bedrock-agentcore:GetWorkloadAccessTokenForJWT",
                "bedrock-agentcore:GetWorkloadAccessTokenForUserId",
            ],
            [directory, f"{directory}/workload-identity/{runtime_name}-*"],
        ),
    ]


def agent_runtime_policy(
    *, image_pull: Sequence[Statement], baseline: Sequence[Statement], grants: Sequence[Statement]
) -> Document:
    """The AgentCore execution role: pull its image, AWS's baseline, then what each dependency grants."""
    return _granted("agent runtime policy", [*image_pull, *baseline, *grants])


# --- bucket policies ---


def tls_only_bucket_policy(bucket_arn: str) -> Document:
    # The one wildcard in the stack, and a Deny: it must cover every S3 action, current and future.
    return document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn, f"{bucket_arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def access_log_bucket_policy(*, bucket_arn: str, account_id: str, elb_account_arn: str, prefix: str) -> Document:
    """TLS-only, plus ELB log delivery into ``<prefix>/AWSLogs/<account>/``.

    Regions older than August 2022 deliver as the regional ELB account; newer ones as the
    logdelivery.elasticloadbalancing.amazonaws.com service. Both are allowed, for this prefix only.
    """
    logs = f"{bucket_arn}/{prefix}/AWSLogs/{account_id}/*"
    base = tls_only_bucket_policy(bucket_arn)
    base["Statement"] += [
        {
            "Sid": "ElbAccountDelivery",
            "Effect": "Allow",
            "Principal": {"AWS": elb_account_arn},
            "Action": "s3:PutObject",
            "Resource": logs,
        },
        {
            "Sid": "ElbServiceDelivery",
            "Effect": "Allow",
            "Principal": {"Service": "logdelivery.elasticloadbalancing.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": logs,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    ]
    return base
