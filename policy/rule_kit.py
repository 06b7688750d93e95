"""What every module of rules builds on: the resource types they judge, how to read props, `resource_rule`.

How pulumi-policy hands over values shapes the code:

* ``props`` are engine-side (camelCase) property maps wrapped in read-only ``Mapping``/``Sequence`` proxies,
  not dicts and lists, so nothing here tests ``isinstance(x, dict)``; numbers arrive as floats.
* During ``pulumi preview`` a value that depends on a resource not yet created is unknown, and reading it
  raises ``UnknownValueError``; pulumi-policy turns that into an advisory "can't run during preview" note
  for that rule and resource, and ``pulumi up`` runs the rule again once the value is known. So the rules
  read only the properties they judge (a ``len`` of a list, never its unknown elements) and never catch
  that error. Digest-pinned images of a first deployment are such a case: they exist only after the build.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

# --- resource types (pulumi-aws 7 tokens) ---
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SECURITY_GROUP_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LOAD_BALANCERS = (
    "aws:lb/loadBalancer:LoadBalancer",
    "aws:alb/loadBalancer:LoadBalancer",
    "aws:elb/loadBalancer:LoadBalancer",
)
AGENT_RUNTIME = "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime"
SUBNET = "aws:ec2/subnet:Subnet"
VPC_ENDPOINT = "aws:ec2/vpcEndpoint:VpcEndpoint"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
REPOSITORY = "aws:ecr/repository:Repository"
BUCKETS = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"

Check = Callable[[ResourceValidationArgs], Iterable[str]]


def as_list(value: Any) -> list[Any]:
    """A list input as a list (absent: empty; a lone string, as some inputs allow: one item)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return list(value)
    return [value]


def count(value: Any) -> int:
    """How many items a list input has, without reading them (at preview they may be unknown)."""
    if value is None:
        return 0
    return len(value) if isinstance(value, Sequence) and not isinstance(value, str) else 1


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def resource_rule(
    name: str, description: str, types: Iterable[str] | None
) -> Callable[[Check], ResourceValidationPolicy]:
    """Make a check (resource args -> violation messages) a policy that runs on ``types`` (None: every type)."""
    wanted = frozenset(types) if types is not None else None

    def wrap(check: Check) -> ResourceValidationPolicy:
        def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
            if wanted is not None and args.resource_type not in wanted:
                return
            for message in check(args):
                report_violation(f"{args.name}: {message}", None)

        return ResourceValidationPolicy(name=name, description=description, validate=validate)

    return wrap
