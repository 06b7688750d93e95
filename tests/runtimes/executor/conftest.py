"""The executor's tests use the shared real-server harness of tests/runtimes/conftest.py.

The adversarial, API and credential suites run in both of the server's modes: ``root`` (a developer's
machine: each session's code runs as its own uid) and ``non-root`` (the image on Fargate: the server is an
unprivileged uid whose workdir sits in a root-owned 0755 folder, and user code runs as that same uid).
"""

import os
import tempfile
from pathlib import Path

import pytest

from tests.runtimes.conftest import DATA, TOKEN, Executor, StartExecutor, _free_port, assert_alive, run

SERVER_UID = 43210  # the non-root mode's server: not root, not a session uid of a root server (those start far higher)
SANDBOX_SERVER_UID = 43211
"""The sandbox mode's server: a uid of its own, since a uid's process cap counts every live process of it, and a
module's servers of both modes live until the module ends."""
MODES = ("root", "non-root")
HOSTILE_MODES = (*MODES, "sandbox")
"""The suites of hostile code also run in the local runs' mode: a server of the user's uid whose workers are in
bubblewrap (EXECUTOR_SANDBOX=bwrap), its workdir outside /tmp as ``deep-insight run`` puts it."""
LOCAL_RUNS = Path("/var/tmp")


def start_in_mode(start_executor: StartExecutor, mode: str, *, workdir: Path | None = None, **env: str) -> Executor:
    """A server in ``mode``. Non-root needs root to start it as another uid, and a HOME (as the image sets;
    uid 43210 has no passwd entry); its one uid runs the server's threads and every session's processes,
    which all count against the process cap."""
    if mode == "root":
        return start_executor(workdir=workdir, **env)
    if os.geteuid() != 0:
        pytest.skip("starting the server as another uid needs root")
    uid = SERVER_UID
    if mode == "sandbox":
        env = {"EXECUTOR_SANDBOX": "bwrap", **env}
        workdir = workdir or Path(tempfile.mkdtemp(prefix="deep-insight-sandboxed-", dir=LOCAL_RUNS))
        uid = SANDBOX_SERVER_UID
    return start_executor(workdir=workdir, as_uid=uid, **{"HOME": "/tmp", "EXECUTOR_MAX_PROCESSES": "512", **env})


@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


__all__ = [
    "DATA",
    "HOSTILE_MODES",
    "MODES",
    "SANDBOX_SERVER_UID",
    "SERVER_UID",
    "TOKEN",
    "Executor",
    "StartExecutor",
    "_free_port",
    "assert_alive",
    "run",
    "start_in_mode",
]
