"""The agent's configuration: only the environment the Pulumi program sets (SPEC §7)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from deep_insight_contract.environment import AgentEnv
from deep_insight_contract.target_group import SessionTargetGroupTemplate

Env = AgentEnv
"""The names the program sets (one definition: `deep_insight_contract.environment.AgentEnv`)."""


class ConfigError(ValueError):
    """Missing or bad environment; the message names every variable concerned, on one line."""


@dataclass(frozen=True)
class EcsSettings:
    """Everything the ECS/ALB executor backend needs to know about the stack."""

    region: str
    stack: str
    cluster_arn: str
    task_definition_arn: str
    container: str
    subnet_ids: tuple[str, ...]
    security_group_id: str
    vpc_id: str
    listener_arn: str
    alb_dns: str
    max_sessions: int
    target_group: SessionTargetGroupTemplate
    executor_session_timeout_seconds: int
    artifact_bucket: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> EcsSettings:
        env = os.environ if env is None else env
        optional = (Env.MODEL_ID, Env.AGENT_MODELS)  # the model, not the executor sessions
        missing = [name.value for name in Env if name not in optional and not env.get(name.value)]
        if missing:
            raise ConfigError(f"missing environment: {', '.join(missing)} (the Pulumi program sets them)")
        try:
            template = SessionTargetGroupTemplate.from_json(env[Env.SESSION_TARGET_GROUP])
        except ValueError as error:
            raise ConfigError(f"{Env.SESSION_TARGET_GROUP.value} is not the template JSON: {error}") from None
        try:
            max_sessions = int(env[Env.MAX_SESSIONS])
            timeout = int(env[Env.EXECUTOR_SESSION_TIMEOUT_SECONDS])
        except ValueError:
            raise ConfigError(
                f"{Env.MAX_SESSIONS.value} and {Env.EXECUTOR_SESSION_TIMEOUT_SECONDS.value} must be whole numbers"
            ) from None
        return cls(
            region=env[Env.AWS_REGION],
            stack=env[Env.STACK],
            cluster_arn=env[Env.CLUSTER_ARN],
            task_definition_arn=env[Env.TASK_DEFINITION_ARN],
            container=env[Env.EXECUTOR_CONTAINER],
            subnet_ids=tuple(s.strip() for s in env[Env.SUBNET_IDS].split(",") if s.strip()),
            security_group_id=env[Env.EXECUTOR_SECURITY_GROUP_ID],
            vpc_id=env[Env.VPC_ID],
            listener_arn=env[Env.LISTENER_ARN],
            alb_dns=env[Env.ALB_DNS],
            max_sessions=max_sessions,
            target_group=template,
            executor_session_timeout_seconds=timeout,
            artifact_bucket=env[Env.ARTIFACT_BUCKET],
        )
