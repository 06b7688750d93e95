"""AWS's facts: the region list is botocore's partition data."""

from __future__ import annotations

from components.aws_facts import AGENTCORE_SUPPORTED_AZ_IDS, REGION_PATTERN, known_regions


def test_known_regions_come_from_every_partition():
    regions = known_regions()
    for region in ("us-east-1", "eu-west-1", "ap-southeast-7", "us-gov-west-1", "cn-north-1"):
        assert region in regions, region
    for made_up in ("us-east-9", "eu-north-7", "xx-south-1"):
        assert made_up not in regions
    assert all(REGION_PATTERN.match(r) for r in regions)


def test_every_agentcore_region_is_a_known_region():
    assert set(AGENTCORE_SUPPORTED_AZ_IDS) <= known_regions()
