"""Whether a local run's executor runs the model's code in the sandbox (``EXECUTOR_SANDBOX``).

``deep-insight run`` and ``console --local`` decide once, at start, before any model is asked: a sandbox
when this machine can make one, else one line saying why and that ``--no-sandbox`` goes on without.
The decision travels to the executor the way its other settings do, as ``EXECUTOR_SANDBOX`` in the
environment this process gives it (``ops/local/executor_process.py``)."""

from __future__ import annotations

import os

from deep_insight_contract.environment import ExecutorEnv

from ops.console import OpsError, errors

SANDBOX = "bwrap"
NO_SANDBOX = "none"


def choose(no_sandbox: bool) -> str:
    """The ``EXECUTOR_SANDBOX`` value for this machine: ``bwrap``, or ``none`` when the user said
    ``--no-sandbox``; OpsError (one line) when no sandbox can be made and the user did not say so."""
    if no_sandbox:
        return NO_SANDBOX
    from deep_insight_executor.sandbox import problem  # noqa: PLC0415 - it starts a probe sandbox; only here

    why = problem()
    if why is not None:
        raise OpsError(
            f"no sandbox for the model's code on this machine: {why}; pass --no-sandbox to run it without one "
            "(as you, with your files, keys and network)"
        )
    return SANDBOX


def decide(no_sandbox: bool) -> str:
    """``choose``, and keep the answer for the local executors this process starts (``chosen``)."""
    value = choose(no_sandbox)
    if value == NO_SANDBOX:
        errors.print(
            "[yellow]warning:[/yellow] --no-sandbox: the model's code runs as you, with your files, keys and network",
            soft_wrap=True,
        )
    os.environ[ExecutorEnv.SANDBOX] = value
    return value


def chosen() -> str:
    """What a local executor gets as ``EXECUTOR_SANDBOX``: the command's decision; without one (a caller that
    did not go through ``run`` or ``console``), a sandbox or the OpsError that says why there is none."""
    value = os.environ.get(ExecutorEnv.SANDBOX)
    if value in (SANDBOX, NO_SANDBOX):
        return value
    return choose(no_sandbox=False)
