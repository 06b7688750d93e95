"""The job's agents, in the order they work (SPEC §1): what `agent.models` may name and the events say."""

from __future__ import annotations

AGENT_NAMES: tuple[str, ...] = ("planner", "coder", "validator", "reporter")

DEFAULT_MODEL_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
"""The model the shipped stacks configure (agent.modelId in Pulumi.<stack>.yaml) and local runs default to."""
