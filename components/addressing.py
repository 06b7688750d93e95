"""Carving the VPC CIDR into per-AZ subnets (pure; ipaddress does the maths).

Layout for a VPC of prefix /p and n AZs, with k = ceil(log2(n + 1)):

* the VPC is cut into 2**k blocks of /(p+k); block i (i < n) is AZ i's **private** subnet, the big one
  (executor tasks, interface endpoints, the internal ALB);
* the last block is halved: its first half is cut into 2**k **agent** subnets (AgentCore's ENIs only),
  its second half into 2**k **public** subnets (NAT gateways only).

Because k is the same for 2 and 3 AZs (and for 4 to 7), growing from 2 to 3 AZs adds subnets without
renumbering the existing ones. For 10.100.0.0/16 and 2-3 AZs: private /18 (16,379 usable addresses),
agent /21 and public /21 (2,043 each).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

# AWS limits: a VPC is /16 to /28 and so is a subnet; the project narrows the VPC to /16-/22 so that
# every tier keeps room for ENIs.
VPC_PREFIX_RANGE = range(16, 23)
SMALLEST_SUBNET_PREFIX = 28


@dataclass(frozen=True)
class ZoneSubnets:
    private: ipaddress.IPv4Network
    agent: ipaddress.IPv4Network
    public: ipaddress.IPv4Network


def carve_subnets(vpc_cidr: ipaddress.IPv4Network, zone_count: int) -> tuple[ZoneSubnets, ...]:
    """Return one `ZoneSubnets` per AZ, in AZ order; ValueError says why the CIDR is too small."""
    if zone_count < 1:
        raise ValueError(f"zone_count must be at least 1, got {zone_count}")
    bits = math.ceil(math.log2(zone_count + 1))
    block_prefix = vpc_cidr.prefixlen + bits
    edge_prefix = block_prefix + 1 + bits
    if edge_prefix > SMALLEST_SUBNET_PREFIX:
        largest = SMALLEST_SUBNET_PREFIX - 1 - 2 * bits
        raise ValueError(
            f"{vpc_cidr} is too small for {zone_count} AZs: the agent and public subnets would be "
            f"/{edge_prefix}, smaller than AWS's /{SMALLEST_SUBNET_PREFIX}; use a /{largest} or larger"
        )
    blocks = list(vpc_cidr.subnets(new_prefix=block_prefix))
    agent_half, public_half = blocks[-1].subnets(prefixlen_diff=1)
    agents = list(agent_half.subnets(new_prefix=edge_prefix))
    publics = list(public_half.subnets(new_prefix=edge_prefix))
    return tuple(ZoneSubnets(blocks[i], agents[i], publics[i]) for i in range(zone_count))
