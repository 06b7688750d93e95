"""The internal Application Load Balancer in front of executor tasks, and its HTTP :80 listener.

The listener owns no target group: its default action answers a fixed JSON 404, and the agent adds one
header rule (``X-Deep-Insight-Session == <id>``) and one target group per session at run time, with the
settings of `SessionTargetGroupTemplate`. So the ALB never chooses between sessions' tasks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.iam import Statement, session_routing_statements
from components.settings import ResourceTags

# The longest executor call is 900 s (SPEC §6 timeoutSeconds); the ALB must not cut it off first.
IDLE_TIMEOUT_SECONDS = 960
ACCESS_LOG_PREFIX = "alb"
NO_ROUTE_BODY = json.dumps({"error": "no executor session matches this request", "status": 404})


@dataclass(frozen=True)
class AlbArgs:
    subnet_ids: pulumi.Input[list[str]]
    security_group_id: pulumi.Input[str]
    deletion_protection: bool
    access_log_bucket: pulumi.Input[str] | None
    tags: ResourceTags
    access_log_policy: pulumi.Resource | None = None
    """The access-log bucket's policy: ELB checks at creation that it may write there, so the ALB waits on it."""


class InternalAlb(pulumi.ComponentResource):
    arn: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    listener_arn: pulumi.Output[str]

    def session_routing_statements(self, stack: str, target_group_prefix: str) -> pulumi.Output[list[Statement]]:
        """Create, route to and delete per-session target groups (``<prefix>…``) and rules on this listener,
        tagged with ``stack`` on create and only those afterwards."""
        return self.listener_arn.apply(
            lambda arn: session_routing_statements(
                listener_arn=arn, stack=stack, target_group_prefix=target_group_prefix
            )
        )

    def __init__(self, name: str, args: AlbArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("deep-insight:alb:InternalAlb", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        access_logs = (
            aws.lb.LoadBalancerAccessLogsArgs(bucket=args.access_log_bucket, prefix=ACCESS_LOG_PREFIX, enabled=True)
            if args.access_log_bucket is not None
            else None
        )
        alb = aws.lb.LoadBalancer(
            f"{name}-lb",
            internal=True,
            load_balancer_type="application",
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            idle_timeout=IDLE_TIMEOUT_SECONDS,
            drop_invalid_header_fields=True,
            enable_deletion_protection=args.deletion_protection,
            access_logs=access_logs,
            tags=args.tags.named("alb"),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[args.access_log_policy] if args.access_log_policy is not None else None
            ),
        )
        listener = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=alb.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                {
                    "type": "fixed-response",
                    "fixed_response": {
                        "content_type": "application/json",
                        "message_body": NO_ROUTE_BODY,
                        "status_code": "404",
                    },
                }
            ],
            tags=args.tags.named("alb-http"),
            opts=child,
        )
        self.arn = alb.arn
        self.dns_name = alb.dns_name
        self.listener_arn = listener.arn
        self.register_outputs({"albArn": self.arn, "albDnsName": self.dns_name, "listenerArn": self.listener_arn})
