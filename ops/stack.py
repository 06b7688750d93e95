"""What the ops commands know about a deployed stack: its outputs (SPEC §5) and AWS clients for it."""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deep_insight_contract.outputs import OUTPUT_NAMES, shape_problems

from ops.console import OpsError
from ops.project import PROJECT_DIR

if TYPE_CHECKING:
    import boto3.session
    from botocore.config import Config

    from components.settings import Settings


def check_output_shapes(outputs: Mapping[str, Any], source: str = "stack outputs") -> None:
    """The commands index outputs freely: a hand-edited file with the wrong shape is bad input, said once."""
    from components.security import Group  # noqa: PLC0415 - the components (and Pulumi) load only when needed

    problems = shape_problems(outputs)
    groups = outputs.get("securityGroupIds")
    missing = [g.value for g in Group if not isinstance(groups, dict) or not isinstance(groups.get(g.value), str)]
    if missing:
        problems.append(
            f"securityGroupIds should map {', '.join(g.value for g in Group)} to ids (lacks {', '.join(missing)})"
        )
    if problems:
        raise OpsError(f"{source} is malformed: {'; '.join(problems)}; use `pulumi stack output --json`")


# botocore's adaptive mode: exponential backoff with jitter on throttling, plus client-side rate limiting.
CLIENT_RETRIES = {"mode": "adaptive", "max_attempts": 8}
USER_AGENT_EXTRA = "deep-insight-cli"


def read_outputs(stack: str, outputs_file: Path | None = None, project_dir: Path = PROJECT_DIR) -> dict[str, Any]:
    """The stack's outputs from ``--outputs FILE`` or, without it, from ``pulumi stack output --json``."""
    if outputs_file is not None:
        try:
            text = outputs_file.read_text(encoding="utf-8")
        except OSError as error:
            raise OpsError(f"cannot read --outputs {outputs_file}: {error.strerror}") from None
        source = str(outputs_file)
    else:
        pulumi = shutil.which("pulumi")
        if pulumi is None:
            raise OpsError(
                "the Pulumi CLI is not on PATH; pass --outputs FILE "
                f"(written by `pulumi stack output --json --stack {stack} > FILE`)"
            )
        done = subprocess.run(
            # No --show-secrets: no SPEC §5 output is secret, and without it Pulumi needs no passphrase.
            [pulumi, "stack", "output", "--json", "--stack", stack],
            cwd=project_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            reason = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise OpsError(f"`pulumi stack output --stack {stack}` failed: {reason}", exit_code=1)
        text, source = done.stdout, f"pulumi stack output --stack {stack}"
    try:
        outputs = json.loads(text)
    except json.JSONDecodeError as error:
        reason = f"{error.msg} at line {error.lineno}"
        raise OpsError(f"{source} is not JSON ({reason}); use `pulumi stack output --json`") from None
    if not isinstance(outputs, dict):
        raise OpsError(f"{source} is not a JSON object of stack outputs; use `pulumi stack output --json`")
    missing = [name for name in OUTPUT_NAMES if name not in outputs]
    if missing:
        raise OpsError(
            f"{source} lacks the outputs {', '.join(missing)}; "
            f"is stack {stack!r} deployed with this version (pulumi up)?"
        )
    check_output_shapes(outputs, source)
    return outputs


def read_settings(stack: str, project_dir: Path = PROJECT_DIR) -> Settings:
    """The stack's validated settings from ``Pulumi.<stack>.yaml`` (what the deployment was made from)."""
    # Pulumi's mock runtime and the components load only for the commands that read settings.
    from components.errors import ConfigError  # noqa: PLC0415
    from components.settings import parse_settings  # noqa: PLC0415
    from ops.config_file import ConfigFileError  # noqa: PLC0415 - YAML loads only for the commands that read it
    from ops.evaluate import load_stack_config  # noqa: PLC0415

    try:
        return parse_settings(load_stack_config(stack, project_dir), stack=stack)
    except ConfigFileError as error:
        raise OpsError(str(error)) from None
    except ConfigError as error:
        raise OpsError(f"Pulumi.{stack}.yaml is invalid: {'; '.join(map(str, error.problems))}") from None


@functools.cache
def aws_session() -> boto3.session.Session:
    # One botocore session per process: each new one parses every service model again (~0.2 s a client,
    # ~3 s for a verify run). Clients are made on the main thread only (a session is not thread-safe).
    import boto3.session  # noqa: PLC0415 - boto3 loads when a command talks to AWS, not for --help

    return boto3.session.Session()


def aws_client(service: str, region: str, config: Config | None = None) -> Any:
    """A boto3 client, with adaptive retries unless told otherwise. ``AWS_ENDPOINT_URL`` (botocore) points it
    elsewhere, e.g. at a test server."""
    if config is None:
        from botocore.config import Config  # noqa: PLC0415 - see aws_session

        config = Config(retries=CLIENT_RETRIES, user_agent_extra=USER_AGENT_EXTRA)
    return aws_session().client(service, region_name=region, config=config)  # type: ignore[call-overload]
