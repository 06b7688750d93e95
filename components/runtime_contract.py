"""The contract between this program and the runtimes it deploys: names and numbers that live once.

* the executor container's name, user and writable paths (the environment variable names of both
  runtimes live in `deep_insight_contract.environment`, the executor's port and the per-session
  target-group template in `deep_insight_contract.target_group`);
* the AgentCore runtime's name.
"""

from __future__ import annotations

import re

EXECUTOR_CONTAINER = "executor"
EXECUTOR_UID = 10001  # the non-root user both Dockerfiles create
EXECUTOR_WORKDIR = "/workspace"
EXECUTOR_TMPDIR = "/tmp"
# The only paths the executor may write (its root filesystem is read-only): each is a task-definition
# bind mount AND a ``VOLUME`` of the image, so Fargate gives the mount the image's owner and mode
# (without the VOLUME it would be root:root 0755, unwritable by uid 10001).
EXECUTOR_WRITABLE_PATHS = (EXECUTOR_WORKDIR, EXECUTOR_TMPDIR)


def agentcore_runtime_name(stack: str) -> str:
    """AgentCore runtime names are ``[a-zA-Z][a-zA-Z0-9_]{0,47}``: no hyphens."""
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "_", stack).strip("_")
    return f"deep_insight_{cleaned}"[:48].rstrip("_")
