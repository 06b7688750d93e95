"""The local sandbox (deep_insight_executor.sandbox) against the attacks it exists for, as real processes.

Each attack runs twice: as the plain command, where it must succeed (otherwise the test would prove nothing),
and under the command ``sandbox.command`` builds, where it must fail. Both as root and as an unprivileged uid
that owns the home it attacks, as a local run's user does. The code runs on the executor's own venv
(``executor_venv``), bound read-only as a worker's would be.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from deep_insight_executor import sandbox

UID = 43300  # not root, not the harness's non-root server (43210), not an executor's session uid (200000 up)
SECRET = "AKIAEXAMPLESANDBOX0042"
PUBLIC = "203.0.113.1"  # TEST-NET-3: a connect() target only, under the sandbox, where it must fail at once

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or sandbox.find() is None, reason="bubblewrap (Linux) is not installed"
)


@dataclass
class Session:
    uid: int | None
    home: Path
    workspace: Path
    private: Path
    temp: Path
    interpreter: Path

    def command(self, argv: Sequence[str]) -> list[str]:
        bwrap = sandbox.find()
        assert bwrap is not None
        return sandbox.command(
            argv, bwrap=bwrap, workspace=self.workspace, private_dir=self.private, temp=self.temp,
            read_only=sandbox.python_paths(str(self.interpreter)),
        )  # fmt: skip

    def popen(self, argv: Sequence[str], *, sandboxed: bool, env: dict[str, str] | None = None) -> subprocess.Popen:
        environment = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(self.home), "TMPDIR": str(self.temp)}
        return subprocess.Popen(
            self.command(argv) if sandboxed else list(argv),
            cwd=self.workspace, env=environment | (env or {}), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
            **({"user": self.uid, "group": self.uid, "extra_groups": []} if self.uid is not None else {}),
        )  # fmt: skip

    def python(self, code: str, *args: str, sandboxed: bool, timeout: float = 60, **popen) -> dict:
        """Run ``code`` on the executor's interpreter; what it printed last, as JSON."""
        process = self.popen([str(self.interpreter), "-c", code, *args], sandboxed=sandboxed, **popen)
        try:
            out, err = process.communicate(timeout=timeout)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        assert out.strip(), f"no answer (exit {process.returncode}): {err[-2000:]}"
        return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(params=["root", "user"])
def who(request: pytest.FixtureRequest) -> int | None:
    if os.geteuid() != 0:
        if request.param == "root":
            pytest.skip("running as root needs root")
        return None  # "user": the test's own uid
    return None if request.param == "root" else UID


def make_session(base: Path, uid: int | None, python: Path) -> Session:
    top = Path(tempfile.mkdtemp(prefix="sandbox-", dir=base))
    top.chmod(0o755)
    home, workspace, private = top / "home", top / "workspace", top / "private"
    temp = private / "tmp"
    for folder in (home / ".aws", home / ".ssh", workspace, temp):
        folder.mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(f"[default]\naws_access_key_id = {SECRET}\n")
    (home / ".ssh" / "id_ed25519").write_text(f"-----BEGIN OPENSSH PRIVATE KEY-----\n{SECRET}\n")
    if uid is not None:
        for path in (home, *home.rglob("*"), workspace, private, temp):
            os.chown(path, uid, uid)
    return Session(uid, home, workspace, private, temp, python)


@pytest.fixture
def session(who: int | None, shared_tmp: Path, executor_venv: Path) -> Iterator[Session]:
    made = make_session(shared_tmp, who, executor_venv / "bin" / "python")
    yield made
    shutil.rmtree(made.home.parent, ignore_errors=True)


READ_SECRETS = """
import json, sys
found = {}
for path in sys.argv[1:]:
    try:
        found[path] = open(path).read()
    except OSError as error:
        found[path] = type(error).__name__
print(json.dumps(found))
"""


def test_the_users_credential_files_are_invisible(session):
    targets = [str(session.home / ".aws" / "credentials"), str(session.home / ".ssh" / "id_ed25519")]
    plain = session.python(READ_SECRETS, *targets, sandboxed=False)
    assert all(SECRET in text for text in plain.values()), plain  # the attack works on the plain command
    boxed = session.python(READ_SECRETS, *targets, sandboxed=True)
    assert not any(SECRET in text for text in boxed.values()), boxed
    assert set(boxed.values()) == {"FileNotFoundError"}


class Listener:
    """A TCP listener on 127.0.0.1 and an abstract unix socket (as an X server or a session bus has) that
    record every connection they accept."""

    def __init__(self) -> None:
        self.accepted: list[str] = []
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.unix = socket.socket(socket.AF_UNIX)
        self.abstract = f"\0deep-insight-sandbox-test-{os.getpid()}-{time.monotonic_ns()}"
        self.unix.bind(self.abstract)
        self.unix.listen()
        for server in (self.tcp, self.unix):
            server.settimeout(0.2)
            threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while server.fileno() >= 0:
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append("tcp" if server is self.tcp else "unix")
            connection.close()

    def close(self) -> None:
        self.tcp.close()
        self.unix.close()


CONNECT = """
import errno, json, socket, sys, time
port, abstract, public = int(sys.argv[1]), sys.argv[2], sys.argv[3]
result = {}
for name, family, address in (("loopback", socket.AF_INET, ("127.0.0.1", port)),
                              ("abstract", socket.AF_UNIX, "\\0" + abstract),
                              ("public", socket.AF_INET, (public, 80))):
    if name == "public" and public == "-":
        continue
    started = time.monotonic()
    with socket.socket(family) as s:
        s.settimeout(5)
        try:
            s.connect(address)
            result[name] = "connected"
        except OSError as error:
            result[name] = errno.errorcode.get(error.errno, str(error))
    result[name + "_seconds"] = time.monotonic() - started
print(json.dumps(result))
"""


def test_no_connection_leaves_the_sandbox(session):
    listener = Listener()
    try:
        args = (str(listener.tcp.getsockname()[1]), listener.abstract[1:])
        # Plain: the loopback listener and the abstract socket are reached (no public address: tests stay on 127.0.0.1).
        plain = session.python(CONNECT, *args, "-", sandboxed=False)
        assert (plain["loopback"], plain["abstract"]) == ("connected", "connected"), plain
        deadline = time.monotonic() + 5
        while len(listener.accepted) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(listener.accepted) == ["tcp", "unix"]
        listener.accepted.clear()
        boxed = session.python(CONNECT, *args, PUBLIC, sandboxed=True)
    finally:
        time.sleep(0.3)  # what a sandboxed connection would have left for the listener to record
        listener.close()
    assert listener.accepted == [], f"the sandbox reached the host's listener: {listener.accepted}"
    assert (boxed["loopback"], boxed["abstract"]) == ("ECONNREFUSED", "ECONNREFUSED"), boxed
    # No route at all: refused by the sandbox's own stack at once, no packet sent and left to time out.
    assert (boxed["public"], boxed["public_seconds"] < 1) == ("ENETUNREACH", True), boxed


PARENT = """
import subprocess, sys
# Holds the secret in its environment (as deep-insight holds the user's keys), starts the attacker with a
# clean one and exits 0, unless the attacker signals it.
subprocess.run(sys.argv[1:], env={"PATH": "/usr/bin:/bin"})
"""

SNOOP = """
import json, os, signal, sys
secret = sys.argv[1][::-1].encode()  # reversed in argv, so that no command line holds it
found = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if secret in open(f"/proc/{pid}/environ", "rb").read():
            found.append(int(pid))
            os.kill(int(pid), signal.SIGTERM)
    except OSError:
        pass
print(json.dumps({"environ": found}))
"""


def test_no_other_process_can_be_read_or_signalled(session):
    """``/proc/<parent>/environ`` of a same-uid parent holding a secret, and a signal to that parent."""
    outcomes = {}
    for sandboxed in (False, True):
        attacker = [str(session.interpreter), "-c", SNOOP, SECRET[::-1]]
        if sandboxed:
            attacker = session.command(attacker)
        parent = session.popen([str(session.interpreter), "-c", PARENT, *attacker], sandboxed=False,
                               env={"PARENT_SECRET": SECRET})  # fmt: skip
        out, err = parent.communicate(timeout=60)
        outcomes[sandboxed] = (json.loads(out.strip().splitlines()[-1]), parent.pid, parent.returncode, err)
    (plain, plain_parent, plain_exit, _), (boxed, _, boxed_exit, boxed_err) = outcomes[False], outcomes[True]
    assert (plain["environ"], plain_exit) == ([plain_parent], -signal.SIGTERM), outcomes[False]
    assert boxed == {"environ": []}, boxed
    assert boxed_exit == 0, boxed_err  # not signalled


WRITE = """
import json, sys
result = {}
for path in sys.argv[1:]:
    try:
        with open(path, "w") as f:
            f.write("written by user code")
        result[path] = "written"
    except OSError as error:
        result[path] = type(error).__name__
print(json.dumps(result))
"""


def test_only_the_sessions_folders_are_writable(session):
    marker = f"sandbox-test-{os.getpid()}-{time.monotonic_ns()}"
    home, host_tmp, venv = str(session.home / ".bashrc"), f"/tmp/{marker}", str(session.interpreter.parents[1] / marker)
    inside = [str(session.workspace / "out.txt"), str(session.temp / "t.txt")]
    plain = session.python(WRITE, home, host_tmp, sandboxed=False)
    assert plain == {home: "written", host_tmp: "written"}, plain
    for path in (home, host_tmp):
        Path(path).unlink()
    boxed = session.python(WRITE, home, host_tmp, venv, *inside, sandboxed=True)
    assert [boxed[p] for p in inside] == ["written", "written"], boxed
    assert not any(Path(p).exists() for p in (home, host_tmp, venv)), boxed  # /tmp inside is not the host's
    assert boxed[home] == "FileNotFoundError", boxed
    assert boxed[venv] in ("OSError", "PermissionError"), boxed
    if session.uid is not None:  # the host sees the session's files as the session's uid's
        assert (session.workspace / "out.txt").stat().st_uid == session.uid


SWAP = """
import json, os, sys
temp, home = sys.argv[1], sys.argv[2]
os.rename(temp, temp + ".old")
os.symlink(home, temp)
print(json.dumps({"swapped": os.path.islink(temp)}))
"""


def test_a_temp_folder_swapped_for_a_link_home_leads_nowhere(session):
    """The next worker of the session must not see what a link put in place of its TMPDIR points to."""
    assert session.python(SWAP, str(session.temp), str(session.home), sandboxed=True) == {"swapped": True}
    targets = [f"{session.temp}/.aws/credentials", "/dev/shm/.aws/credentials", "/tmp/.aws/credentials"]
    plain = session.python(READ_SECRETS, targets[0], sandboxed=False)
    assert SECRET in plain[targets[0]], plain
    boxed = session.python(READ_SECRETS, *targets, sandboxed=True)
    assert not any(SECRET in text for text in boxed.values()), boxed


ESCAPE = """
import json, subprocess, sys
subprocess.run(["setsid", "-f", "bash", "-c", f"exec -a {sys.argv[1]} sleep 300"], check=True)
print(json.dumps({"started": True}))
"""


def _running(marker: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(marker.encode()):
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_a_double_fork_does_not_outlive_its_sandbox(session):
    """A grandchild in a session of its own that keeps the caller's stdout: with the plain command it lives on
    and the output never ends (a bash call would hang); in the sandbox it dies with the command."""
    for sandboxed in (False, True):
        marker = f"sandbox-escape-{int(sandboxed)}-{time.monotonic_ns()}"
        process = session.popen([str(session.interpreter), "-c", ESCAPE, marker], sandboxed=sandboxed)
        try:
            out, _ = process.communicate(timeout=5)
            ended = json.loads(out) == {"started": True}
        except subprocess.TimeoutExpired:
            ended = False
        time.sleep(0.5)
        left = _running(marker)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        assert (ended, bool(left)) == (sandboxed, not sandboxed), f"sandboxed={sandboxed}: {left}"


WORK = """
import json, os
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
pd.DataFrame({"x": [1, 2, 3]}).plot()
plt.savefig("chart.png")
with open("/dev/shm/shared.txt", "w") as f:
    f.write("x")
print(json.dumps({"chart": os.path.getsize("chart.png"), "cpus": os.cpu_count(), "uid": os.getuid()}))
"""


def test_analysis_code_runs_in_the_sandbox(session):
    result = session.python(WORK, sandboxed=True, timeout=120, env={"MPLCONFIGDIR": str(session.private / "mpl")})
    assert result["chart"] > 1000
    assert result["cpus"] >= 1
    assert result["uid"] == (session.uid if session.uid is not None else os.getuid())
    assert (session.temp / "shared.txt").exists()  # /dev/shm is the session's TMPDIR: counted, removed with it
    if session.uid is not None:  # the host sees the session's files as the session's uid's
        assert (session.workspace / "chart.png").stat().st_uid == session.uid


def test_tmp_is_the_sessions_own_when_nothing_bound_lies_under_it(who, executor_venv):
    """With the session's folders outside /tmp, /tmp inside is a link to its TMPDIR: what code writes there
    lands in its quota and goes with it. (Here the interpreter is the system's: the test venv lies in /tmp.)"""
    base = Path(tempfile.mkdtemp(prefix="deep-insight-sandbox-", dir="/var/tmp"))
    base.chmod(0o755)
    try:
        session = make_session(base, who, Path("/usr/bin/python3"))
        process = session.popen(["/bin/sh", "-c", "echo x > /tmp/direct.txt && readlink /tmp"], sandboxed=True)
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert out.strip() == str(session.temp)
        assert (session.temp / "direct.txt").read_text() == "x\n"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_probe_says_in_one_line_why_there_is_no_sandbox(session):
    assert sandbox.problem() is None
    assert sandbox.find("/nonexistent/bwrap") is None
    missing = sandbox.problem(sandbox.Bwrap("/nonexistent/bwrap", disables_userns=True))
    assert missing is not None
    assert "/nonexistent/bwrap" in missing
    assert "\n" not in missing
    # A machine where user namespaces are refused: inside a sandbox, which forbids them (--disable-userns).
    probe = "import json; from deep_insight_executor import sandbox; print(json.dumps({'problem': sandbox.problem()}))"
    refused = session.python(probe, sandboxed=True)["problem"]
    assert refused is not None
    assert "\n" not in refused
    assert "bwrap" in refused, refused


def test_inner_pids_name_the_sandboxs_init_and_its_command(session):
    process = session.popen(["/bin/sleep", "30"], sandboxed=True)
    try:
        deadline = time.monotonic() + 10
        found = None
        while found is None and time.monotonic() < deadline:
            found = sandbox.inner_pids(process.pid)
            time.sleep(0.05)
        assert found is not None
        init, command = found
        assert Path(f"/proc/{command}/cmdline").read_bytes() == b"/bin/sleep\x0030\x00"
        assert os.getpgid(command) == command  # its own group: what an interrupt from outside signals
        namespace_pids = [line.split()[-1] for line in Path(f"/proc/{init}/status").read_text().splitlines()
                          if line.startswith("NSpid:")]  # fmt: skip
        assert namespace_pids == ["1"]
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    assert sandbox.inner_pids(process.pid) is None


def test_the_command_refuses_folders_it_cannot_bind_safely(tmp_path):
    bwrap = sandbox.Bwrap("/usr/bin/bwrap", disables_userns=True)
    with pytest.raises(ValueError, match="not inside its private folder"):
        sandbox.command(["true"], bwrap=bwrap, workspace=tmp_path, private_dir=tmp_path / "p", temp=tmp_path / "t")
    with pytest.raises(ValueError, match="not an absolute path"):
        sandbox.command(["true"], bwrap=bwrap, workspace=Path("w"), private_dir=tmp_path, temp=tmp_path / "t")
