"""select_zone_ids: AgentCore-supported AZ IDs, chosen deterministically, or a precise error."""

from __future__ import annotations

import re

import pytest

from components.aws_facts import REGION_PATTERN
from components.errors import ConfigError
from components.zones import (
    AGENTCORE_SUPPORTED_AZ_IDS,
    AGENTCORE_TABLE_DATE,
    region_of_zone_id,
    select_zone_ids,
    zone_id_sort_key,
)
from ops.evaluate import REGION_ZONES
from ops.project import PROJECT_DIR

US_EAST_1 = REGION_ZONES["us-east-1"]  # 1a is use1-az6: unsupported, and first by name


def select(region="us-east-1", available=None, requested=None, count=2, override=None):
    return select_zone_ids(
        region,
        REGION_ZONES[region] if available is None else available,
        requested=requested,
        count=count,
        supported_override=override,
    )


def error_of(**kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        select(**kwargs)
    return caught.value


def test_count_picks_supported_ids_not_the_first_names():
    assert select(count=2) == ("use1-az1", "use1-az2")
    assert select(count=3) == ("use1-az1", "use1-az2", "use1-az4")


def test_order_does_not_depend_on_the_account_name_mapping():
    shuffled = dict(reversed(list(US_EAST_1.items())))
    assert select(available=shuffled, count=3) == select(count=3)


def test_requested_ids_are_returned_in_natural_order():
    assert select(requested=["use1-az4", "use1-az1"]) == ("use1-az1", "use1-az4")
    assert zone_id_sort_key("use1-az10") > zone_id_sort_key("use1-az2")


def test_unsupported_id_message_lists_the_alternatives():
    error = error_of(requested=["use1-az1", "use1-az6"])
    assert str(error) == (
        "deep-insight:network.availabilityZoneIds: use1-az6 is not supported by AgentCore Runtime in "
        "us-east-1; supported here: use1-az1, use1-az2, use1-az4"
    )


def test_id_from_another_region_is_explained():
    error = error_of(requested=["use1-az1", "usw2-az1"])
    assert error.keys == ("deep-insight:network.availabilityZoneIds",)
    assert "usw2-az1 is not an available AZ in us-east-1" in str(error)
    assert "AZ ID of us-west-2" in str(error)


def test_id_missing_from_this_account_is_reported():
    without_az4 = {name: zone for name, zone in US_EAST_1.items() if zone != "use1-az4"}
    error = error_of(available=without_az4, requested=["use1-az1", "use1-az4"])
    assert "use1-az4 is not an available AZ in us-east-1 for this account" in str(error)
    assert "supported here: use1-az1, use1-az2" in str(error)


def test_count_larger_than_supported():
    error = error_of(count=4)
    assert error.keys == ("deep-insight:network.azCount",)
    assert "4 is more than the 3 AgentCore-supported AZs available in us-east-1" in str(error)
    assert "use 2..3" in str(error)


def test_count_limited_by_what_the_account_has():
    only_two = {name: zone for name, zone in US_EAST_1.items() if zone in ("use1-az1", "use1-az2", "use1-az6")}
    assert "3 is more than the 2" in str(error_of(available=only_two, count=3))


def test_region_missing_from_the_table_needs_an_override():
    error = error_of(region="ap-northeast-3")
    assert error.keys == ("aws:region",)
    assert "deep-insight:network.supportedAzIds" in str(error)


def test_override_makes_a_new_region_usable():
    assert select(region="ap-northeast-3", override=["apne3-az3", "apne3-az1"], count=2) == ("apne3-az1", "apne3-az3")


def test_override_replaces_the_table_for_a_known_region():
    assert select(override=["use1-az5", "use1-az6"], count=2) == ("use1-az5", "use1-az6")


def test_override_with_ids_of_another_region_is_rejected():
    error = error_of(region="ap-northeast-3", override=["use1-az1", "apne3-az1"])
    assert error.keys == ("deep-insight:network.supportedAzIds",)
    assert "use1-az1 is not an available AZ ID in ap-northeast-3" in str(error)


def test_region_with_fewer_than_two_usable_zones():
    error = error_of(override=["use1-az1"], count=2)
    assert "AgentCore needs 2" in str(error)


def spec_table() -> dict[str, tuple[str, ...]]:
    """SPEC §9's copy of AWS's "Supported Availability Zones" table, read from the document itself."""
    text = (PROJECT_DIR.parent / "shared" / "SPEC.md").read_text(encoding="utf-8")
    section = " ".join(text.split("## 9. Facts from AWS to build on", 1)[1].split(".\nAZ names", 1)[0].split())
    table: dict[str, tuple[str, ...]] = {}
    for entry in section.split("snapshot", 1)[1].split("):", 1)[1].split(" · "):
        match = re.fullmatch(r"\s*([a-z-]+-\d)(?: \([^)]*\))? ([a-z0-9]+)-(az\d(?:, az\d)*)\s*", entry)
        assert match, entry
        region, prefix, zones = match.groups()
        table[region] = tuple(f"{prefix}-{zone}" for zone in zones.split(", "))
    return table


def test_table_matches_spec():
    assert AGENTCORE_TABLE_DATE == "2026-08-11"
    expected = spec_table()
    assert len(expected) == 20
    assert dict(AGENTCORE_SUPPORTED_AZ_IDS) == expected
    assert AGENTCORE_SUPPORTED_AZ_IDS["us-east-1"] == ("use1-az1", "use1-az2", "use1-az4")
    assert AGENTCORE_SUPPORTED_AZ_IDS["ap-northeast-1"] == ("apne1-az1", "apne1-az2", "apne1-az4")
    assert region_of_zone_id("apne1-az4") == "ap-northeast-1"
    assert region_of_zone_id("xyz9-az1") is None


@pytest.mark.parametrize("region", sorted(AGENTCORE_SUPPORTED_AZ_IDS))
def test_every_table_region_yields_its_supported_ids(region):
    chosen = select(region=region, count=3)
    assert set(chosen) == set(AGENTCORE_SUPPORTED_AZ_IDS[region])


@pytest.mark.parametrize("region", sorted(AGENTCORE_SUPPORTED_AZ_IDS))
def test_every_table_region_is_a_valid_region_with_its_own_zone_ids(region):
    # the region setting accepts it, and every AZ ID of the table belongs to that region's ID prefix
    assert REGION_PATTERN.match(region)
    assert {region_of_zone_id(zone) for zone in AGENTCORE_SUPPORTED_AZ_IDS[region]} == {region}


def test_a_region_no_partition_has_is_unknown_before_any_az_advice():
    with pytest.raises(ConfigError) as caught:
        select_zone_ids("us-east-9", {}, requested=None, count=2)
    assert [str(p) for p in caught.value.problems] == [
        "aws:region: 'us-east-9' is not an AWS region (botocore knows no such region); use e.g. us-east-1"
    ]
