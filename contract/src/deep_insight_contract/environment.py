"""Environment variable names: the program sets them, the runtimes read them (SPEC §6, §7)."""

from __future__ import annotations

from enum import StrEnum


class AgentEnv(StrEnum):
    """The agent runtime's configuration (SPEC §7): the program sets exactly these on the AgentCore runtime."""

    AWS_REGION = "AWS_REGION"
    STACK = "DEEP_INSIGHT_STACK"
    MODEL_ID = "DEEP_INSIGHT_MODEL_ID"
    AGENT_MODELS = "DEEP_INSIGHT_AGENT_MODELS"
    """A JSON map of agent name to model id (agent.models); an agent it does not name uses MODEL_ID."""
    ARTIFACT_BUCKET = "DEEP_INSIGHT_ARTIFACT_BUCKET"
    CLUSTER_ARN = "DEEP_INSIGHT_CLUSTER_ARN"
    TASK_DEFINITION_ARN = "DEEP_INSIGHT_TASK_DEFINITION_ARN"
    EXECUTOR_CONTAINER = "DEEP_INSIGHT_EXECUTOR_CONTAINER"
    SUBNET_IDS = "DEEP_INSIGHT_SUBNET_IDS"
    EXECUTOR_SECURITY_GROUP_ID = "DEEP_INSIGHT_EXECUTOR_SECURITY_GROUP_ID"
    VPC_ID = "DEEP_INSIGHT_VPC_ID"
    LISTENER_ARN = "DEEP_INSIGHT_LISTENER_ARN"
    ALB_DNS = "DEEP_INSIGHT_ALB_DNS"
    MAX_SESSIONS = "DEEP_INSIGHT_MAX_SESSIONS"
    SESSION_TARGET_GROUP = "DEEP_INSIGHT_SESSION_TARGET_GROUP"
    EXECUTOR_SESSION_TIMEOUT_SECONDS = "DEEP_INSIGHT_EXECUTOR_SESSION_TIMEOUT_SECONDS"


class ExecutorEnv(StrEnum):
    """The executor's configuration (SPEC §6). SESSION_ID and EXECUTOR_TOKEN are set per task at RunTask;
    the program sets the workdir, memory limit and session timeout in the task definition. No bucket: the
    executor moves files only through the presigned URLs the agent sends it (it holds no cloud credentials)."""

    AWS_REGION = "AWS_REGION"
    SESSION_ID = "SESSION_ID"
    TOKEN = "EXECUTOR_TOKEN"
    """The bearer token itself. A process of the same uid that holds it in its environment (a parent, the
    container's init) lets user code read it from /proc: prefer TOKEN_FILE or TOKEN_SHA256."""
    TOKEN_FILE = "EXECUTOR_TOKEN_FILE"
    """A file holding the token: read and removed at start-up (local runs)."""
    TOKEN_SHA256 = "EXECUTOR_TOKEN_SHA256"
    """The token's SHA-256 in hex: what RunTask can pass (its overrides carry environment variables only),
    useless to whoever reads it from the environment of the task's init process."""
    SANDBOX = "EXECUTOR_SANDBOX"
    """``bwrap``: each worker runs inside bubblewrap (no network, no home, only its session's folders
    writable); ``none`` (the default, and the image's: Fargate allows no namespaces)."""
    HOST = "EXECUTOR_HOST"
    PORT = "EXECUTOR_PORT"
    WORKDIR = "EXECUTOR_WORKDIR"
    MAX_OUTPUT_BYTES = "EXECUTOR_MAX_OUTPUT_BYTES"
    MEMORY_LIMIT_MB = "EXECUTOR_MEMORY_LIMIT_MB"
    SESSION_TIMEOUT_SECONDS = "EXECUTOR_SESSION_TIMEOUT_SECONDS"
    IDLE_TIMEOUT_SECONDS = "EXECUTOR_IDLE_TIMEOUT_SECONDS"
    CALL_TIMEOUT_SECONDS = "EXECUTOR_CALL_TIMEOUT_SECONDS"
    MAX_UPLOAD_BYTES = "EXECUTOR_MAX_UPLOAD_BYTES"
    MAX_PROCESSES = "EXECUTOR_MAX_PROCESSES"
    MAX_SESSIONS = "EXECUTOR_MAX_SESSIONS"
    MAX_WORKSPACE_MB = "EXECUTOR_MAX_WORKSPACE_MB"
