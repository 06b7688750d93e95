"""The AWS provider's settings (``aws:*``) that decide whom the program's own AWS calls act as, and where.

The image build, the session sweeper and the log retention are Pulumi dynamic resources: their code runs
in Pulumi's Python provider host with boto3, not inside the AWS provider. To act with exactly the AWS
provider's credentials and account, they read the same ``aws:`` keys of the stack's configuration when they
run (`components.stack_aws`), never from their state. Every key of the AWS provider's configuration
(pulumi_aws/config/vars.py) is one of three kinds here:

* followed (`FOLLOWED`): parsed by `read_stack_aws` and applied to the boto3 session and clients the way the
  AWS provider applies it;
* refused (`REFUSED`): boto3 cannot be told it per client, but both the AWS provider and boto3 read the
  same setting from the environment; the settings check stops on it in one line saying so;
* the rest (tags, validation skips, rate limits, ...) do not change whom a call acts as or where it goes.

Values arrive as Pulumi hands them over: text, with lists and objects as JSON (the program's `pulumi.Config`
and the engine's ``Configure`` of a dynamic provider alike). Pure: nothing here talks to AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from components.errors import Problem
from components.settings_values import Invalid, json_kind, secret_marker, shown

ACCOUNT_ID = re.compile(r"\d{12}")
ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/.+")
# The AWS provider's role-session duration: a Go duration, 15 minutes to 12 hours (pulumi_aws/config/outputs.py).
GO_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?!s))?(?:(?P<s>\d+)s)?")
SESSION_SECONDS = range(15 * 60, 12 * 3600 + 1)
RETRY_MODES = ("standard", "adaptive")
METADATA_MODES = ("IPv4", "IPv6")
# aws:endpoints keys (and their aliases, pulumi_aws/config/outputs.py `Endpoints`) of the services the program's
# own calls use, by boto3's name for the service.
ENDPOINT_KEYS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "codebuild": ("codebuild",),
        "ecr": ("ecr",),
        "ecs": ("ecs",),
        "elbv2": ("elbv2", "elasticloadbalancingv2"),
        "logs": ("logs", "cloudwatchlog", "cloudwatchlogs"),
        "s3": ("s3", "s3api"),
        "sts": ("sts",),
    }
)


@dataclass(frozen=True)
class AssumeRole:
    """One entry of ``aws:assumeRoles`` (the AWS provider assumes them in order, each with the last one's
    credentials), as STS AssumeRole parameters."""

    role_arn: str
    session_name: str | None = None
    external_id: str | None = None
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()
    source_identity: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    transitive_tag_keys: tuple[str, ...] = ()

    def parameters(self, default_session_name: str) -> dict[str, Any]:
        """The STS AssumeRole request (its API reference's parameter names)."""
        request: dict[str, Any] = {
            "RoleArn": self.role_arn,
            "RoleSessionName": self.session_name or default_session_name,
        }
        optional = {
            "ExternalId": self.external_id,
            "DurationSeconds": self.duration_seconds,
            "Policy": self.policy,
            "PolicyArns": [{"arn": arn} for arn in self.policy_arns] or None,
            "SourceIdentity": self.source_identity,
            "Tags": [{"Key": k, "Value": v} for k, v in self.tags] or None,
            "TransitiveTagKeys": list(self.transitive_tag_keys) or None,
        }
        return request | {k: v for k, v in optional.items() if v is not None}


@dataclass(frozen=True)
class WebIdentity:
    """``aws:assumeRoleWithWebIdentity``: the first credentials, from an OIDC token (file read at each refresh)."""

    role_arn: str
    session_name: str | None = None
    token: str | None = None
    token_file: str | None = None
    duration_seconds: int | None = None
    policy: str | None = None
    policy_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackAws:
    """What the stack's AWS provider would act as: its credentials, account bounds and endpoints."""

    profile: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    token: str | None = None
    shared_credentials_file: str | None = None
    shared_config_file: str | None = None
    web_identity: WebIdentity | None = None
    assume_roles: tuple[AssumeRole, ...] = ()
    allowed_account_ids: tuple[str, ...] = ()
    forbidden_account_ids: tuple[str, ...] = ()
    sts_region: str | None = None
    endpoints: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """boto3 service name -> endpoint URL, for the services in `ENDPOINT_KEYS`."""
    ca_bundle: str | None = None
    insecure: bool = False
    use_fips_endpoint: bool | None = None
    use_dualstack_endpoint: bool | None = None
    max_retries: int | None = None
    retry_mode: str | None = None
    s3_use_path_style: bool | None = None
    ec2_metadata_service_endpoint: str | None = None
    ec2_metadata_service_endpoint_mode: str | None = None
    skip_metadata_api_check: bool = False


# --- what each followed key means for the program's own calls, and what a refused one should be instead ---
FOLLOWED: Mapping[str, str] = MappingProxyType(
    {
        "profile": "the shared-config profile (else AWS_PROFILE, as for the AWS provider)",
        "accessKey": "with secretKey (and token): static credentials, used before any profile",
        "secretKey": "see accessKey",
        "token": "see accessKey",
        "sharedCredentialsFiles": "one file (boto3 reads one)",
        "sharedConfigFiles": "one file (boto3 reads one)",
        "assumeRoleWithWebIdentity": "roleArn with webIdentityToken or webIdentityTokenFile: the first credentials",
        "assumeRoles": "each role assumed in order with the previous credentials (roleArn, sessionName, externalId, "
        "duration, policy, policyArns, sourceIdentity, tags, transitiveTagKeys)",
        "allowedAccountIds": "every provider call stops, naming both accounts, outside this list",
        "forbiddenAccountIds": "every provider call stops, naming the account, inside this list",
        "stsRegion": "where AssumeRole and GetCallerIdentity go",
        "endpoints": f"the entries for {', '.join(sorted(ENDPOINT_KEYS))} (and their aliases)",
        "customCaBundle": "the CA bundle of every call",
        "insecure": "no TLS verification",
        "useFipsEndpoint": "FIPS endpoints",
        "useDualstackEndpoint": "dual-stack endpoints",
        "maxRetries": "retries of a failed call",
        "retryMode": "standard or adaptive",
        "s3UsePathStyle": "path-style S3 addressing for the archive upload",
        "ec2MetadataServiceEndpoint": "where instance credentials come from",
        "ec2MetadataServiceEndpointMode": "IPv4 or IPv6",
        "skipMetadataApiCheck": "no instance credentials",
    }
)
REFUSED: Mapping[str, str] = MappingProxyType(
    {
        name: f"boto3 takes no proxy per client; unset it and set {variable} in the environment instead, which "
        "the AWS provider and the program's own AWS calls both read"
        for name, variable in (("httpProxy", "HTTP_PROXY"), ("httpsProxy", "HTTPS_PROXY"), ("noProxy", "NO_PROXY"))
    }
)


def aws_key(name: str) -> str:
    return f"aws:{name}"


def _json(raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _text(raw: Any, what: str = "a string") -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid(f"{shown(str(raw))} is not {what}")
    return raw.strip()


def _bool(raw: Any) -> bool:
    value = _json(raw)
    if isinstance(value, bool):
        return value
    raise Invalid(f"{shown(str(raw))} is not a boolean; use true or false")


def _strings(raw: Any, what: str) -> tuple[str, ...]:
    value = _json(raw)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(f"{shown(str(raw))} is not a list of {what}; write a YAML list in the stack file")
    return tuple(value)


def _accounts(raw: Any) -> tuple[str, ...]:
    accounts = _strings(raw, "account ids")
    wrong = [a for a in accounts if not ACCOUNT_ID.fullmatch(a)]
    if wrong:
        raise Invalid(f"{', '.join(map(repr, wrong))} is not a 12-digit account id; quote each id")
    return accounts


def _one_file(raw: Any) -> str:
    files = _strings(raw, "file paths")
    if len(files) != 1:
        raise Invalid(
            f"lists {len(files)} files, but boto3 reads one shared file of each kind; merge them into one file"
        )
    return files[0]


def _duration(raw: Any, where: str) -> int:
    match = GO_DURATION.fullmatch(raw) if isinstance(raw, str) and raw else None
    seconds = int(match["h"] or 0) * 3600 + int(match["m"] or 0) * 60 + int(match["s"] or 0) if match else None
    if seconds is None or seconds not in SESSION_SECONDS:
        raise Invalid(f"{where}duration {shown(str(raw))} is not between 15m and 12h; write e.g. 1h or 90m")
    return seconds


def _role_fields(entry: Any, where: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise Invalid(f"{where}is {json_kind(entry)}; write an object with roleArn")
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise Invalid(
            f"{where}has {', '.join(unknown)}, which the AWS provider does not take; use {', '.join(sorted(allowed))}"
        )
    arn = entry.get("roleArn")
    if not isinstance(arn, str) or not ROLE_ARN.fullmatch(arn):
        raise Invalid(f"{where}roleArn {shown(str(arn))} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    texts = {k: v for k, v in entry.items() if k not in ("policyArns", "tags", "transitiveTagKeys")}
    wrong = [k for k, v in texts.items() if not isinstance(v, str)]
    if wrong:
        raise Invalid(f"{where}{', '.join(sorted(wrong))} must be text; quote the value")
    return entry


_ROLE_FIELDS = frozenset(
    {"roleArn", "sessionName", "externalId", "duration", "policy", "policyArns", "sourceIdentity", "tags",
     "transitiveTagKeys"}
)  # fmt: skip
_WEB_FIELDS = frozenset(
    {"roleArn", "sessionName", "webIdentityToken", "webIdentityTokenFile", "duration", "policy", "policyArns"}
)


def _assume_roles(raw: Any) -> tuple[AssumeRole, ...]:
    entries = _json(raw)
    if not isinstance(entries, list):
        raise Invalid(f"{shown(str(raw))} is not a list of roles; write a YAML list of objects with roleArn")
    roles = []
    for index, entry in enumerate(entries):
        where = f"entry {index + 1}: "
        fields = _role_fields(entry, where, _ROLE_FIELDS)
        tags = fields.get("tags", {})
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise Invalid(f"{where}tags must map each key to a quoted string")
        roles.append(
            AssumeRole(
                role_arn=fields["roleArn"],
                session_name=fields.get("sessionName"),
                external_id=fields.get("externalId"),
                duration_seconds=_duration(fields["duration"], where) if "duration" in fields else None,
                policy=fields.get("policy"),
                policy_arns=_strings(fields.get("policyArns", []), "policy ARNs"),
                source_identity=fields.get("sourceIdentity"),
                tags=tuple(sorted(tags.items())),
                transitive_tag_keys=_strings(fields.get("transitiveTagKeys", []), "tag keys"),
            )
        )
    return tuple(roles)


def _web_identity(raw: Any) -> WebIdentity:
    entry = _json(raw)
    fields = _role_fields(entry, "", _WEB_FIELDS)
    token, token_file = fields.get("webIdentityToken"), fields.get("webIdentityTokenFile")
    if (token is None) == (token_file is None):
        raise Invalid("set exactly one of webIdentityToken and webIdentityTokenFile")
    return WebIdentity(
        role_arn=fields["roleArn"],
        session_name=fields.get("sessionName"),
        token=token,
        token_file=token_file,
        duration_seconds=_duration(fields["duration"], "") if "duration" in fields else None,
        policy=fields.get("policy"),
        policy_arns=_strings(fields.get("policyArns", []), "policy ARNs"),
    )


def _endpoints(raw: Any) -> Mapping[str, str]:
    value = _json(raw)
    blocks = value if isinstance(value, list) else [value]
    if not all(isinstance(b, dict) for b in blocks):
        raise Invalid(f"{shown(str(raw))} is not a list of objects; write e.g. [{{sts: https://...}}]")
    given = {k: v for block in blocks for k, v in block.items()}
    found: dict[str, str] = {}
    for service, names in ENDPOINT_KEYS.items():
        urls = {given[n] for n in names if given.get(n)}
        if len(urls) > 1:
            raise Invalid(f"{' and '.join(n for n in names if n in given)} name the same service; keep one")
        if urls:
            (found[service],) = urls
    return MappingProxyType(found)


def _choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        if raw not in options:
            raise Invalid(f"{shown(str(raw))} is not allowed; use {' or '.join(options)}")
        return raw

    return parse


def _retries(raw: Any) -> int:
    value = _json(raw)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Invalid(f"{shown(str(raw))} is not a whole number of retries; use e.g. 25")
    return value


# StackAws field <- (aws: key, parser)
_PARSERS: Mapping[str, tuple[str, Callable[[Any], Any]]] = MappingProxyType(
    {
        "profile": ("profile", _text),
        "access_key": ("accessKey", _text),
        "secret_key": ("secretKey", _text),
        "token": ("token", _text),
        "shared_credentials_file": ("sharedCredentialsFiles", _one_file),
        "shared_config_file": ("sharedConfigFiles", _one_file),
        "web_identity": ("assumeRoleWithWebIdentity", _web_identity),
        "assume_roles": ("assumeRoles", _assume_roles),
        "allowed_account_ids": ("allowedAccountIds", _accounts),
        "forbidden_account_ids": ("forbiddenAccountIds", _accounts),
        "sts_region": ("stsRegion", _text),
        "endpoints": ("endpoints", _endpoints),
        "ca_bundle": ("customCaBundle", _text),
        "insecure": ("insecure", _bool),
        "use_fips_endpoint": ("useFipsEndpoint", _bool),
        "use_dualstack_endpoint": ("useDualstackEndpoint", _bool),
        "max_retries": ("maxRetries", _retries),
        "retry_mode": ("retryMode", _choice(RETRY_MODES)),
        "s3_use_path_style": ("s3UsePathStyle", _bool),
        "ec2_metadata_service_endpoint": ("ec2MetadataServiceEndpoint", _text),
        "ec2_metadata_service_endpoint_mode": ("ec2MetadataServiceEndpointMode", _choice(METADATA_MODES)),
        "skip_metadata_api_check": ("skipMetadataApiCheck", _bool),
    }
)
assert {name for name, _ in _PARSERS.values()} == set(FOLLOWED), "every followed key has a parser"


def read_stack_aws(get: Callable[[str], Any]) -> tuple[StackAws, list[Problem]]:
    """The stack's AWS settings from ``get`` (full key -> raw value or None), and one problem per bad key.

    A value still encrypted (``{"secure": ...}``, as `deep-insight plan` reads a stack file) cannot be
    checked here; the engine hands the decrypted one to the program and to the providers."""
    problems = [Problem(aws_key(name), fix) for name, fix in REFUSED.items() if get(aws_key(name)) is not None]
    values: dict[str, Any] = {}
    given: set[str] = set()
    for attribute, (name, parse) in _PARSERS.items():
        raw = get(aws_key(name))
        if raw is None:
            continue
        given.add(attribute)
        if isinstance(raw, str) and secret_marker(raw):
            continue
        try:
            values[attribute] = parse(raw)
        except Invalid as error:
            problems += [Problem(aws_key(name), message) for message in error.messages]
    combined = (
        (
            ("access_key" in given) != ("secret_key" in given),
            "accessKey",
            "goes with aws:secretKey; set both or neither",
        ),
        ("token" in given and "access_key" not in given, "token", "needs aws:accessKey and aws:secretKey; set them"),
        (
            {"access_key", "web_identity"} <= given,
            "assumeRoleWithWebIdentity",
            "set either static keys (aws:accessKey) or a web identity, not both",
        ),
        (
            {"allowed_account_ids", "forbidden_account_ids"} <= given,
            "forbiddenAccountIds",
            "conflicts with aws:allowedAccountIds (as in the AWS provider); keep one",
        ),
    )
    problems += [Problem(aws_key(name), message) for wrong, name, message in combined if wrong]
    return StackAws(**values), problems
