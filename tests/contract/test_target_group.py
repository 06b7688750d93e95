"""The session target-group template as the agent reads it: exactly what the program wrote, or one clear error."""

from __future__ import annotations

import json

import pytest
from deep_insight_agent.config import ConfigError, EcsSettings, Env
from deep_insight_contract.target_group import SessionTargetGroupTemplate

# What the dev stack's program writes into the agent's environment (tests/components/test_alb.py checks it).
WRITTEN = {
    "deregistration_delay_seconds": 5, "health_check_interval_seconds": 5, "health_check_path": "/health",
    "health_check_timeout_seconds": 4, "healthy_threshold_count": 2, "matcher": "200", "name_prefix": "di-dev-",
    "port": 8080, "protocol": "HTTP", "target_type": "ip", "unhealthy_threshold_count": 2,
}  # fmt: skip


def test_from_json_reads_what_to_json_writes():
    template = SessionTargetGroupTemplate.from_json(json.dumps(WRITTEN))
    assert template == SessionTargetGroupTemplate(name_prefix="di-dev-")
    assert json.loads(template.to_json()) == WRITTEN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON (Expecting property name enclosed in double quotes at column 2)"),
        ("[]", "not a JSON object"),
        (json.dumps({k: v for k, v in WRITTEN.items() if k not in ("port", "matcher")}), "lacks port, matcher"),
        (json.dumps({**WRITTEN, "timeout": 5}), "unknown timeout"),
        (json.dumps({**WRITTEN, "port": "8080"}), "port is not a whole number"),
        (json.dumps({**WRITTEN, "port": True}), "port is not a whole number"),
        (json.dumps({**WRITTEN, "matcher": 200}), "matcher is not a string"),
        (json.dumps({**WRITTEN, "healthy_threshold_count": 11}), "thresholds must be 2-10"),
        (json.dumps({**WRITTEN, "name_prefix": "DI_dev"}), "name prefix must be 2-16 of [a-z0-9-]"),
    ],
)
def test_from_json_names_what_is_wrong(text, message):
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        SessionTargetGroupTemplate.from_json(text)


def agent_environment(**changes: str) -> dict[str, str]:
    env = {name.value: "x" for name in Env}
    return env | {Env.MAX_SESSIONS.value: "5", Env.EXECUTOR_SESSION_TIMEOUT_SECONDS.value: "3600"} | changes


def test_the_agent_reads_the_template_with_the_contract():
    settings = EcsSettings.from_env(agent_environment(**{Env.SESSION_TARGET_GROUP.value: json.dumps(WRITTEN)}))
    assert settings.target_group == SessionTargetGroupTemplate(name_prefix="di-dev-")


def test_the_agent_refuses_a_bad_template_in_one_line():
    env = agent_environment(**{Env.SESSION_TARGET_GROUP.value: json.dumps({**WRITTEN, "port": 0.5})})
    with pytest.raises(ConfigError) as raised:
        EcsSettings.from_env(env)
    assert str(raised.value) == "DEEP_INSIGHT_SESSION_TARGET_GROUP is not the template JSON: port is not a whole number"
