"""VPC endpoints: the S3 gateway on every private route table, and the interface endpoints the parts need.

The S3 gateway endpoint is not optional: since 2026-05-05 AgentCore gives new VPC-mode runtimes no
service-managed S3 access, and Fargate pulls ECR image layers from S3. Interface endpoints sit in the
private subnets, one ENI per AZ (or one in the first AZ: ``network.endpointZones``), behind the endpoints
security group, with private DNS so that the SDKs' default hostnames resolve to them from every AZ.
Which services get one is decided in components.service_needs. Every endpoint carries a policy
(components.endpoint_policies): this account's principals only, for what the in-VPC roles may do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.endpoint_policies import endpoint_policy
from components.iam import Statement
from components.settings import EndpointZones, ResourceTags


def service_name(region: str, suffix: str) -> str:
    return f"com.amazonaws.{region}.{suffix}"


@dataclass(frozen=True)
class EndpointsArgs:
    region: str
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """The private subnets, one per AZ, the stack's first AZ first."""
    zones: EndpointZones
    route_table_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_id: pulumi.Input[str]
    interface_services: Sequence[str]
    grants: Sequence[pulumi.Input[Sequence[Statement]]]
    """The statements of every role that calls AWS from inside the VPC: what the endpoints let through."""
    partition: str
    account_id: str
    tags: ResourceTags


class Endpoints(pulumi.ComponentResource):
    endpoint_ids: Mapping[str, pulumi.Output[str]]
    """Service suffix (``s3``, ``ecr.api``, ...) to endpoint id."""

    def __init__(self, name: str, args: EndpointsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:endpoints:Endpoints", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        grants = pulumi.Output.all(*args.grants).apply(lambda lists: [s for granted in lists for s in granted])

        def policy(service: str) -> pulumi.Output[str]:
            return grants.apply(
                lambda g: json.dumps(
                    endpoint_policy(
                        service, g, account_id=args.account_id, partition=args.partition, region=args.region
                    )
                )
            )

        endpoints: dict[str, aws.ec2.VpcEndpoint] = {
            "s3": aws.ec2.VpcEndpoint(
                f"{name}-s3",
                vpc_id=args.vpc_id,
                service_name=service_name(args.region, "s3"),
                vpc_endpoint_type="Gateway",
                route_table_ids=args.route_table_ids,
                policy=policy("s3"),
                tags=args.tags.named("s3"),
                opts=child,
            )
        }
        subnet_ids = (
            args.subnet_ids
            if args.zones is EndpointZones.ALL
            else pulumi.Output.from_input(args.subnet_ids).apply(lambda ids: list(ids[:1]))
        )
        for suffix in args.interface_services:
            slug = suffix.replace(".", "-")
            endpoints[suffix] = aws.ec2.VpcEndpoint(
                f"{name}-{slug}",
                vpc_id=args.vpc_id,
                service_name=service_name(args.region, suffix),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=subnet_ids,
                security_group_ids=[args.security_group_id],
                policy=policy(suffix),
                tags=args.tags.named(slug),
                opts=child,
            )
        self.endpoint_ids = {suffix: endpoint.id for suffix, endpoint in endpoints.items()}
        self.register_outputs({"endpointIds": dict(self.endpoint_ids)})
