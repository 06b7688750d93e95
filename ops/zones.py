"""``deep-insight zones``: which AZ names are which AZ IDs in this account, and which AgentCore supports."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from components.aws_facts import known_regions
from components.zones import (
    AGENTCORE_SUPPORTED_AZ_IDS,
    AGENTCORE_TABLE_DATE,
    unknown_region_message,
    zone_id_sort_key,
)
from ops.console import OpsError, console, reports_errors


def account_zones(region: str) -> list[dict[str, str]]:
    """The region's regular AZs (no Local or Wavelength Zones) as this account names them."""
    from ops.stack import aws_client  # noqa: PLC0415 - boto3 loads when the command runs

    ec2 = aws_client("ec2", region)
    zones = ec2.describe_availability_zones(Filters=[{"Name": "zone-type", "Values": ["availability-zone"]}])
    return sorted(
        (
            {"name": z["ZoneName"], "id": z["ZoneId"], "state": z["State"]}
            for z in zones["AvailabilityZones"]
            if z.get("ZoneType", "availability-zone") == "availability-zone"
        ),
        key=lambda z: zone_id_sort_key(z["id"]),
    )


@reports_errors
def command(
    region: Annotated[
        str | None, typer.Option("--region", "-r", envvar="AWS_REGION", help="AWS region (default: $AWS_REGION).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show AZ names ↔ AZ IDs in the caller's account and which ones AgentCore Runtime (VPC mode) supports.

    AZ names are shuffled per account; stacks place subnets by AZ ID. Use the supported IDs in
    network.availabilityZoneIds.

    Example: deep-insight zones --region us-east-1
    """
    if not region:
        raise OpsError("no region: pass --region (e.g. --region us-east-1) or set AWS_REGION")
    if region not in known_regions():
        raise OpsError(unknown_region_message(region))
    supported = AGENTCORE_SUPPORTED_AZ_IDS.get(region)
    zones = account_zones(region)
    for zone in zones:
        zone["agentcore"] = "unknown" if supported is None else ("yes" if zone["id"] in supported else "no")
    usable = [z["id"] for z in zones if z["agentcore"] == "yes" and z["state"] == "available"]
    if as_json:
        console.print_json(json.dumps({"region": region, "zones": zones, "agentcoreZoneIds": usable}))
        return

    from rich.table import Table  # noqa: PLC0415 - rich loads on first use

    table = Table(title=f"Availability zones in {region} (this account)", title_justify="left")
    table.add_column("AZ name")
    table.add_column("AZ ID")
    table.add_column("state")
    table.add_column("AgentCore VPC mode")
    mark = {"yes": "[green]✓ supported[/green]", "no": "[red]✗ not supported[/red]", "unknown": "? not listed"}
    for zone in zones:
        table.add_row(zone["name"], zone["id"], zone["state"], mark[zone["agentcore"]])
    console.print(table)
    if supported is None:
        console.print(
            f"AgentCore's table (AWS page, snapshot {AGENTCORE_TABLE_DATE}) lists no AZs for {region}: "
            "if AWS supports it now, set network.supportedAzIds to the IDs it lists.",
            soft_wrap=True,
        )
    else:
        console.print(
            f"Usable for a stack: {', '.join(usable) or 'none'} (network.availabilityZoneIds)", soft_wrap=True
        )
