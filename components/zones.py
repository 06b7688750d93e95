"""Which availability zones the stack uses.

AgentCore Runtime in VPC mode accepts subnets only in some AZs of a region, and AWS lists those by
AZ *ID* (use1-az1), not by name (us-east-1a): names are shuffled per account, IDs are not. A subnet in
an unsupported AZ makes runtime creation fail with "subnets are in unsupported availability zones"
and no further detail, so the choice is made and checked here, before anything is declared.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from components.errors import ConfigError, Problem

IDS_KEY = "deep-insight:network.availabilityZoneIds"
COUNT_KEY = "deep-insight:network.azCount"
OVERRIDE_KEY = "deep-insight:network.supportedAzIds"
REGION_KEY = "aws:region"

# AgentCore Runtime VPC mode, supported AZ IDs per region: AWS "Supported Availability Zones" table,
# snapshot 2026-08-11 (SPEC §9). Regions AWS adds later: `network.supportedAzIds`.
AGENTCORE_TABLE_DATE = "2026-08-11"
AGENTCORE_SUPPORTED_AZ_IDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "us-east-1": ("use1-az1", "use1-az2", "use1-az4"),
        "us-east-2": ("use2-az1", "use2-az2", "use2-az3"),
        "us-west-2": ("usw2-az1", "usw2-az2", "usw2-az3"),
        "ca-central-1": ("cac1-az1", "cac1-az2", "cac1-az4"),
        "sa-east-1": ("sae1-az1", "sae1-az2", "sae1-az3"),
        "eu-west-1": ("euw1-az1", "euw1-az2", "euw1-az3"),
        "eu-west-2": ("euw2-az1", "euw2-az2", "euw2-az3"),
        "eu-west-3": ("euw3-az1", "euw3-az2", "euw3-az3"),
        "eu-central-1": ("euc1-az1", "euc1-az2", "euc1-az3"),
        "eu-north-1": ("eun1-az1", "eun1-az2", "eun1-az3"),
        "eu-south-1": ("eus1-az1", "eus1-az2", "eus1-az3"),
        "eu-south-2": ("eus2-az1", "eus2-az2", "eus2-az3"),
        "ap-south-1": ("aps1-az1", "aps1-az2", "aps1-az3"),
        "ap-northeast-1": ("apne1-az1", "apne1-az2", "apne1-az4"),
        "ap-northeast-2": ("apne2-az1", "apne2-az2", "apne2-az3"),
        "ap-southeast-1": ("apse1-az1", "apse1-az2", "apse1-az3"),
        "ap-southeast-2": ("apse2-az1", "apse2-az2", "apse2-az3"),
        "ap-southeast-5": ("apse5-az1", "apse5-az2", "apse5-az3"),
        "ap-southeast-7": ("apse7-az1", "apse7-az2", "apse7-az3"),
        "us-gov-west-1": ("usgw1-az1", "usgw1-az2", "usgw1-az3"),
    }
)

MIN_ZONES = 2

AZ_ID_PATTERN = re.compile(r"^[a-z]{2,}[0-9]+-az[0-9]+$")
AZ_NAME_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]+[a-z]$")


def zone_id_sort_key(zone_id: str) -> tuple[str, int]:
    """Natural order, so use1-az10 sorts after use1-az2."""
    prefix, _, number = zone_id.rpartition("-az")
    return (prefix, int(number)) if number.isdigit() else (zone_id, -1)


def region_of_zone_id(zone_id: str) -> str | None:
    """The region whose AgentCore table lists this AZ ID, if any (used to explain a cross-region ID)."""
    prefix = zone_id.rpartition("-az")[0]
    for region, ids in AGENTCORE_SUPPORTED_AZ_IDS.items():
        if any(known.rpartition("-az")[0] == prefix for known in ids):
            return region
    return None


def _listing(ids: Sequence[str]) -> str:
    return ", ".join(sorted(ids, key=zone_id_sort_key)) or "none"


def select_zone_ids(
    region: str,
    available: Mapping[str, str],
    *,
    requested: Sequence[str] | None,
    count: int,
    supported_override: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """Return the AZ IDs to build in, in natural ID order.

    ``available`` maps the account's available AZ names to IDs in ``region`` (from
    ``aws.get_availability_zones``). ``requested`` is ``network.availabilityZoneIds``; when absent,
    the first ``count`` supported-and-available IDs are taken. ``supported_override`` replaces the
    built-in AgentCore table for this region. Raises `ConfigError` naming the offending key.
    """
    available_ids = set(available.values())
    problems: list[Problem] = []

    if supported_override is not None:
        supported = tuple(supported_override)
        foreign = [z for z in supported if z not in available_ids]
        if foreign:
            problems.append(
                Problem(
                    OVERRIDE_KEY,
                    f"{_listing(foreign)} {'is' if len(foreign) == 1 else 'are'} not an available AZ ID "
                    f"in {region} for this account; AZ IDs here: {_listing(list(available_ids))}",
                )
            )
    elif region in AGENTCORE_SUPPORTED_AZ_IDS:
        supported = AGENTCORE_SUPPORTED_AZ_IDS[region]
    else:
        raise ConfigError(
            [
                Problem(
                    REGION_KEY,
                    f"{region!r} is not in this release's AgentCore Runtime VPC table "
                    f"(regions: {', '.join(sorted(AGENTCORE_SUPPORTED_AZ_IDS))}); if AWS supports it now, "
                    f"set {OVERRIDE_KEY} to the AZ IDs AWS lists for it",
                )
            ]
        )

    usable = sorted((z for z in supported if z in available_ids), key=zone_id_sort_key)

    if requested is not None:
        for zone_id in requested:
            if zone_id in usable:
                continue
            if zone_id not in available_ids:
                home = region_of_zone_id(zone_id)
                where = f"it is an AZ ID of {home}, " if home and home != region else ""
                problems.append(
                    Problem(
                        IDS_KEY,
                        f"{zone_id} is not an available AZ in {region} for this account ({where}available "
                        f"here: {_listing(list(available_ids))}); supported here: {_listing(usable)}",
                    )
                )
            else:
                problems.append(
                    Problem(
                        IDS_KEY,
                        f"{zone_id} is not supported by AgentCore Runtime in {region}; "
                        f"supported here: {_listing(usable)}",
                    )
                )
        if problems:
            raise ConfigError(problems)
        return tuple(sorted(requested, key=zone_id_sort_key))

    if problems:
        raise ConfigError(problems)
    if count > len(usable):
        raise ConfigError(
            [
                Problem(
                    COUNT_KEY,
                    f"{count} is more than the {len(usable)} AgentCore-supported AZs available in {region} "
                    f"({_listing(usable)}); use {MIN_ZONES}..{len(usable)}"
                    if len(usable) >= MIN_ZONES
                    else f"{count} AZs wanted but only {len(usable)} AgentCore-supported AZ is available "
                    f"in {region} ({_listing(usable)}); AgentCore needs {MIN_ZONES}, so this region "
                    f"cannot host the stack for this account",
                )
            ]
        )
    return tuple(usable[:count])
