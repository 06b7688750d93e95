"""What `plan` shows beyond counts: where the subnets go, and what `pulumi destroy` will not delete."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ops.evaluate import Evaluation

SUBNET = "aws:ec2/subnet:Subnet"
TIERS = ("private", "agent", "public")
"""components.network's subnet tiers, named ``network-<tier>-<AZ ID>``."""


def zones(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Each chosen AZ ID, in the stack's order, with the CIDR of each of its subnets by tier."""
    chosen = list(evaluation.outputs.get("availabilityZoneIds") or [])
    by_zone: dict[str, dict[str, str]] = {zone: {} for zone in chosen}
    for subnet in evaluation.of_type(SUBNET):
        zone = subnet.inputs.get("availabilityZoneId")
        tier = subnet.name.removeprefix("network-").removesuffix(f"-{zone}")
        if zone in by_zone and tier in TIERS:
            by_zone[zone][tier] = subnet.inputs["cidrBlock"]
    return [
        {"azId": zone, "subnets": {tier: by_zone[zone][tier] for tier in TIERS if tier in by_zone[zone]}}
        for zone in chosen
    ]


def kept_on_destroy(evaluation: Evaluation) -> dict[str, list[str]]:
    """Resources `pulumi destroy` refuses (``protect``) and those it leaves in AWS (``retainOnDelete``)."""
    custom = [r for r in evaluation.resources if r.custom]
    return {
        "protected": sorted(r.name for r in custom if r.protect),
        "retainedOnDelete": sorted(r.name for r in custom if r.retain_on_delete),
    }
