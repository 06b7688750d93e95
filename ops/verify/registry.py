"""Every ``verify`` check, in architecture order: one line each, in this order, in the command's output."""

from __future__ import annotations

from ops.verify import agent_runtime, alb, bucket, cluster, endpoints, images, logs, network, security, sessions
from ops.verify.context import Check

CHECKS: list[Check] = [
    *network.CHECKS,
    *endpoints.CHECKS,
    *security.CHECKS,
    *alb.CHECKS,
    *cluster.CHECKS,
    *logs.CHECKS,
    *images.CHECKS,
    *bucket.CHECKS,
    *agent_runtime.CHECKS,
    *sessions.CHECKS,
]
