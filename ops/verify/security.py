"""Security group checks: no open ingress, exactly the designed rules, the executor's internet egress."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.endpoints import service_name
from components.security import INTERNET, Group, Peer, paths
from components.settings import NatStrategy
from ops.verify.context import CheckList, Context, Result, listing, verdict

CHECKS = CheckList()
check = CHECKS.add

IPV6_INTERNET = "::/0"


def peer_of(ctx: Context, rule: Mapping[str, Any], s3_prefix_list: str | None) -> str:
    if "ReferencedGroupInfo" in rule:
        return ctx.group_name(rule["ReferencedGroupInfo"].get("GroupId", "?"))
    if rule.get("PrefixListId"):
        return Peer.S3.value if rule["PrefixListId"] == s3_prefix_list else rule["PrefixListId"]
    return rule.get("CidrIpv4") or rule.get("CidrIpv6") or "?"


def ports(rule: Mapping[str, Any]) -> str:
    protocol = {"6": "tcp", "17": "udp", "-1": "all"}.get(str(rule.get("IpProtocol")), str(rule.get("IpProtocol")))
    if protocol == "all":
        return "all traffic"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    return f"{protocol}/{low}" if low == high else f"{protocol}/{low}-{high}"


@check("Open ingress")
def open_ingress(ctx: Context) -> Result:
    names = {**ctx.vpc_groups, **{gid: role for role, gid in ctx.groups.items()}}  # ours by role: "alb"
    open_rules = [
        f"{names.get(r['GroupId'], r['GroupId'])} group allows {ports(r)} from {r.get('CidrIpv4') or r.get('CidrIpv6')}"
        for r in ctx.rules
        if not r.get("IsEgress") and (r.get("CidrIpv4") == INTERNET or r.get("CidrIpv6") == IPV6_INTERNET)
    ]
    return verdict(open_rules, f"no ingress from 0.0.0.0/0 or ::/0 in any of the VPC's {len(names)} security groups")


@check("Security group rules")
def security_group_rules(ctx: Context) -> Result:
    lists = ctx.client("ec2").describe_managed_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": [service_name(ctx.region, "s3")]}]
    )["PrefixLists"]
    s3_list = lists[0]["PrefixListId"] if lists else None
    designed = paths(
        nat=ctx.settings.network.nat_gateways is not NatStrategy.NONE,
        executor_internet_access=ctx.settings.executor.internet_access,
    )
    expected: set[str] = set()
    for path in designed:
        peer = INTERNET if path.target is Peer.INTERNET else path.target.value
        expected.add(f"{path.source.value} egress tcp/{path.port} to {peer}")
        if isinstance(path.target, Group):
            expected.add(f"{path.target.value} ingress tcp/{path.port} from {path.source.value}")
    ours = {gid: role for role, gid in ctx.groups.items()}
    actual = {
        f"{ours[r['GroupId']]} {'egress' if r.get('IsEgress') else 'ingress'} {ports(r)} "
        f"{'to' if r.get('IsEgress') else 'from'} {peer_of(ctx, r, s3_list)}"
        for r in ctx.rules
        if r.get("GroupId") in ours
    }
    problems = [f"missing {rule}" for rule in sorted(expected - actual)]
    problems += [f"unexpected {rule}" for rule in sorted(actual - expected)]
    return verdict(problems, f"the {len(ours)} groups hold exactly the {len(expected)} designed rules")


@check("Executor egress")
def executor_egress(ctx: Context) -> Result:
    executor = ctx.groups[Group.EXECUTOR.value]
    internet = [
        r
        for r in ctx.rules
        if r.get("GroupId") == executor
        and r.get("IsEgress")
        and (r.get("CidrIpv4") == INTERNET or r.get("CidrIpv6") == IPV6_INTERNET)
    ]
    described = listing(f"{ports(r)} to {r.get('CidrIpv4') or r.get('CidrIpv6')}" for r in internet)
    if not ctx.settings.executor.internet_access:
        if internet:
            return False, f"executor group allows {described}; executor.internetAccess is false"
        return True, "no egress to 0.0.0.0/0 or ::/0: code in the executor cannot reach the internet"
    allowed = {"tcp/80", "tcp/443"}
    extra = [r for r in internet if ports(r) not in allowed or r.get("CidrIpv6")]
    if extra:
        return False, f"executor group allows {described}; executor.internetAccess allows tcp/80 and tcp/443 only"
    return True, "internet egress limited to tcp/80 and tcp/443 (executor.internetAccess true)"
