"""The Bedrock model of each agent. botocore makes one attempt per request (``resilience.py`` is the one
layer that retries), and its read timeout, which would also end a silent stream, lies behind the stall
timer there: it only frees the worker thread of a request the stall timer has already abandoned."""

from __future__ import annotations

from botocore.config import Config
from strands.models.bedrock import BedrockModel
from strands.models.model import CacheConfig

from deep_insight_agent.resilience import STALL_SECONDS

CONNECT_TIMEOUT_SECONDS = 10.0
READ_TIMEOUT_MARGIN_SECONDS = 30.0
"""How long after the stall timer botocore's read timeout fires (the socket wait starts a little earlier)."""


def bedrock_client_config(stall_seconds: float = STALL_SECONDS) -> Config:
    if stall_seconds <= 0:
        raise ValueError(f"stall_seconds must be positive, not {stall_seconds:g}")
    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        read_timeout=stall_seconds + READ_TIMEOUT_MARGIN_SECONDS,
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
    )


PROMPT_CACHE = CacheConfig(strategy="auto", system_prompt_ttl=True, tools_ttl=True)
"""Bedrock prompt caching: a cache point after each agent's system prompt and after its tool definitions,
which every turn of the agent repeats unchanged (cache reads bill at a fraction of input tokens). "auto"
places them only for models that support it (Claude); others are sent without."""


def bedrock_model(model_id: str, region: str, *, stall_seconds: float = STALL_SECONDS) -> BedrockModel:
    return BedrockModel(
        model_id=model_id,
        region_name=region,
        boto_client_config=bedrock_client_config(stall_seconds),
        cache_config=PROMPT_CACHE,
    )
