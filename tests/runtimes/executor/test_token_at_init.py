"""In a Fargate task the executor's parent is the container's init (ECS's initProcessEnabled), which runs as the
image's uid, the uid user code shares, and keeps the environment RunTask gave the container in its
/proc/<pid>/environ. Whatever the agent puts there, user code can read.

The attack: read every environment and command line it can, take anything that could be a token, and call the
executor with it. Against a server started under such an init with the environment the agent's RunTask
override really sets (``task_environment``), no value gets past the token check. A control starts the same
init with the token itself in its environment, as the task got it before: there the attack must work, so the
test can tell."""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from pathlib import Path

import httpx
import pytest
from deep_insight_agent.executor_session import task_environment

from tests.runtimes.executor.conftest import SERVER_UID, Executor, StartExecutor, run

# Python run in the session: every value of every environment and command line it can read, tried as the
# bearer token against the server on 127.0.0.1 (its port given); prints the values the server took.
STEAL = """
import json, os, re, urllib.request, urllib.error
values = set()
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    for name in ('environ', 'cmdline'):
        try:
            raw = open(f'/proc/{pid}/{name}', 'rb').read().decode('utf-8', 'replace')
        except OSError:
            continue
        for item in raw.split('\\0'):
            values.add(item.partition('=')[2] if '=' in item else item)
taken = []
for value in sorted(v for v in values if re.fullmatch(r'[A-Za-z0-9_.=-]{16,256}', v)):
    request = urllib.request.Request(f'http://127.0.0.1:PORT/v1/sessions/one-session/files', headers={'Authorization': f'Bearer {value}'})
    try:
        urllib.request.urlopen(request, timeout=5)
        taken.append(value)
    except urllib.error.HTTPError:
        pass
print(json.dumps({'tried': len(values), 'taken': taken}))
"""

# The container's init: it starts the executor, passes SIGTERM and SIGINT on (as tini does) and waits,
# holding the environment it was given.
INIT = """
import signal, subprocess, sys
child = subprocess.Popen(sys.argv[1:])
for number in (signal.SIGTERM, signal.SIGINT):
    signal.signal(number, lambda received, frame: child.send_signal(received))
sys.exit(child.wait())
"""


def start_under_init(start_executor: StartExecutor, python: Path, token: str, environment: dict[str, str]) -> Executor:
    """A non-root server (the image's uid) whose parent is an init of the same uid holding ``environment``."""
    executor = start_executor(
        token=None,
        as_uid=SERVER_UID,
        wrap=[str(python), "-c", INIT],
        HOME="/tmp",
        EXECUTOR_MAX_PROCESSES="512",
        **environment,
    )
    executor.token = token
    return executor


@pytest.mark.parametrize("given", ["the agent's RunTask environment", "the token itself (control)"])
def test_code_cannot_take_the_token_from_the_tasks_init(start_executor, executor_venv, given):
    token = secrets.token_urlsafe(32)
    if given == "the token itself (control)":
        environment = {"SESSION_ID": "one-session", "EXECUTOR_TOKEN": token}
    else:
        environment = {item["name"]: item["value"] for item in task_environment("one-session", token)}
    executor = start_under_init(start_executor, executor_venv / "bin" / "python", token, environment)
    port = executor.url.rsplit(":", 1)[1]
    with executor.client() as client:
        assert run(client, "one-session", "import os\nprint(os.getuid())")["stdout"] == f"{SERVER_UID}\n"
        result = run(client, "one-session", STEAL.replace("PORT", port))
    assert result["status"] == "ok", result
    found = json.loads(result["stdout"])
    assert found["tried"] > 10, found  # the attack read the environments it could
    if given == "the token itself (control)":
        assert found["taken"] == [token], found
    else:
        assert found["taken"] == [], found
    with httpx.Client(base_url=executor.url, timeout=10) as anonymous:
        assert anonymous.get("/v1/sessions/one-session/files").status_code == 401


# Python run in the session: try to attach to, read the memory of, and get a pidfd of each pid given.
PRY = """
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)

class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('length', ctypes.c_size_t)]

def outcome(result):
    return 'allowed' if result >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')

found = {}
for name, pid in TARGETS.items():
    attached = libc.ptrace(16, pid, None, None)  # PTRACE_ATTACH
    found[name + ' ptrace'] = outcome(attached)
    if attached == 0:
        os.waitpid(pid, 0)
        libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
    buffer = ctypes.create_string_buffer(1)
    local, remote = iovec(ctypes.addressof(buffer), 1), iovec(4096, 1)
    # EFAULT means the kernel let us try the (unmapped) address: permitted; EPERM means refused.
    read = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    found[name + ' process_vm_readv'] = 'allowed' if read >= 0 or ctypes.get_errno() == errno.EFAULT else outcome(read)
    try:
        os.close(os.pidfd_open(pid))
        found[name + ' pidfd_open'] = 'allowed'
    except OSError as error:
        found[name + ' pidfd_open'] = errno.errorcode[error.errno]
print(json.dumps(found))
"""


def test_code_cannot_pry_into_processes_of_its_uid_outside_the_server(start_executor, executor_venv):
    """The init, and a program of the same uid that is no part of the executor (a bystander): the kernel would
    let a process of the same uid attach to them and read their memory; the executor's filter does not."""
    python = executor_venv / "bin" / "python"
    bystander = subprocess.Popen([str(python), "-c", "import time; time.sleep(600)"], user=SERVER_UID, group=SERVER_UID)
    try:
        digest = hashlib.sha256(b"t" * 32).hexdigest()
        executor = start_under_init(start_executor, python, "t" * 32, {"EXECUTOR_TOKEN_SHA256": digest})
        code = (
            "import os\nserver = os.getppid()\n"
            "init = int(open(f'/proc/{server}/stat').read().rsplit(')', 1)[1].split()[1])\n"
            f"TARGETS = {{'init': init, 'bystander': {bystander.pid}}}\n" + PRY
        )
        with executor.client() as client:
            result = run(client, "pry", code)
    finally:
        bystander.kill()
        bystander.wait()
    assert result["status"] == "ok", result
    found = json.loads(result["stdout"])
    assert found == dict.fromkeys(found, "EPERM"), found
    assert len(found) == 6
