"""What IAM evaluates for an API request, derived from the request itself and the Service Authorization Reference.

`Recorder` captures the real requests a boto3 client makes (botocore events: the parameters as the code passed
them, the parsed response). `authorizations` turns each into the (action, resource, context) triples AWS
authorizes it as:

* the action: `tests.aws_reference.action_for` (same name, the reference's own link, or the cited table);
* the resource: every resource type of the action that the request names an instance of, found by matching its
  parameters against the type's ARN format or by filling the format from them (S3 bucket and key, a Bedrock model
  id); a create names the resource it creates only in its response. A request that names none is evaluated on
  ``*`` - if the reference marks a type required, only with a cited entry in `DISAGREEMENTS`;
* the context: the condition keys the reference lists for the action that the request carries (its tags, ecs:cluster,
  s3:prefix...) or its resource has (the tags the session put on it when it created it);
* the authorizations the request implies: the reference's dependent actions (iam:PassRole of the task definition's
  roles to ecs-tasks; AddTags when a create carries tags) and the cited extra ones in `DISAGREEMENTS`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.aws_reference import (
    PLACEHOLDER,
    Context,
    action_for,
    arn_pattern,
    condition_keys,
    disagreement,
    fill,
    key_is_listed,
    resource_types,
)


@dataclass(frozen=True)
class Request:
    service: str
    """The signing name, which is the IAM service prefix (ecs, elasticloadbalancing, s3, bedrock)."""
    operation: str
    params: dict[str, Any]
    response: dict[str, Any] = field(default_factory=dict)
    endpoint_prefix: str = ""
    """The host's service part (bedrock-runtime, ecs, elasticloadbalancing, s3): a VPC endpoint's suffix."""
    model: str = ""
    """botocore's name of the service model (bedrock-agentcore-control, sts): where the operation is documented."""

    def __str__(self) -> str:
        return f"{self.service} {self.operation}"


def _plain(value: Any) -> Any:
    """JSON-like data only (a request body is a file object)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else f"<{type(value).__name__}>"


class Recorder:
    """Records every request of the clients (or botocore sessions) it is attached to, in call order."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def handlers(self) -> list[tuple[str, Callable[..., None]]]:
        """(event, handler) pairs that record: what `attach` registers."""
        return [("provide-client-params", self._on_params), ("after-call", self._on_response)]

    def attach(self, events: Any) -> None:
        """``events``: a client's ``meta.events`` or a session's ``events`` (its clients inherit the hooks)."""
        for event, handler in self.handlers():
            events.register(event, handler)

    def _on_params(self, params: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model
        request = Request(
            service.signing_name,
            model.name,
            _plain(params),
            endpoint_prefix=service.endpoint_prefix,
            model=service.service_name,
        )
        context["recorded_request"] = request
        with self._lock:
            self.requests.append(request)

    def _on_response(self, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "recorded_request" in context:
            context["recorded_request"].response.update(_plain(parsed))


@contextlib.contextmanager
def in_every_new_session(handlers: list[tuple[str, Callable[..., Any]]]) -> Iterator[None]:
    """While open, every botocore session made in this process registers ``handlers`` (event, handler) along
    with botocore's own: for code that makes its own sessions (the dynamic providers' `StackSession`), whose
    requests a `Recorder` then sees with that code unchanged. A ``botocore.session.Session`` registers
    ``botocore.handlers.BUILTIN_HANDLERS`` when it is made (moto's ``mock_aws`` adds its stubber there the same
    way: moto/core/models.py); sessions made before, and their clients, are left alone."""
    import botocore.handlers  # noqa: PLC0415

    before = botocore.handlers.BUILTIN_HANDLERS
    botocore.handlers.BUILTIN_HANDLERS = [*before, *handlers]
    try:
        yield
    finally:
        botocore.handlers.BUILTIN_HANDLERS = before


@dataclass(frozen=True)
class Authorization:
    action: str
    resource: str
    context: Context
    request: Request
    why: str = "the request itself"

    def __str__(self) -> str:
        return f"{self.action} on {self.resource} with {dict(self.context)} ({self.request}: {self.why})"


@dataclass
class World:
    """What the check knows besides the requests: where they run, and the roles of a task definition."""

    region: str
    account: str
    task_definition_roles: Callable[[str], list[str]]
    partition: str = "aws"
    resource_tags: dict[str, dict[str, str]] = field(default_factory=dict)
    """ARN -> tags, filled from the creates seen so far (the session tags what it creates)."""
    build_projects: dict[str, str] = field(default_factory=dict)
    """CodeBuild build id -> its project, from the StartBuild answers seen so far (``build.id``,
    ``build.projectName``): BatchGetBuilds and StopBuild name a build by its id, and the reference
    authorizes them on the build's project."""

    def placeholders(self) -> dict[str, str]:
        return {"Partition": self.partition, "Region": self.region, "Account": self.account}


# Bedrock: where a geographic inference profile routes (docs.aws.amazon.com/bedrock/latest/userguide/
# inference-profiles-support.html); a global profile's model is also addressed without a region.
PROFILE_DESTINATIONS: Mapping[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-southeast-1", "ap-southeast-2"),
    "global": ("us-east-1", ""),
}
# The service a RunTask passes the task definition's roles to (docs.aws.amazon.com/AmazonECS/latest/
# developerguide/task-iam-roles.html: iam:PassedToService ecs-tasks.amazonaws.com).
PASSED_TO: Mapping[str, str] = {"ecs:RunTask": "ecs-tasks.amazonaws.com"}
# Condition keys whose value is a request parameter, used when the reference lists the key for the action.
REQUEST_KEYS: Mapping[str, str] = {
    "ecs:cluster": "cluster",
    "s3:prefix": "Prefix",
    "s3:delimiter": "Delimiter",
    "s3:max-keys": "MaxKeys",
}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _tags(params: Mapping[str, Any]) -> dict[str, str]:
    listed = params.get("Tags") or params.get("tags") or []
    return {t.get("Key", t.get("key")): t.get("Value", t.get("value")) for t in listed}


# Placeholders of the reference's ARN formats that a request gives by name instead of by ARN: S3 names buckets and
# keys, ECR a repository and the registry (its account), CloudWatch Logs a group and a stream, CodeBuild a project.
NAMED_BY: Mapping[str, tuple[tuple[str, str], ...]] = {
    "s3": (("BucketName", "Bucket"), ("ObjectName", "Key")),
    "ecr": (("RepositoryName", "repositoryName"), ("Account", "registryId")),
    "logs": (("LogGroupName", "logGroupName"), ("LogStreamName", "logStreamName")),
    "codebuild": (("ProjectName", "projectName"),),
}


def _identifiers(request: Request, world: World) -> dict[str, str]:
    """Placeholder values the request names (`NAMED_BY`); a CodeBuild build's project, by the build's id."""
    found = {k: request.params[p] for k, p in NAMED_BY.get(request.service, ()) if p in request.params}
    if request.service == "codebuild":
        ids = request.params.get("ids") or [request.params.get("id")]
        projects = {world.build_projects[i] for i in ids if i in world.build_projects}
        if len(projects) == 1:
            found.setdefault("ProjectName", projects.pop())
    return found


def _filled(arn_format: str, request: Request, world: World) -> str | None:
    """The format filled from the request's identifiers, when it names every placeholder but the location."""
    identifiers = _identifiers(request, world)
    needed = set(PLACEHOLDER.findall(arn_format)) - set(world.placeholders())
    return fill(arn_format, world.placeholders() | identifiers) if needed and needed <= set(identifiers) else None


def _model_arn(model_id: str, world: World) -> str:
    """A Bedrock modelId as an ARN: an ARN as is, ``<geo>.<model>`` an inference profile, else a foundation model."""
    if model_id.startswith("arn:"):
        return model_id
    p, r, a = world.partition, world.region, world.account
    if model_id.split(".", 1)[0] in PROFILE_DESTINATIONS:
        return f"arn:{p}:bedrock:{r}:{a}:inference-profile/{model_id}"
    return f"arn:{p}:bedrock:{r}::foundation-model/{model_id}"


def _endpoint_of(request: Request) -> list[str]:
    """InvokeAgentRuntime's ``qualifier`` "is an endpoint name" of the runtime (botocore's bedrock-agentcore
    model): the request names that runtime endpoint, whose ARN is the runtime's plus ``/runtime-endpoint/<name>``
    (the reference's runtime-endpoint format)."""
    params = request.params
    if request.service == "bedrock-agentcore" and {"agentRuntimeArn", "qualifier"} <= params.keys():
        return [f"{params['agentRuntimeArn']}/runtime-endpoint/{params['qualifier']}"]
    return []


def named_resources(action: str, request: Request, world: World) -> list[str]:
    """The ARNs of the action's resource types that the request names (see the module docstring)."""
    values = list(_strings(request.params)) + _endpoint_of(request)
    if request.service == "bedrock" and "modelId" in request.params:
        values.append(_model_arn(request.params["modelId"], world))
    found: list[str] = []
    for kind in resource_types(action):
        pattern = arn_pattern(kind.arn_format)
        hits = [v for v in values if pattern.fullmatch(v)]
        filled = _filled(kind.arn_format, request, world)
        found += hits or ([filled] if filled else [])
    return list(dict.fromkeys(found))


def created_resources(action: str, request: Request) -> list[str]:
    """ARNs of the action's resource types in the response that the request did not name: what it created."""
    given = set(_strings(request.params))
    kinds = [arn_pattern(kind.arn_format) for kind in resource_types(action)]
    arns = [v for v in _strings(request.response) if v not in given and any(p.fullmatch(v) for p in kinds)]
    return list(dict.fromkeys(arns))


def _context(action: str, request: Request, resource: str, world: World, **extra: str | list[str]) -> dict:
    prefix = action.split(":", maxsplit=1)[0]
    context: dict[str, str | list[str]] = {}
    tags = _tags(request.params)
    if tags and key_is_listed("aws:TagKeys", action):
        context["aws:TagKeys"] = list(tags)
    for key, value in tags.items():
        if key_is_listed(f"aws:RequestTag/{key}", action):
            context[f"aws:RequestTag/{key}"] = value
    for key, value in world.resource_tags.get(resource, {}).items():
        for name in (f"aws:ResourceTag/{key}", f"{prefix}:ResourceTag/{key}"):
            if key_is_listed(name, action):
                context[name] = value
    for key, param in REQUEST_KEYS.items():
        if param in request.params and key.split(":")[0] == prefix and key_is_listed(key, action):
            context[key] = str(request.params[param])
    for key, value in extra.items():
        if not key_is_listed(key, action):
            raise LookupError(f"{key} is not a condition key of {action} in the reference")
        context[key] = value
    return context


def authorizations(request: Request, world: World) -> list[Authorization]:
    """Everything AWS authorizes for one request; records the tags of what it creates in ``world``."""
    action = action_for(request.service, request.operation)
    named = named_resources(action, request, world)
    created = created_resources(action, request)
    resources = named or [r for r in created if _is_required_kind(action, r)]
    if not resources:
        required = [k.name for k in resource_types(action) if k.required]
        if required and not disagreement("evaluated-on-star", action):
            raise LookupError(
                f"{request}: the reference requires {required} for {action} and the request names none; "
                "fix the capture, or cite the observed behaviour in DISAGREEMENTS"
            )
        resources = ["*"]
    found = [Authorization(action, r, _context(action, request, r, world), request) for r in resources]
    found += _implied(action, request, named, created, world)
    tags = _tags(request.params)
    given = set(_strings(request.params))
    for arn in _strings(request.response):  # what a create carrying tags made carries them
        if tags and arn.startswith("arn:") and arn not in given:
            world.resource_tags[arn] = tags
    build = request.response.get("build") if request.service == "codebuild" else None
    if isinstance(build, Mapping) and {"id", "projectName"} <= build.keys():
        world.build_projects[build["id"]] = build["projectName"]
    return found


def _is_required_kind(action: str, arn: str) -> bool:
    return any(k.required and arn_pattern(k.arn_format).fullmatch(arn) for k in resource_types(action))


def _implied(action: str, request: Request, named: list[str], created: list[str], world: World) -> list[Authorization]:
    dependents = {
        dependent
        for kind in resource_types(action)
        if any(arn_pattern(kind.arn_format).fullmatch(r) for r in named + created)
        for dependent in kind.dependent_actions
    }
    extra = disagreement("tag-on-create", action)
    if extra:
        dependents.add(f"{action.split(':', maxsplit=1)[0]}:TagResource")
    found: list[Authorization] = []
    for dependent in sorted(dependents):
        create_key = f"{dependent.split(':')[0]}:CreateAction"
        if any(k.lower() == create_key.lower() for k in condition_keys(dependent)):
            if not _tags(request.params):
                continue  # tag-on-create is authorized only when the create carries tags
            new = [r for r in created_resources(dependent, request) if r not in named] or created
            why = f"tags on create ({extra.source})" if extra else "tags on create (reference: dependent action)"
            found += [
                Authorization(
                    dependent,
                    r,
                    _context(dependent, request, r, world, **{create_key: request.operation}),
                    request,
                    why,
                )
                for r in new
            ]
        elif dependent == "iam:PassRole" and action in PASSED_TO:
            roles = [request.params.get("overrides", {}).get(k) for k in ("taskRoleArn", "executionRoleArn")]
            passed = [r for r in roles if r] or [
                role for arn in named for role in world.task_definition_roles(arn) if "task-definition/" in arn
            ]
            context = {"iam:PassedToService": PASSED_TO[action]}
            found += [Authorization(dependent, r, context, request, "role of the task definition") for r in passed]
        else:
            raise LookupError(f"{request}: no rule for the dependent action {dependent} of {action}")
    if disagreement("profile-routes-to-model", action):
        found += _through_profile(action, request, named, world)
    return found


def _through_profile(action: str, request: Request, named: list[str], world: World) -> list[Authorization]:
    found = []
    for profile in (r for r in named if ":inference-profile/" in r):
        geo, _, model = profile.split("/", 1)[1].partition(".")
        for region in PROFILE_DESTINATIONS[geo]:
            arn = f"arn:{world.partition}:bedrock:{region}::foundation-model/{model}"
            context = _context(action, request, arn, world, **{"bedrock:InferenceProfileArn": profile})
            found.append(Authorization(action, arn, context, request, f"routed by {profile}"))
    return found
