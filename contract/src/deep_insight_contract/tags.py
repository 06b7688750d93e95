"""Tag keys Deep Insight writes on AWS resources (the program at deploy time, the agent at run time)."""

from __future__ import annotations

STACK_TAG = "deep-insight:stack"
"""On every taggable resource: the Pulumi stack name. The reaper and IAM conditions match on it."""
SESSION_TAG = "deep-insight:session"
"""On a session's executor task, target group and listener rule: the job's session id."""
CREATED_TAG = "deep-insight:created"
"""On the same: creation time in `CREATED_FORMAT` (UTC); the reaper's age test reads it."""
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
RETAINED_TAG = "deep-insight:retained"
"""On what `pulumi destroy` keeps because AgentCore's ENIs may still hold it."""
RETAIN_DATA_TAG = "deep-insight:retain-data"
"""On the buckets and ECR repositories: "true"/"false", the policy pack's view of ``retainData``."""

SESSION_RESOURCE_TAGS = (STACK_TAG, SESSION_TAG, CREATED_TAG)
"""Exactly the keys a session's resources are created with (IAM's ``aws:TagKeys`` condition allows these)."""
