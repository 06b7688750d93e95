"""carve_subnets: non-overlapping, inside the VPC, stable when AZs are added, AWS size limits."""

from __future__ import annotations

import itertools
import math
from ipaddress import IPv4Network

import pytest

from components.addressing import SMALLEST_SUBNET_PREFIX, VPC_PREFIX_RANGE, carve_subnets


def all_subnets(plan):
    return [net for zone in plan for net in (zone.private, zone.agent, zone.public)]


def test_default_vpc_layout():
    plan = carve_subnets(IPv4Network("10.100.0.0/16"), 2)
    assert [(str(z.private), str(z.agent), str(z.public)) for z in plan] == [
        ("10.100.0.0/18", "10.100.192.0/21", "10.100.224.0/21"),
        ("10.100.64.0/18", "10.100.200.0/21", "10.100.232.0/21"),
    ]


@pytest.mark.parametrize(("prefix", "zones"), list(itertools.product(VPC_PREFIX_RANGE, range(1, 8))))
def test_subnets_are_disjoint_inside_the_vpc_and_large_enough(prefix, zones):
    vpc = IPv4Network(f"10.0.0.0/{prefix}")
    # Agent and public subnets share the last of 2**k blocks, each cut again into 2**k.
    k = math.ceil(math.log2(zones + 1))
    if prefix + 1 + 2 * k > SMALLEST_SUBNET_PREFIX:
        with pytest.raises(ValueError, match="too small"):
            carve_subnets(vpc, zones)
        return
    plan = carve_subnets(vpc, zones)
    subnets = all_subnets(plan)
    assert len(plan) == zones
    assert all(net.subnet_of(vpc) for net in subnets)
    assert all(net.prefixlen <= SMALLEST_SUBNET_PREFIX for net in subnets)
    for a, b in itertools.combinations(subnets, 2):
        assert not a.overlaps(b), (a, b)
    assert all(z.private.num_addresses > z.agent.num_addresses for z in plan)


def test_growing_from_two_to_three_zones_keeps_existing_subnets():
    vpc = IPv4Network("10.100.0.0/16")
    assert carve_subnets(vpc, 3)[:2] == carve_subnets(vpc, 2)


def test_smallest_vpc_still_fits_three_zones():
    plan = carve_subnets(IPv4Network("10.1.0.0/22"), 3)
    assert {z.agent.prefixlen for z in plan} == {27}


def test_too_small_says_what_to_use():
    with pytest.raises(ValueError, match=r"10\.1\.0\.0/22 is too small for 4 AZs.*use a /21 or larger"):
        carve_subnets(IPv4Network("10.1.0.0/22"), 4)
    assert carve_subnets(IPv4Network("10.1.0.0/21"), 4)


def test_zero_zones_is_a_programming_error():
    with pytest.raises(ValueError, match="at least 1"):
        carve_subnets(IPv4Network("10.1.0.0/16"), 0)
