"""Shared harness: the real program evaluated offline under Pulumi mocks (ops.evaluate).

`evaluate_stack` runs ``__main__.py`` for a stack file, optionally with config overrides, and returns an
`Evaluation` (resources with inputs and options, outputs, warnings, configuration error). The dev and
prod evaluations are made once per test session; they are read-only for the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from ops.evaluate import Evaluation, evaluate

EvaluateStack = Callable[..., Evaluation]


def key(name: str) -> str:
    return f"deep-insight:{name}"


@pytest.fixture(scope="session")
def evaluate_stack() -> EvaluateStack:
    def run(stack: str = "dev", overrides: Mapping[str, str | None] | None = None, **kwargs) -> Evaluation:
        return evaluate(stack, overrides, **kwargs)

    return run


@pytest.fixture(scope="session")
def dev(evaluate_stack: EvaluateStack) -> Evaluation:
    result = evaluate_stack("dev")
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="session")
def prod(evaluate_stack: EvaluateStack) -> Evaluation:
    result = evaluate_stack("prod")
    assert result.error is None, result.error
    return result
