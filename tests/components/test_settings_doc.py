"""docs/configuration.md is the schema's reference, regenerated (`python -m components.settings_doc`)."""

from __future__ import annotations

import re
from pathlib import Path

from components import settings_doc
from components.settings_aws import FOLLOWED, REFUSED

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"

# SPEC §4's keys, spelled out by hand.
SPEC_KEYS = {
    "aws:region",
    "deep-insight:network.cidr",
    "deep-insight:network.availabilityZoneIds",
    "deep-insight:network.azCount",
    "deep-insight:network.supportedAzIds",
    "deep-insight:network.natGateways",
    "deep-insight:network.interfaceEndpoints",
    "deep-insight:executor.cpu",
    "deep-insight:executor.memory",
    "deep-insight:executor.architecture",
    "deep-insight:executor.maxSessions",
    "deep-insight:executor.sessionTimeoutSeconds",
    "deep-insight:executor.internetAccess",
    "deep-insight:agent.modelId",
    "deep-insight:agent.idleSessionTimeoutSeconds",
    "deep-insight:agent.maxLifetimeSeconds",
    "deep-insight:images.build",
    "deep-insight:images.executorImage",
    "deep-insight:images.agentImage",
    "deep-insight:logRetentionDays",
    "deep-insight:retainData",
    "deep-insight:tags",
}


def test_committed_reference_equals_the_generated_one():
    assert DOC.read_text(encoding="utf-8") == settings_doc.render(), (
        "docs/configuration.md is stale; run: uv run python -m components.settings_doc"
    )
    assert settings_doc.main(["--check"]) == 0


AWS_SECTION = "## The AWS provider's settings and the program's own AWS calls"


def test_reference_has_one_row_per_key_with_four_columns():
    settings = DOC.read_text(encoding="utf-8").split(AWS_SECTION)[0]
    rows = [line for line in settings.splitlines() if line.startswith("| `")]
    documented = [re.match(r"\| `([^`]+)`", row)[1] for row in rows]  # type: ignore[index]
    assert len(documented) == len(set(documented))
    assert set(documented) >= SPEC_KEYS
    for row in rows:
        assert len(re.split(r"(?<!\\)\|", row)) == 6, row  # 4 cells between 5 unescaped pipes


def test_the_aws_providers_keys_the_program_follows_or_refuses_are_each_one_row():
    section = DOC.read_text(encoding="utf-8").split(AWS_SECTION)[1]
    rows = [line for line in section.splitlines() if line.startswith("| `aws:")]
    assert [re.match(r"\| `aws:(\w+)`", row)[1] for row in rows] == [*FOLLOWED, *REFUSED]  # type: ignore[index]
    assert all(row.split(" | ", 1)[1].startswith("refused: ") == (row.split("`")[1][4:] in REFUSED) for row in rows)


def test_spec_defaults_are_documented():
    # images.build: SPEC §4 says `local`; issue 14 made `codebuild` the default (no Docker needed to deploy).
    text = DOC.read_text(encoding="utf-8")
    for literal in ("| `10.100.0.0/16` |", "| `single` |", "| `1024` |", "| `2048` |", "| `3600` |", "| `900` |",
                    "| `28800` |", "| `codebuild` |", "| `7` |", "| `20` |"):  # fmt: skip
        assert literal in text, literal
