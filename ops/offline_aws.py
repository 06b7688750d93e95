"""What the offline evaluator answers in AWS's place: the mocks behind ``ops.evaluate``.

`OfflineAws` is the `pulumi.runtime.Mocks` the program runs against. It answers the invokes the program
makes (AZ lookup, caller identity, partition, S3 prefix list, ECR token, ELB account) the way one real
account in the stack's region would, and gives each new resource the ids, ARNs and names AWS (or Docker)
would compute, so that what depends on them (policies, IAM conditions, digests) reads like a deployment.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import pulumi

from components.remote_build import WHAT_IS_BUILT
from components.settings_schema import SETTINGS

REMOTE_IMAGE_BUILD = "pulumi-python:dynamic/images:RemoteImageBuild"

# AZ name -> AZ ID as one real account sees them. Names are shuffled per account (that is the point of
# placing subnets by ID); us-east-1 is the mapping moto and SPEC §11 use: 1a is the unsupported az6.
REGION_ZONES: Mapping[str, Mapping[str, str]] = {
    "us-east-1": {
        "us-east-1a": "use1-az6",
        "us-east-1b": "use1-az1",
        "us-east-1c": "use1-az2",
        "us-east-1d": "use1-az4",
        "us-east-1e": "use1-az3",
        "us-east-1f": "use1-az5",
    },
    "us-east-2": {"us-east-2a": "use2-az1", "us-east-2b": "use2-az2", "us-east-2c": "use2-az3"},
    "us-west-2": {
        "us-west-2a": "usw2-az2",
        "us-west-2b": "usw2-az1",
        "us-west-2c": "usw2-az3",
        "us-west-2d": "usw2-az4",
    },
    "ca-central-1": {"ca-central-1a": "cac1-az1", "ca-central-1b": "cac1-az2", "ca-central-1d": "cac1-az4"},
    "sa-east-1": {"sa-east-1a": "sae1-az1", "sa-east-1b": "sae1-az2", "sa-east-1c": "sae1-az3"},
    "eu-west-1": {"eu-west-1a": "euw1-az3", "eu-west-1b": "euw1-az1", "eu-west-1c": "euw1-az2"},
    "eu-west-2": {"eu-west-2a": "euw2-az2", "eu-west-2b": "euw2-az3", "eu-west-2c": "euw2-az1"},
    "eu-west-3": {"eu-west-3a": "euw3-az1", "eu-west-3b": "euw3-az2", "eu-west-3c": "euw3-az3"},
    "eu-central-1": {"eu-central-1a": "euc1-az2", "eu-central-1b": "euc1-az3", "eu-central-1c": "euc1-az1"},
    "eu-north-1": {"eu-north-1a": "eun1-az1", "eu-north-1b": "eun1-az2", "eu-north-1c": "eun1-az3"},
    "eu-south-1": {"eu-south-1a": "eus1-az1", "eu-south-1b": "eus1-az2", "eu-south-1c": "eus1-az3"},
    "eu-south-2": {"eu-south-2a": "eus2-az1", "eu-south-2b": "eus2-az2", "eu-south-2c": "eus2-az3"},
    "ap-south-1": {"ap-south-1a": "aps1-az1", "ap-south-1b": "aps1-az3", "ap-south-1c": "aps1-az2"},
    "ap-northeast-1": {"ap-northeast-1a": "apne1-az4", "ap-northeast-1c": "apne1-az1", "ap-northeast-1d": "apne1-az2"},
    "ap-northeast-2": {
        "ap-northeast-2a": "apne2-az1",
        "ap-northeast-2b": "apne2-az2",
        "ap-northeast-2c": "apne2-az3",
        "ap-northeast-2d": "apne2-az4",
    },
    "ap-southeast-1": {"ap-southeast-1a": "apse1-az2", "ap-southeast-1b": "apse1-az1", "ap-southeast-1c": "apse1-az3"},
    "ap-southeast-2": {"ap-southeast-2a": "apse2-az3", "ap-southeast-2b": "apse2-az1", "ap-southeast-2c": "apse2-az2"},
    "ap-southeast-5": {"ap-southeast-5a": "apse5-az1", "ap-southeast-5b": "apse5-az2", "ap-southeast-5c": "apse5-az3"},
    "ap-southeast-7": {"ap-southeast-7a": "apse7-az1", "ap-southeast-7b": "apse7-az2", "ap-southeast-7c": "apse7-az3"},
    "us-gov-west-1": {"us-gov-west-1a": "usgw1-az1", "us-gov-west-1b": "usgw1-az2", "us-gov-west-1c": "usgw1-az3"},
    # Not in AgentCore's VPC table: for the "unknown region" path and supportedAzIds overrides.
    "ap-northeast-3": {"ap-northeast-3a": "apne3-az1", "ap-northeast-3b": "apne3-az2", "ap-northeast-3c": "apne3-az3"},
}

ACCOUNT_ID = "123456789012"
# The ELB log-delivery account of each region (AWS's published list; us-east-1 is 127311923021,
# us-gov-west-1 048591011584).
ELB_ACCOUNTS: Mapping[str, str] = {"us-east-1": "127311923021", "us-gov-west-1": "048591011584"}

# The AWS-managed S3 prefix list id per region (pl-63a5400a is us-east-1's real one).
S3_PREFIX_LISTS: Mapping[str, str] = {"us-east-1": "pl-63a5400a"}


class UnansweredInvoke(LookupError):
    """The program called a data source the offline evaluator does not know."""


def offline_zones(region: str, config: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    """AZ name -> ID for the AZ lookup, and a warning when the region's AZs are not known offline.

    For a region outside the table (the case ``network.supportedAzIds`` exists for) the configured AZ IDs
    are assumed to exist, named ``<region>a``, ``<region>b``, ... in order: whether the account has them
    is checked at ``pulumi preview``, not here.
    """
    if region in REGION_ZONES:
        return dict(REGION_ZONES[region]), None
    ids: list[str] = []
    for key in (SETTINGS["network.availabilityZoneIds"].key, SETTINGS["network.supportedAzIds"].key):
        try:
            listed = json.loads(config.get(key, "[]"))
        except ValueError:
            continue  # the settings report the bad value
        ids += [i for i in listed if isinstance(i, str) and i not in ids] if isinstance(listed, list) else []
    if not ids:
        return {}, None
    letters = "abcdefghijklmnopqrstuvwxyz"
    zones = {f"{region}{letters[n]}": zone_id for n, zone_id in enumerate(ids[: len(letters)])}
    return zones, f"{region}'s AZs are not known offline: assumed {', '.join(ids)} exist in the account"


def partition_of(region: str) -> tuple[str, str]:
    """The partition and DNS suffix a region belongs to (what ``aws.get_partition`` answers there)."""
    if region.startswith("us-gov-"):
        return "aws-us-gov", "amazonaws.com"
    if region.startswith("cn-"):
        return "aws-cn", "amazonaws.com.cn"
    return "aws", "amazonaws.com"


class OfflineAws(pulumi.runtime.Mocks):
    """One account in ``region``, as the program's invokes and new resources see it.

    Every invoke is appended to ``invokes`` (token, arguments); ``warning`` says what was assumed about
    a region whose AZs are not known offline.
    """

    def __init__(self, region: str, config: Mapping[str, str], invokes: list[tuple[str, dict[str, Any]]]) -> None:
        self._region = region
        self._partition, self._dns_suffix = partition_of(region)
        self._invokes = invokes
        self._zones, self.warning = offline_zones(region, config)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        kind = args.typ.rsplit(":", 1)[-1].lower()
        # Ids follow from type and name only, so two runs of an unchanged program declare identical inputs.
        resource_id = f"{kind}-{_digest_of({'type': args.typ, 'name': args.name})[:8]}"
        state = dict(args.inputs)
        state.update(_computed_outputs(args.typ, args.name, resource_id, state, self._region))
        state.setdefault("arn", f"arn:{self._partition}:mock:{self._region}:{ACCOUNT_ID}:{kind}/{resource_id}")
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        self._invokes.append((args.token, dict(args.args)))
        region = self._region
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            zones = self._zones
            return {
                "names": list(zones),
                "zoneIds": list(zones.values()),
                "groupNames": [region] * len(zones),
                "id": region,
                "state": "available",
            }, []
        if args.token == "aws:ec2/getManagedPrefixList:getManagedPrefixList":
            # AWS names the S3 prefix list com.amazonaws.<region>.s3, in GovCloud too.
            if args.args.get("name") != f"com.amazonaws.{region}.s3":
                raise UnansweredInvoke(f"no managed prefix list named {args.args.get('name')!r} in {region}")
            return {
                "id": S3_PREFIX_LISTS.get(region, f"pl-s3-{region}"),
                "name": args.args.get("name"),
                "addressFamily": "IPv4",
                "maxEntries": 0,
                "ownerId": "AWS",
            }, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{self._partition}:iam::{ACCOUNT_ID}:user/deployer",
                "userId": "AIDAMOCKDEPLOYER",
                "id": ACCOUNT_ID,
            }, []
        if args.token == "aws:index/getPartition:getPartition":
            return {
                "partition": self._partition,
                "dnsSuffix": self._dns_suffix,
                "id": self._partition,
                "reverseDnsPrefix": ".".join(reversed(self._dns_suffix.split("."))),
            }, []
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            registry = f"{ACCOUNT_ID}.dkr.ecr.{region}.{self._dns_suffix}"
            return {
                "authorizationToken": "QVdTOm1vY2s=",
                "userName": "AWS",
                "password": "mock-ecr-password",
                "proxyEndpoint": f"https://{registry}",
                "expiresAt": "2030-01-01T00:00:00Z",
                "id": region,
            }, []
        if args.token == "aws:elb/getServiceAccount:getServiceAccount":
            elb_account = ELB_ACCOUNTS.get(region, "000000000000")
            return {"arn": f"arn:{self._partition}:iam::{elb_account}:root", "id": elb_account}, []
        raise UnansweredInvoke(
            f"the offline evaluator has no answer for invoke {args.token}; add one to OfflineAws.call"
        )


def _digest_of(inputs: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


def _computed_outputs(
    type_token: str, name: str, resource_id: str, inputs: Mapping[str, Any], region: str
) -> dict[str, Any]:
    """What AWS (or Docker) would compute for a resource: ARNs, URLs, names, digests."""
    partition, dns_suffix = partition_of(region)
    prefix = f"arn:{partition}:{{}}:{region}:{ACCOUNT_ID}"
    physical = inputs.get("name") or f"{name}-{resource_id[-5:]}"
    if type_token == "aws:s3/bucket:Bucket":
        bucket = inputs.get("bucket") or f"{inputs.get('bucketPrefix', name + '-')}{resource_id[-5:]}"
        return {"bucket": bucket, "arn": f"arn:{partition}:s3:::{bucket}", "id": bucket}
    if type_token == "aws:ecr/repository:Repository":
        return {
            "name": physical,
            "arn": f"{prefix.format('ecr')}:repository/{physical}",
            "registryId": ACCOUNT_ID,
            "repositoryUrl": f"{ACCOUNT_ID}.dkr.ecr.{region}.{dns_suffix}/{physical}",
        }
    if type_token == "aws:iam/role:Role":
        return {"name": physical, "arn": f"arn:{partition}:iam::{ACCOUNT_ID}:role/{physical}"}
    if type_token == "aws:iam/policy:Policy":
        policy_name = inputs.get("name") or f"{inputs.get('namePrefix', name + '-')}{resource_id[-5:]}"
        return {"name": policy_name, "arn": f"arn:{partition}:iam::{ACCOUNT_ID}:policy/{policy_name}"}
    if type_token == "aws:ecs/cluster:Cluster":
        return {"name": physical, "arn": f"{prefix.format('ecs')}:cluster/{physical}"}
    if type_token == "aws:ecs/taskDefinition:TaskDefinition":
        family = inputs["family"]
        return {
            "revision": 1,
            "arn": f"{prefix.format('ecs')}:task-definition/{family}:1",
            "arnWithoutRevision": f"{prefix.format('ecs')}:task-definition/{family}",
        }
    if type_token == "aws:cloudwatch/logGroup:LogGroup":
        return {"name": physical, "arn": f"{prefix.format('logs')}:log-group:{physical}"}
    if type_token == "aws:lb/loadBalancer:LoadBalancer":
        lb_name = physical[:32]
        return {
            "name": lb_name,
            "arn": f"{prefix.format('elasticloadbalancing')}:loadbalancer/app/{lb_name}/50dc6c495c0c9188",
            "dnsName": f"internal-{lb_name}-1234567890.{region}.elb.{dns_suffix}",
        }
    if type_token == "aws:lb/listener:Listener":
        lb_arn = inputs["loadBalancerArn"]
        return {"arn": f"{lb_arn.replace(':loadbalancer/', ':listener/')}/f2f7dc8efc522ab2"}
    if type_token == "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime":
        runtime_id = f"{inputs['agentRuntimeName']}-{_digest_of({'n': name})[:10]}"
        return {
            "agentRuntimeId": runtime_id,
            "agentRuntimeArn": f"{prefix.format('bedrock-agentcore')}:runtime/{runtime_id}",
            # A new version whenever the runtime's configuration (its image, say) changes.
            "agentRuntimeVersion": str(int(_digest_of(inputs)[:4], 16) % 999 + 1),
        }
    if type_token == "aws:bedrock/agentcoreAgentRuntimeEndpoint:AgentcoreAgentRuntimeEndpoint":
        runtime_id = inputs["agentRuntimeId"]
        return {
            "agentRuntimeEndpointArn": (
                f"{prefix.format('bedrock-agentcore')}:runtime/{runtime_id}/runtime-endpoint/{inputs['name']}"
            ),
            "agentRuntimeArn": f"{prefix.format('bedrock-agentcore')}:runtime/{runtime_id}",
        }
    if type_token == "aws:codebuild/project:Project":
        return {"name": physical, "arn": f"{prefix.format('codebuild')}:project/{physical}"}
    if type_token == REMOTE_IMAGE_BUILD:
        # CodeBuild's push: the digest follows from what was built (components.remote_build.WHAT_IS_BUILT).
        digest = f"sha256:{_digest_of({key: inputs.get(key) for key in WHAT_IS_BUILT})}"
        return {"digest": digest, "image_uri": f"{inputs['repository_url']}@{digest}", "build_id": f"{name}:mock"}
    if type_token == "docker:index/image:Image":
        # The pushed image's digest follows from what was built: the context tag and the platform.
        repository = str(inputs["imageName"]).rsplit(":", 1)[0]
        return {"repoDigest": f"{repository}@sha256:{_digest_of(inputs)}"}
    return {}
