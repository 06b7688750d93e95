"""Which model each agent of a local job gets: Bedrock with the caller's AWS credentials (the default), a
server that speaks OpenAI's chat API (``--model openai:<model> --model-url http://…``: vLLM, Ollama, …),
or, for the tests, scripted turns replayed from a file (``deep_insight_agent.scripted``)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from deep_insight_contract.agents import AGENT_NAMES
from strands.models.model import Model

from ops.console import OpsError

OPENAI_PREFIX = "openai:"
OPENAI_KEY_VARIABLE = "OPENAI_API_KEY"
"""Sent as the bearer key to the OpenAI-compatible server; most local servers ignore it."""

ModelFor = Callable[[str], Model]


def choose(model: str, model_url: str | None, region: str | None, scripted: Path | None = None) -> tuple[ModelFor, str]:
    """The agents' models and a one-line description of them; a missing credential or endpoint is one line."""
    if scripted is not None:
        return _scripted(scripted), f"scripted turns from {scripted}"
    if model.startswith(OPENAI_PREFIX):
        return _openai(model.removeprefix(OPENAI_PREFIX), model_url)
    if model_url is not None:
        raise OpsError(f"--model-url is for an OpenAI-compatible server: use --model {OPENAI_PREFIX}<model> with it")
    return _bedrock(model, region)


def _openai(name: str, url: str | None) -> tuple[ModelFor, str]:
    from strands.models.openai import OpenAIModel  # noqa: PLC0415 - loads the openai client only when used

    if not name:
        raise OpsError(f"--model {OPENAI_PREFIX} needs the model's name, e.g. --model {OPENAI_PREFIX}qwen2.5-coder")
    if url is None:
        raise OpsError(f"--model {OPENAI_PREFIX}{name} needs --model-url, e.g. http://127.0.0.1:11434/v1 (Ollama)")
    if urlparse(url).scheme not in ("http", "https") or not urlparse(url).netloc:
        raise OpsError(f"--model-url {url}: not an http(s) URL")
    key = os.environ.get(OPENAI_KEY_VARIABLE) or "none"

    def model_for(agent: str) -> Model:
        return OpenAIModel(client_args={"base_url": url, "api_key": key}, model_id=name)

    return model_for, f"{name} at {url}"


def _bedrock(model_id: str, region: str | None) -> tuple[ModelFor, str]:
    import boto3  # noqa: PLC0415
    from deep_insight_agent.bedrock import bedrock_model  # noqa: PLC0415

    session = boto3.Session(region_name=region) if region else boto3.Session()
    if session.get_credentials() is None:
        raise OpsError(
            "no AWS credentials for Bedrock: set AWS_PROFILE (or run `aws configure`), or use a model server of "
            f"your own with --model {OPENAI_PREFIX}<model> --model-url http://…"
        )
    chosen = session.region_name
    if not chosen:
        raise OpsError("no AWS region for Bedrock: pass --region or set AWS_REGION")
    return (lambda agent: bedrock_model(model_id, chosen)), f"{model_id} on Bedrock in {chosen}"


def _scripted(path: Path) -> ModelFor:
    from deep_insight_agent.scripted import ScriptedModel  # noqa: PLC0415

    try:
        turns = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise OpsError(f"--scripted {path}: {error}") from None
    if not isinstance(turns, dict) or set(turns) != set(AGENT_NAMES):
        raise OpsError(f"--scripted {path}: a JSON object of turns for each of {', '.join(AGENT_NAMES)}")
    models = {name: ScriptedModel(turns[name]) for name in AGENT_NAMES}
    return models.__getitem__
