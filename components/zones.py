"""Which availability zones the stack uses.

AgentCore Runtime in VPC mode accepts subnets only in some AZs of a region, and AWS lists those by
AZ *ID* (use1-az1), not by name (us-east-1a): names are shuffled per account, IDs are not. A subnet in
an unsupported AZ makes runtime creation fail with "subnets are in unsupported availability zones"
and no further detail, so the choice is made and checked here, before anything is declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from components.aws_facts import (
    AGENTCORE_SUPPORTED_AZ_IDS,
    AGENTCORE_TABLE_DATE,
    AZ_ID_PATTERN,
    AZ_NAME_PATTERN,
    known_regions,
    unknown_region_message,
)
from components.errors import ConfigError, Problem
from components.settings_schema import MIN_ZONES, REGION_KEY, SETTINGS

__all__ = [
    "AGENTCORE_SUPPORTED_AZ_IDS",
    "AGENTCORE_TABLE_DATE",
    "AZ_ID_PATTERN",
    "AZ_NAME_PATTERN",
    "MIN_ZONES",
    "region_of_zone_id",
    "select_zone_ids",
    "unknown_region_message",
    "zone_id_sort_key",
]

IDS_KEY = SETTINGS["network.availabilityZoneIds"].key
COUNT_KEY = SETTINGS["network.azCount"].key
OVERRIDE_KEY = SETTINGS["network.supportedAzIds"].key


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
    elif region not in known_regions():
        raise ConfigError([Problem(REGION_KEY, unknown_region_message(region))])
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
