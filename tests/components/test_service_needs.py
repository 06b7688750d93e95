"""The interface endpoints derived from the parts' needs, per network mode (literal sets, as README lists them)."""

from __future__ import annotations

from components.service_needs import GATEWAY_SERVICES, NEEDS, interface_endpoints

EXECUTOR = {"ecr.api", "ecr.dkr", "logs"}
AGENT = {"bedrock-runtime", "ecs", "elasticloadbalancing"}


def test_without_nat_every_api_any_part_uses_gets_an_endpoint():
    assert set(interface_endpoints(nat=False, executor_internet_access=False)) == EXECUTOR | AGENT


def test_with_nat_only_the_offline_executor_needs_endpoints():
    assert set(interface_endpoints(nat=True, executor_internet_access=False)) == EXECUTOR


def test_with_nat_and_an_online_executor_no_part_needs_one():
    assert interface_endpoints(nat=True, executor_internet_access=True) == ()


def test_extras_come_after_the_needs_once_each():
    found = interface_endpoints(nat=True, executor_internet_access=False, extra=["xray", "logs", "sts"])
    assert found[-2:] == ("xray", "sts")
    assert sorted(found) == sorted({*EXECUTOR, "xray", "sts"})


def test_s3_is_never_an_interface_endpoint_and_sts_is_needed_by_no_part():
    for nat in (False, True):
        assert "s3" not in interface_endpoints(nat=nat, executor_internet_access=False)
    assert "s3" in GATEWAY_SERVICES
    assert "sts" not in {need.service for need in NEEDS}  # no recorded request of the runtime goes to STS
