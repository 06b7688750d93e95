"""VPC endpoint policies, as pure functions of the IAM statements of the roles that act from inside the VPC.

An endpoint policy never grants anything: AWS lets a request through an endpoint only if the endpoint policy
*and* the caller's own policies allow it. Without one, AWS attaches a full-access policy, so anything in the VPC
can use the endpoint with any credentials: user code in the executor, which reaches S3 through the gateway's
prefix list, could PUT to any bucket with an attacker's presigned URL, or write to another account's log group
through the logs endpoint. Each endpoint's policy here is the union of what the stack's in-VPC roles may do with
that service (their statements, the actions of the endpoint's service only), each statement limited to
principals of this account (``aws:PrincipalAccount``); so only this account's principals get through, and only
to the resources the roles name. The S3 gateway also lets any signer GET from ECR's layer bucket: ECR presigns
the layer URLs Fargate follows with an account of its own.

AWS's rules for these documents (AWS PrivateLink guide, "Control access to VPC endpoints using endpoint
policies", docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html): a Principal element is
required, and a gateway endpoint's must be ``*`` (principals go in conditions); at most 20,480 characters; no
wildcards with keys such as aws:PrincipalAccount. tests/components/test_endpoint_policy_documents.py checks them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from components.aws_facts import ECR_LAYER_BUCKET
from components.iam import Document, Statement, document

MAX_POLICY_CHARACTERS = 20_480
PRINCIPAL_ACCOUNT = "aws:PrincipalAccount"

_ENDPOINT_GUIDE = "docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html"
_ECR_GUIDE = "docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html"
_AGENTCORE_GUIDE = "docs.aws.amazon.com/bedrock-agentcore/latest/devguide/vpc-interface-endpoints.html"


@dataclass(frozen=True)
class EndpointService:
    iam_prefix: str
    """The actions' prefix in IAM: what an endpoint of this service authorizes."""
    policy_support: str
    """Where AWS says the service takes endpoint policies. A service that takes only the full-access policy
    refuses any other at creation ("only supports the full-access endpoint policy"), so a wrong entry fails
    `pulumi up` loudly rather than leaving an endpoint open."""


# Every endpoint the stack can create (components.settings_schema.KNOWN_INTERFACE_ENDPOINTS and the S3 gateway).
ENDPOINT_SERVICES: Mapping[str, EndpointService] = MappingProxyType(
    {
        "s3": EndpointService("s3", "docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html"),
        "ecr.api": EndpointService("ecr", _ECR_GUIDE),
        "ecr.dkr": EndpointService("ecr", _ECR_GUIDE),
        "logs": EndpointService(
            "logs", "docs.aws.amazon.com/AmazonCloudWatch/latest/logs/cloudwatch-logs-and-interface-VPC.html"
        ),
        "bedrock-runtime": EndpointService(
            "bedrock", "docs.aws.amazon.com/bedrock/latest/userguide/vpc-interface-endpoints.html"
        ),
        "ecs": EndpointService(
            "ecs", "docs.aws.amazon.com/AmazonECS/latest/developerguide/vpc-endpoints.html#vpc-endpoint-policy"
        ),
        "elasticloadbalancing": EndpointService(
            "elasticloadbalancing",
            "docs.aws.amazon.com/elasticloadbalancing/latest/userguide/load-balancer-vpc-endpoints.html",
        ),
        # AgentCore's endpoint policies can name IAM principals only: a caller with an OAuth bearer token gets
        # through only a Principal "*" without conditions. Nothing in the stack calls AgentCore that way.
        "bedrock-agentcore": EndpointService("bedrock-agentcore", _AGENTCORE_GUIDE),
        "bedrock-agentcore.gateway": EndpointService("bedrock-agentcore", _AGENTCORE_GUIDE),
        # Not confirmed in the service's own guide here; AWS's sts example in its data-perimeter policies and
        # the PrivateLink guide's `describe-vpc-endpoint-services` (VpcEndpointPolicySupported) say so.
        "sts": EndpointService("sts", _ENDPOINT_GUIDE),
        "monitoring": EndpointService("cloudwatch", _ENDPOINT_GUIDE),
        "xray": EndpointService("xray", _ENDPOINT_GUIDE),
    }
)


def ecr_layer_statement(*, partition: str, region: str) -> Statement:
    """GET from the bucket ECR keeps image layers in, whoever signed the URL (ECR does, with its own account)."""
    return {
        "Sid": "EcrImageLayers",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:{partition}:s3:::{ECR_LAYER_BUCKET.format(region=region)}/*"],
    }


def actions_of(prefix: str, statements: Iterable[Statement]) -> list[Statement]:
    """The statements narrowed to the actions of one IAM prefix (statements left with none are dropped)."""
    narrowed = []
    for statement in statements:
        if statement.get("Effect") != "Allow" or "Action" not in statement or "Resource" not in statement:
            raise ValueError(f"{statement.get('Sid')}: only Allow statements with Action and Resource are grants")
        actions = [a for a in statement["Action"] if a.split(":", 1)[0].lower() == prefix]
        if actions:
            narrowed.append({**statement, "Action": actions})
    return narrowed


def within_account(statement: Statement, account_id: str) -> Statement:
    """An identity-policy statement as an endpoint-policy statement: any principal of ``account_id``."""
    condition = copy.deepcopy(statement.get("Condition", {}))
    condition.setdefault("StringEquals", {})[PRINCIPAL_ACCOUNT] = account_id
    return {**statement, "Principal": "*", "Condition": condition}


def account_perimeter(prefix: str, account_id: str) -> Statement:
    """For an endpoint no role uses (one the stack was told to add): the service, for this account only."""
    return {
        "Sid": "ThisAccountOnly",
        "Effect": "Allow",
        "Principal": "*",
        "Action": [f"{prefix}:*"],
        "Resource": "*",
        "Condition": {"StringEquals": {PRINCIPAL_ACCOUNT: account_id}},
    }


def _distinct(statements: Iterable[Statement]) -> list[Statement]:
    """Repeated statements once (two roles share the ECR token grant); other Sid clashes numbered."""
    kept: list[Statement] = []
    seen: list[Statement] = []
    for statement in statements:
        body = {k: v for k, v in statement.items() if k != "Sid"}
        if body in seen:
            continue
        seen.append(body)
        taken = {s["Sid"] for s in kept}
        sid = statement["Sid"]
        sid = next(f"{sid}{n}" for n in range(2, len(kept) + 3) if f"{sid}{n}" not in taken) if sid in taken else sid
        kept.append({"Sid": sid, **body})
    return kept


def endpoint_policy(
    service: str, grants: Sequence[Statement], *, account_id: str, partition: str, region: str
) -> Document:
    """The policy of the endpoint of ``service`` (``s3``, ``ecr.dkr``, ...): the ``grants`` of the roles acting
    from inside the VPC, narrowed to that service and to this account's principals."""
    prefix = ENDPOINT_SERVICES[service].iam_prefix
    statements = [within_account(s, account_id) for s in actions_of(prefix, grants)]
    if service == "s3":
        statements.append(ecr_layer_statement(partition=partition, region=region))
    return document(*_distinct(statements or [account_perimeter(prefix, account_id)]))
