"""The policy pack's tests: no stack named by the environment unless a test sets one."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def no_stack_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The Pulumi CLI tells the pack its stack through PULUMI_STACK; one left in a developer's or CI's
    # environment would make the stack-tag rule compare the dev and prod evaluations against it.
    monkeypatch.delenv("PULUMI_STACK", raising=False)
