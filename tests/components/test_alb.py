"""Internal ALB, its listener, and the per-session target-group template."""

from __future__ import annotations

import json

import pytest
from deep_insight_contract.target_group import SessionTargetGroupTemplate, target_group_prefix

from components.alb import IDLE_TIMEOUT_SECONDS

LB = "aws:lb/loadBalancer:LoadBalancer"
LISTENER = "aws:lb/listener:Listener"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_alb_is_internal_in_private_subnets_behind_its_group(request, stack):
    evaluation = request.getfixturevalue(stack)
    lb = evaluation.named("alb-lb", LB).inputs
    assert lb["internal"] is True
    assert lb["loadBalancerType"] == "application"
    assert lb["subnets"] == evaluation.outputs["privateSubnetIds"]
    assert lb["securityGroups"] == [evaluation.outputs["securityGroupIds"]["alb"]]
    assert lb["idleTimeout"] == IDLE_TIMEOUT_SECONDS >= 900
    assert lb["dropInvalidHeaderFields"] is True


def test_listener_answers_404_json_by_default(dev):
    listener = dev.named("alb-http", LISTENER).inputs
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    (action,) = listener["defaultActions"]
    assert action["type"] == "fixed-response"
    assert action["fixedResponse"]["statusCode"] == "404"
    assert action["fixedResponse"]["contentType"] == "application/json"
    assert json.loads(action["fixedResponse"]["messageBody"])["status"] == 404
    assert dev.outputs["listenerArn"] == dev.named("alb-http", LISTENER).state["arn"]


def test_prod_protects_the_alb_and_logs_access_dev_does_not(dev, prod):
    dev_lb, prod_lb = dev.named("alb-lb", LB).inputs, prod.named("alb-lb", LB).inputs
    assert dev_lb["enableDeletionProtection"] is False
    assert "accessLogs" not in dev_lb
    assert prod_lb["enableDeletionProtection"] is True
    logs_bucket = prod.named("alb-logs-bucket", "aws:s3/bucket:Bucket").state["bucket"]
    assert prod_lb["accessLogs"] == {"bucket": logs_bucket, "prefix": "alb", "enabled": True}


def test_session_target_group_template_reaches_the_agent_unchanged(dev):
    runtime = dev.named("agent-runtime", "aws:bedrock/agentcoreAgentRuntime:AgentcoreAgentRuntime")
    template = json.loads(runtime.inputs["environmentVariables"]["DEEP_INSIGHT_SESSION_TARGET_GROUP"])
    assert template == {
        "deregistration_delay_seconds": 5,
        "health_check_interval_seconds": 5,
        "health_check_path": "/health",
        "health_check_timeout_seconds": 4,
        "healthy_threshold_count": 2,
        "matcher": "200",
        "name_prefix": "di-dev-",
        "port": 8080,
        "protocol": "HTTP",
        "target_type": "ip",
        "unhealthy_threshold_count": 2,
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"health_check_interval_seconds": 4}, "interval must be 5-300"),
        ({"health_check_timeout_seconds": 5}, "shorter than the interval"),
        ({"healthy_threshold_count": 1}, "thresholds must be 2-10"),
        ({"deregistration_delay_seconds": 3601}, "deregistration delay"),
        ({"name_prefix": "Di_dev"}, "name prefix"),
    ],
)
def test_template_refuses_values_the_alb_would_reject(change, message):
    with pytest.raises(ValueError, match=message):
        SessionTargetGroupTemplate(**{"name_prefix": "di-dev-", **change})


@pytest.mark.parametrize(
    ("stack", "prefix"),
    [
        ("dev", "di-dev-"),
        ("Prod_EU", "di-prod-eu-"),
        ("a-very-long-stack-name", "di-a-very-long-"),
        ("---", "di-stack-"),
    ],
)
def test_target_group_prefix_leaves_room_for_the_session(stack, prefix):
    assert target_group_prefix(stack) == prefix
    assert len(prefix) <= 16
    SessionTargetGroupTemplate(name_prefix=prefix)


def test_prod_alb_waits_for_its_access_log_bucket_policy(prod):
    # ELB checks at creation that it may write the access-log bucket: the policy must exist first.
    lb = prod.named("alb-lb", LB)
    policy = prod.named("alb-logs-policy", "aws:s3/bucketPolicy:BucketPolicy")
    assert lb.inputs["accessLogs"]["enabled"] is True
    assert lb.inputs["accessLogs"]["bucket"] == prod.named("alb-logs-bucket", "aws:s3/bucket:Bucket").state["bucket"]
    assert policy.urn in lb.dependencies


def test_dev_alb_without_access_logs_depends_on_no_bucket_policy(dev):
    lb = dev.named("alb-lb", LB)
    policies = {r.urn for r in dev.of_type("aws:s3/bucketPolicy:BucketPolicy")}
    assert "accessLogs" not in lb.inputs or not lb.inputs["accessLogs"]
    assert policies.isdisjoint(lb.dependencies)
