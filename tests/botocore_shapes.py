"""AWS's own limits for names, tags and values, read from the installed botocore's service models.

The tests check what the program sends against these, so the expectations come from AWS (botocore's
``pattern``, ``min`` and ``max`` of each shape), never from the code under test. Patterns are AWS's Java
regular expressions, matched the way the services match them (``String.matches``: the whole value):

* ``\\p{L}``, ``\\p{Z}``, ``\\p{N}`` are Unicode categories: the ``regex`` module knows them (``re`` does not);
* ``\\s`` is Java's ASCII whitespace ``[ \\t\\n\\x0B\\f\\r]``, narrower than Python's Unicode ``\\s``.

Where botocore models no constraint, `DOCUMENTED` holds the rule from the API reference, cited.
"""

from __future__ import annotations

import functools
import re as stdlib_re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
import regex

JAVA_WHITESPACE = r"\t\n\x0B\f\r\x20"


@functools.cache
def java_pattern(pattern: str) -> regex.Pattern[str]:
    """Compile an AWS (Java) pattern for full-string matching, with Java's ASCII ``\\s``."""
    out: list[str] = []
    in_class = False
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            pair = pattern[index : index + 2]
            if pair == r"\s":
                out.append(JAVA_WHITESPACE if in_class else f"[{JAVA_WHITESPACE}]")
            else:
                out.append(pair)
            index += 2
            continue
        if char == "[" and not in_class:
            in_class = True
        elif char == "]" and in_class:
            in_class = False
        out.append(char)
        index += 1
    return regex.compile("".join(out), regex.VERSION0)


@dataclass(frozen=True)
class Limit:
    """A string shape's constraints; `problem` explains a value that breaks them."""

    where: str
    pattern: str | None = None
    min: int | None = None
    max: int | None = None

    @property
    def modelled(self) -> bool:
        return self.pattern is not None or self.min is not None or self.max is not None

    def problem(self, value: str) -> str | None:
        if self.min is not None and len(value) < self.min:
            return f"{value!r} is shorter than {self.where}'s min {self.min}"
        if self.max is not None and len(value) > self.max:
            return f"{value!r} ({len(value)} chars) is longer than {self.where}'s max {self.max}"
        if self.pattern is not None and not java_pattern(self.pattern).fullmatch(value):
            return f"{value!r} does not match {self.where}'s pattern {self.pattern}"
        return None


@functools.cache
def _shapes(service: str) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    model = botocore.session.get_session().get_component("data_loader").load_service_model(service, "service-2")
    return model["shapes"], model["operations"]


def limit(service: str, shape_name: str) -> Limit:
    shape = _shapes(service)[0][shape_name]
    return Limit(f"{service} {shape_name}", shape.get("pattern"), shape.get("min"), shape.get("max"))


def member_shape(service: str, operation: str, *path: str) -> str:
    """The shape name of ``operation``'s input member at ``path`` (list members are stepped through)."""
    shapes, operations = _shapes(service)
    name = operations[operation]["input"]["shape"]
    for member in path:
        shape = shapes[name]
        while shape["type"] == "list":
            name = shape["member"]["shape"]
            shape = shapes[name]
        name = shape["members"][member]["shape"]
    return name


def member_limit(service: str, operation: str, *path: str) -> Limit:
    return limit(service, member_shape(service, operation, *path))


def map_limits(service: str, operation: str, member: str) -> tuple[Limit, Limit, Limit]:
    """(key, value, entries) limits of a map member: entries' min/max is the map's own."""
    shapes = _shapes(service)[0]
    name = member_shape(service, operation, member)
    shape = shapes[name]
    entries = Limit(f"{service} {name}", None, shape.get("min"), shape.get("max"))
    return limit(service, shape["key"]["shape"]), limit(service, shape["value"]["shape"]), entries


# The operation that tags a resource of each service: its input leads to the TagKey/TagValue shapes.
TAGGING_OPERATIONS: Mapping[str, str] = {
    "ec2": "CreateTags",
    "ecs": "TagResource",
    "elbv2": "AddTags",
    "s3": "PutBucketTagging",
    "iam": "TagRole",
    "ecr": "TagResource",
    "logs": "TagResource",
    "bedrock-agentcore-control": "TagResource",
    "codebuild": "CreateProject",  # CodeBuild has no TagResource: a project's tags come with it
}


def _key_value(shapes: Mapping[str, Any], name: str, seen: frozenset[str]) -> tuple[str, str] | None:
    shape = shapes[name]
    if shape["type"] == "map":
        return shape["key"]["shape"], shape["value"]["shape"]
    if shape["type"] == "list":
        return _key_value(shapes, shape["member"]["shape"], seen | {name})
    if shape["type"] == "structure":
        members = {m.lower(): spec["shape"] for m, spec in shape["members"].items()}
        if {"key", "value"} <= set(members):
            return members["key"], members["value"]
        for spec in shape["members"].values():
            if spec["shape"] not in seen and (found := _key_value(shapes, spec["shape"], seen | {name})):
                return found
    return None


def tag_limits(service: str) -> tuple[Limit, Limit]:
    """(key, value) limits of the service's tags, found through its tagging operation's input."""
    shapes, operations = _shapes(service)
    found = _key_value(shapes, operations[TAGGING_OPERATIONS[service]]["input"]["shape"], frozenset())
    assert found, f"no tag key/value shapes under {service} {TAGGING_OPERATIONS[service]}"
    return limit(service, found[0]), limit(service, found[1])


# pulumi-aws type token -> the botocore service that owns the resource (module first, then whole tokens).
SERVICE_OF_TYPE: Mapping[str, str] = {
    "aws:cloudwatch/logGroup:LogGroup": "logs",
    "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime": "bedrock-agentcore-control",
    "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint": "bedrock-agentcore-control",
}
SERVICE_OF_MODULE: Mapping[str, str] = {
    "ec2": "ec2",
    "vpc": "ec2",
    "ecs": "ecs",
    "lb": "elbv2",
    "alb": "elbv2",
    "s3": "s3",
    "iam": "iam",
    "ecr": "ecr",
    "codebuild": "codebuild",
}


def service_of(type_token: str) -> str | None:
    if type_token in SERVICE_OF_TYPE:
        return SERVICE_OF_TYPE[type_token]
    return SERVICE_OF_MODULE.get(type_token.split(":")[1].split("/", maxsplit=1)[0])


# Rules AWS documents but botocore does not model (no pattern/min/max on the shape): cited, and checked
# with Python's `re` (ASCII-only patterns). Each is (pattern, min, max, source).
DOCUMENTED: Mapping[str, tuple[str, int, int, str]] = {
    "elbv2 TargetGroupName": (
        r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?",
        1,
        32,
        "elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html: at most 32 characters, "
        "alphanumeric characters or hyphens, must not begin or end with a hyphen",
    ),
    "elbv2 HttpHeaderConditionConfig.Values": (
        r"[\x20-\x7e]*",
        0,
        128,
        "elasticloadbalancing/latest/APIReference/API_HttpHeaderConditionConfig.html: "
        "the maximum length of each string is 128 characters",
    ),
    "ecs ClusterName": (
        r"[A-Za-z0-9_-]+",
        1,
        255,
        "AmazonECS/latest/APIReference/API_CreateCluster.html: up to 255 letters (uppercase and lowercase), "
        "numbers, underscores, and hyphens",
    ),
    "ecs Family": (
        r"[A-Za-z0-9_-]+",
        1,
        255,
        "AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html: up to 255 letters (uppercase and "
        "lowercase), numbers, underscores, and hyphens",
    ),
    "ecs ContainerName": (
        r"[A-Za-z0-9_-]+",
        1,
        255,
        "AmazonECS/latest/APIReference/API_ContainerDefinition.html: up to 255 letters (uppercase and "
        "lowercase), numbers, underscores, and hyphens",
    ),
    "ec2 SecurityGroupDescription": (
        r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*",
        0,
        255,
        "AWSEC2/latest/APIReference/API_CreateSecurityGroup.html (GroupDescription): up to 255 characters, "
        "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*",
    ),
    "ec2 SecurityGroupRuleDescription": (
        r"[A-Za-z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*",
        0,
        255,
        "AWSEC2/latest/APIReference/API_IpRange.html (Description): up to 255 characters, "
        "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*",
    ),
    "s3 BucketName": (
        r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?",
        3,
        63,
        "AmazonS3/latest/userguide/bucketnamingrules.html: 3-63 characters, lowercase letters, numbers, "
        "periods and hyphens, beginning and ending with a letter or number, no two adjacent periods",
    ),
    "pulumi-aws s3.Bucket bucketPrefix": (
        r"[a-z0-9][a-z0-9.-]*",
        1,
        37,
        "pulumi-aws aws.s3.Bucket bucket_prefix: must be lowercase and at most 37 characters (the provider appends 26)",
    ),
}


def documented_problem(rule: str, value: str) -> str | None:
    """Like `Limit.problem`, with Python's `re` (the documented patterns are ASCII-only)."""
    pattern, low, high, _ = DOCUMENTED[rule]
    if not low <= len(value) <= high:
        return f"{value!r} ({len(value)} chars) is outside {rule}'s documented {low}-{high}"
    if not stdlib_re.fullmatch(pattern, value):
        return f"{value!r} breaks {rule}'s documented rule ({DOCUMENTED[rule][3]})"
    if rule == "s3 BucketName" and ".." in value:
        return f"{value!r} has two adjacent periods ({DOCUMENTED[rule][3]})"
    return None
