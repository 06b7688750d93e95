"""Apply an evaluated Pulumi program to moto: every declared resource, in dependency order, made with boto3.

`ops.evaluate` runs the real ``__main__.py`` under mocks, so an input that names another resource holds
the mock's id or ARN for it. `apply` creates each resource from its declared inputs after replacing every
mock value with what moto made (the engine does the same with real outputs), one small function per
resource type (`Applier`, in translate_network.py, translate_services.py and translate_agentcore.py).

Loud on purpose, so that the stack in moto cannot quietly differ from what the program declares:
* a resource type without an applier is an error, unless listed in `NO_AWS_STATE`;
* an input its applier did not read (or explicitly ignore, saying why) is an error;
* an output the mock made up that the applier does not report (moto's value for it) is an error, and so
  is a mock id or mock ARN left in an input or an output after substitution;
* a data source the program read (an invoke) is asked of moto too: an answer that would have led the
  program elsewhere (other AZs, another account) is an error, an id (the S3 prefix list) is substituted.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ops.evaluate import Declared
from ops.offline_aws import ACCOUNT_ID, REGION_ZONES, S3_PREFIX_LISTS, partition_of

# Custom resources that configure Pulumi itself and leave nothing in AWS: explicit providers. (Component
# resources, ``custom`` False, are groupings of the program and never reach a provider either.)
NO_AWS_STATE = frozenset({"pulumi:providers:aws", "pulumi:providers:docker"})

# A mock value shorter than this (a runtime version "747") is only replaced where it is the whole input:
# inside longer text it would hit unrelated characters. Mock ids and ARNs are all longer.
SHORT = 8
MOCK_ARN = re.compile(r"arn:[a-z-]+:mock:")


class TranslationError(AssertionError):
    """The stack in moto would not be what the program declares."""


@dataclass
class Aws:
    """Where the stack goes: a region of the moto account, and what AWS itself does there on the side."""

    region: str
    clients: Callable[[str, str], Any]
    """``(service, region) -> boto3 client``; the caller may keep them across deployments."""
    agentcore_creates_service_linked_role: bool = True
    """AgentCore makes its service-linked role at the first runtime in VPC mode, if the deployer may."""
    _serial: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def client(self, service: str) -> Any:
        return self.clients(service, self.region)

    @cached_property
    def account(self) -> str:
        return self.client("sts").get_caller_identity()["Account"]

    @cached_property
    def partition(self) -> str:
        return self.client("sts").meta.partition

    def unique_suffix(self) -> str:
        """What the provider appends to a ``bucketPrefix``: 26 digits, a timestamp and a counter."""
        return f"20261124000000{next(self._serial):012d}"


class Inputs(Mapping[str, Any]):
    """A resource's inputs, mock values replaced; remembers which top-level inputs the applier used."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = dict(values)
        self._read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self._read.add(key)
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def ignore(self, *keys: str) -> None:
        """Inputs that hold nothing AWS keeps (provider behaviour on delete, say): read, on purpose."""
        self._read.update(keys)

    def unread(self) -> list[str]:
        return sorted(set(self._values) - self._read)

    def values_as_declared(self) -> dict[str, Any]:
        return dict(self._values)


@dataclass
class Step:
    """One resource to create: as declared, its inputs with moto's ids, and the account."""

    declared: Declared
    inputs: Inputs
    aws: Aws

    def autoname(self, key: str = "name") -> str:
        """The input's value, else a name the way Pulumi autonames: the resource's name and 7 hex digits."""
        given = self.inputs.get(key)
        if given:
            return str(given)
        return f"{self.declared.name}-{hashlib.sha256(self.declared.urn.encode()).hexdigest()[:7]}"

    def client(self, service: str) -> Any:
        return self.aws.client(service)


Applier = Callable[[Step], Mapping[str, Any]]
"""Creates the resource in moto; returns its real ``id`` and every output the mock also computed
(``arn``, ``dnsName``, ...) whose real value other resources or the stack outputs may name."""


class Substitutions:
    """Mock value → moto's value, applied to every string inside an input or output."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def add(self, mock: Any, real: Any) -> None:
        if isinstance(mock, str) and isinstance(real, str) and mock and mock != real:
            self._values[mock] = real
            self._pattern = None

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            if value in self._values:
                return self._values[value]
            pattern = self._compiled()
            return pattern.sub(lambda m: self._values[m.group(0)], value) if pattern else value
        if isinstance(value, Mapping):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None:
            # Longest first: a resource's ARN wins over the shorter name inside it.
            long = sorted((m for m in self._values if len(m) >= SHORT), key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, long))) if long else None
        return self._pattern


def leftovers(value: Any, mock_ids: frozenset[str]) -> list[str]:
    """Mock ids and mock ARNs still inside ``value``."""
    if isinstance(value, str):
        found = [m for m in mock_ids if m in value]
        return found + ([value] if MOCK_ARN.search(value) else [])
    if isinstance(value, Mapping):
        return [f for v in value.values() for f in leftovers(v, mock_ids)]
    if isinstance(value, list | tuple):
        return [f for v in value for f in leftovers(v, mock_ids)]
    return []


def in_dependency_order(resources: list[Declared]) -> list[Declared]:
    """The custom resources, each after everything it depends on (on a component: on all inside it),
    otherwise in the order the program registered them."""
    by_urn = {r.urn: r for r in resources}

    def custom_within(urn: str) -> list[str]:
        resource = by_urn.get(urn)
        if resource is None or resource.custom:
            return [urn]
        return [u for child in resources if child.parent == urn for u in custom_within(child.urn)]

    pending = [r for r in resources if r.custom]
    needs = {r.urn: {u for d in r.dependencies for u in custom_within(d) if u != r.urn} for r in pending}
    ordered: list[Declared] = []
    done: set[str] = set()
    while pending:
        ready = next((r for r in pending if needs[r.urn] <= done), None)
        if ready is None:
            raise TranslationError(f"dependency cycle among {[r.name for r in pending]}")
        ordered.append(ready)
        done.add(ready.urn)
        pending.remove(ready)
    return ordered


@dataclass(frozen=True)
class Applied:
    """One resource made in moto: as declared, the inputs it was made with, and moto's outputs."""

    declared: Declared
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]


@dataclass
class Translation:
    substitute: Substitutions
    mock_ids: frozenset[str]
    applied: list[Applied]

    def real(self, value: Any) -> Any:
        """``value`` (an evaluated output, say) with moto's ids; an error if a mock id is left in it."""
        replaced = self.substitute(value)
        if left := leftovers(replaced, self.mock_ids):
            raise TranslationError(f"mock values left after substitution: {sorted(set(left))}")
        return replaced


def answer_data_sources(invokes: list[tuple[str, dict[str, Any]]], aws: Aws, substitute: Substitutions) -> None:
    """Ask moto what the program asked the evaluator's mocks (ops.evaluate answers with these constants)."""
    region = aws.region
    for token, args in invokes:
        function = token.rsplit(":", 1)[-1]
        if function == "getAvailabilityZones":
            described = aws.client("ec2").describe_availability_zones()["AvailabilityZones"]
            zones = {z["ZoneName"]: z["ZoneId"] for z in described}
            if zones != dict(REGION_ZONES.get(region, {})):
                raise TranslationError(f"moto's AZs in {region} are {zones}, the program chose from others")
        elif function == "getCallerIdentity":
            if aws.account != ACCOUNT_ID:
                raise TranslationError(f"moto's account is {aws.account}, the program's ARNs name {ACCOUNT_ID}")
        elif function == "getPartition":
            if aws.partition != partition_of(region)[0]:
                raise TranslationError(f"{region} is in partition {aws.partition} in moto")
        elif function == "getManagedPrefixList":
            found = aws.client("ec2").describe_managed_prefix_lists(
                Filters=[{"Name": "prefix-list-name", "Values": [args["name"]]}]
            )["PrefixLists"]
            if not found:
                raise TranslationError(f"moto has no managed prefix list {args['name']}")
            if region not in S3_PREFIX_LISTS:
                raise TranslationError(f"which S3 prefix list id the evaluator answers in {region} is not known")
            substitute.add(S3_PREFIX_LISTS[region], found[0]["PrefixListId"])
        elif function not in ("getAuthorizationToken", "getServiceAccount"):
            # (ECR push credentials and AWS's published ELB log-delivery account: nothing moto keeps.)
            raise TranslationError(f"the program reads the data source {token}: teach answer_data_sources it")


def apply(
    resources: list[Declared], invokes: list[tuple[str, dict[str, Any]]], appliers: Mapping[str, Applier], aws: Aws
) -> Translation:
    """Create ``resources`` (an evaluation's, maybe edited) in moto; see the module docstring."""
    substitute = Substitutions()
    answer_data_sources(invokes, aws, substitute)
    mock_ids = frozenset(r.id for r in resources if r.custom and r.type not in NO_AWS_STATE)
    translation = Translation(substitute, mock_ids, [])
    for declared in in_dependency_order(resources):
        if declared.type in NO_AWS_STATE:
            continue
        applier = appliers.get(declared.type)
        if applier is None:
            raise TranslationError(
                f"no applier for {declared.type} ({declared.name}): add one in tests/ops/translate_*.py, "
                "or list the type in NO_AWS_STATE if nothing of it exists in AWS"
            )
        try:
            inputs = Inputs(translation.real(declared.inputs))
        except TranslationError as error:
            raise TranslationError(f"{declared.type} {declared.name}: {error}") from None
        outputs = dict(applier(Step(declared, inputs, aws)))
        if unread := inputs.unread():
            raise TranslationError(
                f"{declared.type} {declared.name}: the applier ignores the inputs {unread}; "
                "use them, or say why AWS keeps nothing of them with Inputs.ignore"
            )
        # Every value the mock made up (a DNS name, a digest, a runtime id) may be named by others.
        made_up = {k for k, v in declared.state.items() if isinstance(v, str) and k not in declared.inputs}
        if missing := sorted(k for k in made_up - outputs.keys() if not MOCK_ARN.match(declared.state[k])):
            raise TranslationError(f"{declared.type} {declared.name}: the applier does not report {missing}")
        substitute.add(declared.id, outputs["id"])
        for key, real in outputs.items():
            substitute.add(declared.state.get(key), real)
        translation.applied.append(Applied(declared, inputs.values_as_declared(), outputs))
    return translation


def number(value: Any) -> int:
    """Pulumi hands numbers over as floats (protobuf Struct); AWS APIs want integers."""
    return int(value)


def tag_list(tags: Mapping[str, str] | None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in (tags or {}).items()]


def aws_shape(value: Any, **renames: str) -> Any:
    """A pulumi-aws nested input in the API's shape: keys in PascalCase (or as renamed), whole floats as ints."""
    if isinstance(value, Mapping):
        return {renames.get(k, k[:1].upper() + k[1:]): aws_shape(v, **renames) for k, v in value.items()}
    if isinstance(value, list):
        return [aws_shape(v, **renames) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
