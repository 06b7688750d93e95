"""Internal ALB checks: the load balancer and its listener."""

from __future__ import annotations

from components.security import Group
from ops.verify.context import CheckList, Context, Result, listing, verdict

CHECKS = CheckList()
check = CHECKS.add


@check("ALB")
def alb(ctx: Context) -> Result:
    elbv2, arn, settings = ctx.client("elbv2"), ctx.outputs["albArn"], ctx.settings.alb
    found = elbv2.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]
    problems: list[str] = []
    if found.get("Scheme") != "internal":
        problems.append(f"scheme is {found.get('Scheme')}, expected internal")
    if found.get("Type") != "application":
        problems.append(f"type is {found.get('Type')}, expected application")
    state = found.get("State", {}).get("Code")
    if state != "active":
        problems.append(f"state is {state}, expected active")
    if set(found.get("SecurityGroups", [])) != {ctx.groups[Group.ALB.value]}:
        problems.append(f"security groups are {listing(found.get('SecurityGroups', []))}, expected the alb group")
    if {z.get("SubnetId") for z in found.get("AvailabilityZones", [])} != set(ctx.private_subnets):
        problems.append("not in exactly the private subnets")
    attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
    enabled = {a["Key"] for a in attributes if str(a.get("Value")).lower() == "true"}
    optional = {  # attribute: (wanted, setting, shown as)
        "deletion_protection.enabled": (settings.deletion_protection, "alb.deletionProtection", "deletion protection"),
        "access_logs.s3.enabled": (settings.access_logs, "alb.accessLogs", "access logs"),
    }
    for key, (wanted, setting, _) in optional.items():
        if (key in enabled) != wanted:
            problems.append(f"{key} is {str(key in enabled).lower()}, expected {str(wanted).lower()} ({setting})")
    extras = " and ".join(shown for wanted, _, shown in optional.values() if wanted)
    with_extras = f", with {extras}" if extras else ""
    return verdict(
        problems, f"{found.get('LoadBalancerName')} is internal, active, in the private subnets{with_extras}"
    )


@check("ALB listener")
def alb_listener(ctx: Context) -> Result:
    listener = ctx.client("elbv2").describe_listeners(ListenerArns=[ctx.outputs["listenerArn"]])["Listeners"][0]
    problems: list[str] = []
    if listener.get("LoadBalancerArn") != ctx.outputs["albArn"]:
        problems.append("belongs to another load balancer")
    if (listener.get("Protocol"), listener.get("Port")) != ("HTTP", 80):
        problems.append(f"is {listener.get('Protocol')}:{listener.get('Port')}, expected HTTP:80")
    actions = listener.get("DefaultActions", [])
    fixed = [a for a in actions if a.get("Type") == "fixed-response"]
    status = fixed[0].get("FixedResponseConfig", {}).get("StatusCode") if fixed else None
    if len(actions) != 1 or status != "404":
        shown = listing(
            f"{a.get('Type')} {a.get('FixedResponseConfig', {}).get('StatusCode', '')}".strip() for a in actions
        )
        problems.append(f"default action is {shown}, expected fixed-response 404 (sessions route by header rule only)")
    return verdict(problems, "HTTP:80, default action fixed-response 404")
