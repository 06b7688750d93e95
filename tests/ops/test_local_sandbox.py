"""A local run's executor, started as ``deep-insight run`` starts it, against code that goes for the user's secrets.

The same attack runs twice: with ``--no-sandbox`` (EXECUTOR_SANDBOX=none), where it must succeed (so the test
can tell), and in the sandbox, where it must fail. What counts comes from the attack: the planted key's text in
the output, a connection the listener saw, the parent's secret in some /proc/<pid>/environ."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from deep_insight_contract.environment import ExecutorEnv

from ops.local.executor_process import LOCAL_RUNS

REPO = Path(__file__).resolve().parents[2]

ATTACK = """
import errno, json, os, socket
found = {}
try:
    found['credentials'] = open(CREDENTIALS).read()
except OSError as error:
    found['credentials'] = type(error).__name__
for name, address in (('loopback', ('127.0.0.1', PORT)), ('public', ('203.0.113.1', 443))):
    probe = socket.socket()
    probe.settimeout(3)
    try:
        probe.connect(address)
        found[name] = 'connected'
    except OSError as error:
        found[name] = errno.errorcode.get(error.errno, type(error).__name__)
    finally:
        probe.close()
found['environ'] = []
for pid in os.listdir('/proc'):
    try:
        if SECRET.encode() in open(f'/proc/{pid}/environ', 'rb').read():
            found['environ'].append(pid)
    except OSError:
        pass
print(json.dumps(found))
"""


class Listener:
    """A TCP listener on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    opened = Listener()
    yield opened
    opened.close()


@pytest.fixture
def run_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="deep-insight-run-test-", dir=LOCAL_RUNS))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# The parent: a process that holds the user's key in its environment from its start, as the deep-insight
# process does, and starts the local executor as `deep-insight run` does; it prints the executor's answer.
PARENT = """
import json, sys
from pathlib import Path
import httpx
from ops.local.executor_process import local_executor
with local_executor(Path(sys.argv[1]), 'local-sandbox-test') as running:
    headers = {'Authorization': f'Bearer {running.token}'}
    with httpx.Client(base_url=running.url, headers=headers, timeout=60) as client:
        answer = client.post('/v1/sessions/local-sandbox-test/execute', json={'code': sys.stdin.read()})
print(json.dumps(answer.json()))
"""


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_the_models_code_cannot_reach_the_users_keys_network_or_environment(sandbox, tmp_path, run_folder, listener):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    planted = f"aws_secret_access_key = planted-{secrets.token_hex(8)}"
    (home / ".aws" / "credentials").write_text(f"[default]\n{planted}\n")
    parent_secret = f"sk-parent-{secrets.token_hex(8)}"
    code = (
        ATTACK.replace("CREDENTIALS", repr(str(home / ".aws" / "credentials")))
        .replace("PORT", str(listener.port))
        .replace("SECRET", repr(parent_secret))
    )
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "PYTHONPATH": str(REPO),
        "OPENAI_API_KEY": parent_secret,  # what the deep-insight process holds for its model
        ExecutorEnv.SANDBOX: sandbox,
    }
    parent = subprocess.run(
        [sys.executable, "-c", PARENT, str(run_folder)],
        input=code,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert parent.returncode == 0, parent.stderr
    answer = json.loads(parent.stdout)
    assert answer["status"] == "ok", answer
    found = json.loads(answer["stdout"])
    if sandbox == "none":  # what --no-sandbox means: the attack works, so this test can tell
        assert planted in found["credentials"]
        assert found["loopback"] == "connected"
        assert listener.accepted >= 1
        assert found["environ"], "the parent's secret was not found without the sandbox"
    else:
        assert planted not in found["credentials"], found
        assert found["loopback"] != "connected", found
        assert listener.accepted == 0, found
        assert found["public"] == "ENETUNREACH", found  # no route at all: nothing was sent
        assert found["environ"] == [], found
