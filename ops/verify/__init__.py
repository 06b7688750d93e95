"""``deep-insight verify``: check a deployed stack with boto3, one ✓/✗ line per check.

Expected values come from two places only: the stack's outputs (SPEC §5: which resources) and its own
``Pulumi.<stack>.yaml`` (how they should be: AZs, endpoints, retention, architecture...). One module per
component holds its checks (`network`, `endpoints`, `security`, `alb`, `cluster`, `logs`, `images`,
`bucket`, `agent_runtime`, `sessions`); `registry` orders them, `runner` runs them. This module is the
command's signature only: boto3 and the components load when it runs, not for ``--help``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ops.console import reports_errors


@reports_errors
def command(
    stack: Annotated[
        str, typer.Option("--stack", "-s", help="Stack name; its Pulumi.<stack>.yaml gives the expected values.")
    ],
    outputs: Annotated[
        Path | None, typer.Option("--outputs", help="Stack outputs JSON (default: pulumi stack output --json).")
    ] = None,
) -> None:
    """Check a deployed stack with boto3: one ✓/✗ line per check, exit 1 if any fails.

    Network (DNS, AZ IDs, NAT, endpoints), security groups, ALB and listener, ECS cluster and task
    definition, log retention, ECR repositories and digests, the artifacts bucket, the AgentCore runtime
    (status, VPC config, image, role, endpoint, ENIs, service-linked role) and orphaned sessions. Expected
    values come from the stack's outputs and its Pulumi.<stack>.yaml. Read-only.

    Example: deep-insight verify --stack dev --outputs dev-outputs.json
    """
    from ops.verify.runner import run  # noqa: PLC0415 - boto3 and the components load when the command runs

    run(stack, outputs)
