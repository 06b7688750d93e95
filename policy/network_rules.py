"""Network rules: no path in from the internet, internal load balancers, AgentCore in VPC mode, subnets
placed by AZ ID, interface endpoints with private DNS, endpoint policies on every VPC endpoint, and log groups
that do not keep events forever."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator, Mapping
from typing import Any

from pulumi_policy import ResourceValidationArgs

if __package__:  # imported as part of the policy package (the tests, deep-insight plan)
    from . import rule_kit
else:  # run by the Pulumi CLI, with the pack's directory as sys.path[0]
    import rule_kit  # pyright: ignore[reportMissingImports]


def _anywhere(cidr: Any) -> bool:
    """0.0.0.0/0, ::/0 and every other spelling of a /0."""
    try:
        return ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0
    except ValueError:
        return False


def _ports(rule: Mapping[str, Any]) -> str:
    def shown(port: Any) -> str:  # ports arrive as floats (443.0)
        return f"{port:g}" if isinstance(port, int | float) else str(port)

    low, high = rule.get("fromPort"), rule.get("toPort")
    if low is None:
        return "all ports"
    return f"port {shown(low)}" if low == high else f"ports {shown(low)}-{shown(high)}"


@rule_kit.resource_rule(
    "no-internet-ingress",
    "Security groups admit no traffic from 0.0.0.0/0 or ::/0: every path into the VPC's groups names its peer.",
    (rule_kit.SECURITY_GROUP, rule_kit.INGRESS_RULE, rule_kit.SECURITY_GROUP_RULE),
)
def no_internet_ingress(args: ResourceValidationArgs) -> Iterator[str]:
    props = args.props
    if args.resource_type == rule_kit.SECURITY_GROUP:
        for index, rule in enumerate(map(rule_kit.as_map, rule_kit.as_list(props.get("ingress")))):
            for key in ("cidrBlocks", "ipv6CidrBlocks"):
                for cidr in rule_kit.as_list(rule.get(key)):
                    if _anywhere(cidr):
                        yield f"inline ingress[{index}].{key} admits {cidr} on {_ports(rule)}"
    elif args.resource_type == rule_kit.INGRESS_RULE:
        for key in ("cidrIpv4", "cidrIpv6"):
            if _anywhere(props.get(key)):
                yield f"{key} {props.get(key)} admits the whole internet on {_ports(props)}"
    elif props.get("type") == "ingress":
        for key in ("cidrBlocks", "ipv6CidrBlocks"):
            for cidr in rule_kit.as_list(props.get(key)):
                if _anywhere(cidr):
                    yield f"ingress rule {key} admits {cidr} on {_ports(props)}"


@rule_kit.resource_rule(
    "alb-internal",
    "Load balancers are internal: the executor ALB is reached only from the agent's security group.",
    rule_kit.LOAD_BALANCERS,
)
def alb_internal(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("internal") is not True:
        yield f"internal is {args.props.get('internal')!r}, so the load balancer is internet-facing; set internal=True"


@rule_kit.resource_rule(
    "agentcore-runtime-vpc-mode",
    "AgentCore runtimes run in VPC mode, with subnets and security groups (networkModeConfig).",
    (rule_kit.AGENT_RUNTIME,),
)
def agentcore_runtime_vpc_mode(args: ResourceValidationArgs) -> Iterator[str]:
    network = rule_kit.as_map(args.props.get("networkConfiguration"))
    mode = network.get("networkMode")
    if mode != "VPC":
        yield f"networkConfiguration.networkMode is {mode!r}, not 'VPC'"
        return
    config = rule_kit.as_map(network.get("networkModeConfig"))
    for key in ("subnets", "securityGroups"):
        if rule_kit.count(config.get(key)) == 0:
            yield f"networkConfiguration.networkModeConfig.{key} is empty; VPC mode needs the agent {key}"


@rule_kit.resource_rule(
    "subnet-placed-by-az-id",
    "Subnets are placed by availabilityZoneId, never by AZ name (names map to different AZs in each account).",
    (rule_kit.SUBNET,),
)
def subnet_placed_by_az_id(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("availabilityZone"):
        yield (
            f"availabilityZone is {args.props.get('availabilityZone')!r}; an AZ name is a different AZ in each "
            "account: set availabilityZoneId instead"
        )
    if not args.props.get("availabilityZoneId"):
        yield "availabilityZoneId is not set; place the subnet in an AgentCore-supported AZ ID"


@rule_kit.resource_rule(
    "interface-endpoint-private-dns",
    "Interface VPC endpoints enable private DNS, so the SDKs' default hostnames resolve to them.",
    (rule_kit.VPC_ENDPOINT,),
)
def interface_endpoint_private_dns(args: ResourceValidationArgs) -> Iterator[str]:
    if args.props.get("vpcEndpointType") == "Interface" and args.props.get("privateDnsEnabled") is not True:
        service = args.props.get("serviceName")
        yield f"interface endpoint for {service} has privateDnsEnabled {args.props.get('privateDnsEnabled')!r}"


def _any(value: Any, anything: tuple[Any, ...]) -> bool:
    return any(item in anything or (isinstance(item, str) and item.endswith(":*")) for item in rule_kit.as_list(value))


def open_statements(document: Any) -> list[str]:
    """Allow statements that let every principal do every action on every resource, unconditionally: what AWS's
    default endpoint policy is (``service:*`` counts as every action, since an endpoint reaches one service)."""
    found = []
    statements = rule_kit.as_map(document).get("Statement")
    for index, statement in enumerate(map(rule_kit.as_map, rule_kit.as_list(statements))):
        principal = statement.get("Principal")
        if (
            statement.get("Effect") == "Allow"
            and not statement.get("Condition")
            and (principal == "*" or _any(rule_kit.as_map(principal).get("AWS"), ("*",)))
            and _any(statement.get("Action"), ("*",))
            and _any(statement.get("Resource"), ("*",))
        ):
            found.append(str(statement.get("Sid") or f"Statement[{index}]"))
    return found


@rule_kit.resource_rule(
    "vpc-endpoint-policy",
    "VPC endpoints carry an endpoint policy (without one AWS attaches full access: any credentials, any "
    "resource), and it has no Allow statement that admits every principal to everything without a condition.",
    (rule_kit.VPC_ENDPOINT,),
)
def vpc_endpoint_policy(args: ResourceValidationArgs) -> Iterator[str]:
    text = args.props.get("policy")
    service = args.props.get("serviceName")
    if not text:
        yield (
            f"endpoint for {service} has no policy, so AWS attaches full access for any principal; set one "
            "(components.endpoint_policies)"
        )
        return
    try:
        document = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        yield f"endpoint for {service}: policy is not valid JSON"
        return
    for label in open_statements(document):
        yield f"endpoint for {service}: {label} allows every principal everything, as AWS's default policy does"


@rule_kit.resource_rule(
    "log-group-retention",
    "CloudWatch log groups set a retention (deep-insight:logRetentionDays), never keep-forever.",
    (rule_kit.LOG_GROUP,),
)
def log_group_retention(args: ResourceValidationArgs) -> Iterator[str]:
    days = args.props.get("retentionInDays")
    if not days or days <= 0:
        yield f"retentionInDays is {days!r}, so events are kept forever; set logRetentionDays"
