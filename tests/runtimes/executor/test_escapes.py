"""Code that tries to outlive its call or its session, in both of the server's modes, as real processes.

Each attack leaves a process the test can find from outside by a marker on its command line (``sleep`` given
a number no other process uses). Expectations come from the attack, read off /proc and the disk by the test
itself: "no process with the marker", "the session's files take no more than its quota on disk"."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import pytest

from tests.runtimes.executor.conftest import HOSTILE_MODES, Executor, StartExecutor, assert_alive, run, start_in_mode

QUOTA_MB = 64
MEMORY_LIMIT_MB = 410
GONE_WITHIN_SECONDS = 5.0

# Python run in the session: start ``argv`` as a daemon (fork, setsid, fork; the middle process exits, so the
# grandchild is reparented away from the worker's process tree), its output to /dev/null.
DAEMONIZE = """
import os
def daemonize(argv):
    middle = os.fork()
    if middle == 0:
        os.setsid()
        if os.fork() == 0:
            null = os.open('/dev/null', os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.execv(argv[0], argv)
        os._exit(0)
    os.waitpid(middle, 0)
"""


def marker() -> str:
    """A ``sleep`` duration no other process on the machine has on its command line."""
    return f"{4000 + secrets.randbelow(5000)}.{secrets.randbelow(10**6):06d}"


def processes_with(text: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``text``, read from /proc by the test."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(pid))
    return found


def wait_until_gone(text: str, seconds: float = GONE_WITHIN_SECONDS) -> list[int]:
    deadline = time.monotonic() + seconds
    while (left := processes_with(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def on_disk(folder: Path) -> int:
    """Bytes the regular files under ``folder`` take on disk, hard links once (the test's own walk)."""
    seen: dict[tuple[int, int], int] = {}
    for root, _, names in os.walk(folder):
        for name in names:
            with_stat = os.lstat(os.path.join(root, name))
            if (with_stat.st_mode & 0o170000) == 0o100000:
                seen[(with_stat.st_dev, with_stat.st_ino)] = with_stat.st_blocks * 512
    return sum(seen.values())


@pytest.fixture(scope="module", params=HOSTILE_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Hostile code is also tried in a local run's sandbox."""
    return request.param


@pytest.fixture(scope="module")
def executor(start_executor: StartExecutor, mode: str) -> Executor:
    return start_in_mode(
        start_executor,
        mode,
        EXECUTOR_MAX_SESSIONS="32",
        EXECUTOR_MEMORY_LIMIT_MB=str(MEMORY_LIMIT_MB),
        EXECUTOR_MAX_WORKSPACE_MB=str(QUOTA_MB),
    )


@pytest.fixture
def sid(request: pytest.FixtureRequest) -> str:
    return f"esc-{request.node.name[:40].replace('[', '-').replace(']', '')}-{secrets.token_hex(3)}"


def test_a_daemon_started_by_python_does_not_outlive_its_call(executor, sid):
    mark = marker()
    with executor.client() as client:
        result = run(client, sid, DAEMONIZE + f"daemonize(['/bin/sleep', '{mark}'])\nprint('started')")
        assert result["stdout"] == "started\n", result
        assert wait_until_gone(mark) == [], "the daemon outlived the call that started it"
        assert_alive(client, sid)


def test_a_daemon_started_by_bash_does_not_outlive_its_call(executor, sid):
    mark = marker()
    with executor.client() as client:
        result = run(client, sid, f"setsid -f sleep {mark} </dev/null >/dev/null 2>&1; echo started", language="bash")
        assert result["stdout"] == "started\n", result
        assert wait_until_gone(mark) == [], "the daemon outlived the bash call that started it"
        assert_alive(client, sid)


def test_no_process_of_a_session_survives_its_delete(executor, sid):
    mark = marker()
    # A daemon that waits until its call is over before it leaves: started in a thread of the kernel, which
    # outlives every call, so nothing of the session is left running only if DELETE ends it.
    late = (
        DAEMONIZE
        + "import threading, time\n"
        + f"threading.Thread(target=lambda: (time.sleep(1.5), daemonize(['/bin/sleep', '{mark}'])), daemon=True).start()\n"
    )
    with executor.client() as client:
        run(client, sid, late)
        time.sleep(2.5)
        assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    assert wait_until_gone(mark) == [], f"a process of session {sid} survived its DELETE"


def test_a_daemon_cannot_hold_memory_past_the_limit(executor, sid):
    mark = marker()
    # The grandchild waits until it has left the worker's tree, then takes more than the session's limit
    # and holds it, while the call that started it goes on for 3 s.
    hog = (
        "import os, sys, time\n"
        "first = os.getppid()\n"
        "while os.getppid() == first:\n"
        "    time.sleep(0.01)\n"
        f"hog = bytearray({MEMORY_LIMIT_MB + 300} * 1024 * 1024)\n"
        "time.sleep(120)\n"
    )
    code = DAEMONIZE + f"import sys, time\ndaemonize([sys.executable, '-c', {hog!r}, '{mark}'])\ntime.sleep(3)"
    with executor.client() as client:
        run(client, sid, code, timeoutSeconds=30)
        holders = processes_with(mark)
        assert holders == [], f"a daemon of the session still holds memory after its call: {holders}"
        assert_alive(client, sid)


def test_a_daemon_cannot_write_past_the_quota_between_calls(executor, sid):
    mark = marker()
    # The daemon starts writing only once its call has answered: 4 files of 30 MB, 120 MB in all, twice the quota.
    writer = (
        "import os, time\n"
        "time.sleep(1)\n"
        "for n in range(4):\n"
        "    with open(f'late-{n}.bin', 'wb') as out:\n"
        "        for _ in range(30):\n"
        "            out.write(b'x' * 1024 * 1024)\n"
        "            out.flush()\n"
        "time.sleep(120)\n"
    )
    code = DAEMONIZE + f"import sys\ndaemonize([sys.executable, '-c', {writer!r}, '{mark}'])"
    with executor.client() as client:
        run(client, sid, code)
        workspace = workspace_of(executor, sid)
        time.sleep(6)
        assert on_disk(workspace) <= QUOTA_MB * 1024 * 1024, "a daemon wrote past the session's quota between calls"
        assert processes_with(mark) == []


def test_a_thread_left_in_the_kernel_cannot_write_past_the_quota_between_calls(executor, sid):
    # The kernel outlives every call, and so does a thread it runs: it writes only once its call has answered.
    thread = (
        "import threading, time\n"
        "def flood():\n"
        "    time.sleep(1)\n"
        "    for n in range(4):\n"
        "        with open(f'thread-{n}.bin', 'wb') as out:\n"
        "            for _ in range(30):\n"
        "                out.write(b'x' * 1024 * 1024)\n"
        "                out.flush()\n"
        "threading.Thread(target=flood, daemon=True).start()\n"
        "print('started')\n"
    )
    with executor.client() as client:
        assert run(client, sid, thread)["stdout"] == "started\n"
        workspace = workspace_of(executor, sid)
        time.sleep(6)
        assert on_disk(workspace) <= QUOTA_MB * 1024 * 1024, "a kernel thread wrote past the quota between calls"
        following = run(client, sid, "print('next')")
        assert following["status"] == "error", following
        assert following["error"]["type"] == "WorkspaceQuotaExceeded", following
        assert "between calls" in following["error"]["message"], following
        assert_alive(client, sid)


def test_a_bash_call_returns_at_its_timeout_whatever_its_children_hold(executor, sid):
    mark = marker()
    with executor.client() as client:
        started = time.monotonic()
        result = run(client, sid, f"setsid -f sleep {mark}; sleep 30", language="bash", timeoutSeconds=3)
        took = time.monotonic() - started
        assert result["status"] == "timeout", result
        assert took < 3 + 2, f"the call took {took:.1f} s for a timeout of 3 s"
        # A child that keeps the command's stdout open does not hold the call once the shell has exited.
        started = time.monotonic()
        quick = run(client, sid, f"setsid -f sleep {mark}; echo done", language="bash", timeoutSeconds=20)
        took = time.monotonic() - started
        assert quick["stdout"] == "done\n", quick
        assert took < 2, f"the call took {took:.1f} s though its shell exited at once"
        assert wait_until_gone(mark) == []
        assert_alive(client, sid)


def test_shared_memory_counts_in_the_quota_and_goes_with_the_session(start_executor, executor, mode, sid):
    prefix = f"/dev/shm/di-{sid}"
    # Three files of 30 MB: each under the quota (one file cannot pass it: RLIMIT_FSIZE), together over it.
    flood = f"for n in range(3):\n    open(f'{prefix}-{{n}}', 'wb').write(b'x' * 30 * 1024 * 1024)"
    if mode == "non-root":
        # One uid for the server and all its sessions: a /dev/shm file cannot be told to be one session's,
        # so it is the sessions' together. The image serves one session per server, as here.
        executor = start_in_mode(start_executor, mode, SESSION_ID=sid, EXECUTOR_MAX_WORKSPACE_MB=str(QUOTA_MB))
    with executor.client() as client:
        over = run(client, sid, flood)
        assert over["status"] == "error", over
        assert over["error"]["type"] == "WorkspaceQuotaExceeded", over
        # Measured as the session sees /dev/shm (in a sandbox, its own).
        kept = run(
            client, sid, f"import glob, os\nprint(sum(os.stat(p).st_blocks * 512 for p in glob.glob('{prefix}-*')))"
        )
        assert int(kept["stdout"]) <= QUOTA_MB * 1024 * 1024, f"/dev/shm still holds {kept} bytes of the session"
        small = run(client, sid, f"open('{prefix}-small', 'wb').write(b'x' * 1024 * 1024)")
        assert small["status"] == "ok", small
        assert run(client, sid, f"import os\nprint(os.path.exists('{prefix}-small'))")["stdout"] == "True\n"
        assert client.delete(f"/v1/sessions/{sid}").status_code == 204
    deadline = time.monotonic() + GONE_WITHIN_SECONDS
    while list(Path("/dev/shm").glob(f"di-{sid}-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(Path("/dev/shm").glob(f"di-{sid}-*")) == [], "the session's /dev/shm files survived its DELETE"


def workspace_of(executor: Executor, sid: str) -> Path:
    """The session's workspace: the one its code marked with its id (``_mark_workspace``)."""
    for workspace in (executor.workdir / "sessions").iterdir():
        owner = workspace / ".owner"
        if owner.exists() and owner.read_text() == sid:
            return workspace
    raise AssertionError(f"no workspace of session {sid}")


@pytest.fixture(autouse=True)
def _mark_workspace(executor, sid):
    """Every session of this module writes its id into its workspace first, so the test can find the folder."""
    with executor.client() as client:
        run(client, sid, f"open('.owner', 'w').write({sid!r})")
