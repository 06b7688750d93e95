"""The job's agents, in the order they work (SPEC §1): what `agent.models` may name and the events say."""

from __future__ import annotations

AGENT_NAMES: tuple[str, ...] = ("planner", "coder", "validator", "reporter")
