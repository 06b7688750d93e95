"""User code must not signal the server: not its pid or any of its threads, not its process group, not every
process of the uid (kill -1), not PID 1 (tini forwards SIGTERM to the server in the image), by any syscall
that sends signals. Both modes: a root server (each session its own uid: the kernel refuses most of this
already) and a server running as an unprivileged uid, as in the image, where user code has the server's
uid and only the seccomp filter of sandbox_filter.py stands in the way.

Real signals go to the test's own server only. PID 1, the server's group (which holds pytest: the server is
started without a session of its own) and "every process" (-1) are probed with signal 0, which checks
permission and delivers nothing."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.runtimes.executor.conftest import Executor, StartExecutor, assert_alive, run, start_in_mode

# Put in front of every attack: helpers that report an errno name ('sent' when the call succeeded).
HELPERS = """
import ctypes, errno, fcntl, json, os, platform, resource, signal
SERVER = {server}
libc = ctypes.CDLL(None, use_errno=True)
NR = {{
    'x86_64': dict(kill=62, tkill=200, tgkill=234, rt_sigqueueinfo=129),
    'aarch64': dict(kill=129, tkill=130, tgkill=131, rt_sigqueueinfo=138),
}}[platform.machine()]
def syscall(name, *args):
    values = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    if libc.syscall(ctypes.c_long(NR[name]), *values) == 0:
        return 'sent'
    return errno.errorcode[ctypes.get_errno()]
def attempt(call, *args):
    try:
        call(*args)
        return 'sent'
    except OSError as error:
        return errno.errorcode[error.errno]
def siginfo(sig):  # si_signo, si_errno, si_code = SI_QUEUE, as sigqueue(3) sends
    info = ctypes.create_string_buffer(128)
    ctypes.memmove(info, (ctypes.c_int * 3)(sig, 0, -1), 12)
    return ctypes.byref(info)
def threads(pid):
    return [int(t) for t in os.listdir(f'/proc/{{pid}}/task') if int(t) != pid]
"""


@pytest.fixture(scope="module")
def executor(start_executor: StartExecutor, mode: str) -> Executor:
    return start_in_mode(start_executor, mode)


def attack(executor: Executor, sid: str, code: str) -> dict:
    """Run ``code`` (after HELPERS) in session ``sid``; what it printed last, as JSON."""
    with executor.client(timeout=30) as client:
        result = run(client, sid, HELPERS.format(server=executor.process.pid) + code)
    assert result["status"] == "ok", result
    return json.loads(result["stdout"].splitlines()[-1])


def assert_unharmed(executor: Executor, sid: str) -> None:
    """The server runs, is not stopped, answers /health, and the session takes its next call."""
    pid = executor.process.pid
    assert executor.process.poll() is None, f"the server died:\n{executor.log.read_text()[-2000:]}"
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    if state in ("T", "t"):
        os.kill(pid, signal.SIGCONT)  # leave the module's server usable for the next tests
        pytest.fail("the server was stopped (SIGSTOP)")
    with executor.client(timeout=15) as client:
        assert_alive(client, sid)


def test_workers_run_under_the_filter(executor):
    with executor.client() as client:
        python = run(client, "filtered", "print(open('/proc/self/status').read())")
        bash = run(client, "filtered", "grep Seccomp: /proc/self/status", language="bash")
    assert "\nSeccomp:\t2\n" in python["stdout"], python
    assert bash["stdout"] == "Seccomp:\t2\n", bash
    assert "user code can signal the server" not in executor.log.read_text()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGINT], ids=lambda s: s.name)
def test_python_cannot_signal_the_server(executor, sig):
    got = attack(executor, "kill-py", f"print(json.dumps(attempt(os.kill, SERVER, {int(sig)})))")
    assert got == "EPERM"
    assert_unharmed(executor, "kill-py")


@pytest.mark.parametrize("sig", ["KILL", "TERM", "STOP", "INT"])
def test_bash_cannot_signal_the_server(executor, sig):
    with executor.client(timeout=30) as client:
        result = run(client, "kill-sh", f"kill -s {sig} {executor.process.pid} 2>&1; echo exit $?", language="bash")
    assert "Operation not permitted" in result["stdout"], result
    assert result["stdout"].endswith("exit 1\n"), result
    assert_unharmed(executor, "kill-sh")


def test_no_thread_of_the_server_can_be_signalled(executor):
    """kill() given a thread's id signals its whole process; tkill/tgkill name threads directly."""
    server_threads = [int(t) for t in os.listdir(f"/proc/{executor.process.pid}/task")]
    assert len(server_threads) > 1  # a real target: the server has more threads than its main one
    got = attack(
        executor,
        "threads",
        "tids = threads(SERVER)\n"
        "print(json.dumps({'seen': len(tids),\n"
        "    'kill': sorted({attempt(os.kill, t, signal.SIGKILL) for t in tids}),\n"
        "    'tkill': sorted({syscall('tkill', t, signal.SIGKILL) for t in tids}),\n"
        "    'tgkill': sorted({syscall('tgkill', SERVER, t, signal.SIGKILL) for t in tids + [SERVER]})}))",
    )
    assert got["seen"] >= 1, got
    assert got == {"seen": got["seen"], "kill": ["EPERM"], "tkill": ["EPERM"], "tgkill": ["EPERM"]}
    assert_unharmed(executor, "threads")


def test_other_ways_to_send_a_signal_are_refused(executor):
    """rt_sigqueueinfo, pidfds (from pidfd_open or from an opened /proc/<pid> directory), the upper half of
    the pid register, and F_SETOWN (the kernel signals a file's owner on I/O: F_SETSIG can make it SIGKILL)."""
    got = attack(
        executor,
        "other",
        "out = {}\n"
        "out['sigqueue'] = syscall('rt_sigqueueinfo', SERVER, signal.SIGKILL, siginfo(signal.SIGKILL))\n"
        "out['high bits'] = syscall('kill', SERVER | 1 << 32, signal.SIGKILL)\n"
        "out['pidfd_open'] = attempt(os.pidfd_open, SERVER)\n"
        "directory = os.open(f'/proc/{SERVER}', os.O_DIRECTORY)\n"
        "out['proc pidfd'] = attempt(signal.pidfd_send_signal, directory, signal.SIGKILL)\n"
        "out['prlimit'] = attempt(resource.prlimit, SERVER, resource.RLIMIT_CPU)\n"
        "read, write = os.pipe()\n"
        "out['F_SETOWN'] = attempt(fcntl.fcntl, read, fcntl.F_SETOWN, SERVER)\n"
        "out['F_SETOWN thread'] = attempt(fcntl.fcntl, read, fcntl.F_SETOWN, threads(SERVER)[0])\n"
        "owner = (ctypes.c_int * 2)(1, SERVER)  # F_OWNER_PID\n"
        "out['F_SETOWN_EX'] = 'sent' if libc.fcntl(read, 15, owner) == 0 else errno.errorcode[ctypes.get_errno()]\n"
        "if 'sent' in (out['F_SETOWN'], out['F_SETOWN thread'], out['F_SETOWN_EX']):\n"
        "    fcntl.fcntl(read, 10, signal.SIGKILL)  # F_SETSIG\n"
        "    fcntl.fcntl(read, fcntl.F_SETFL, os.O_ASYNC)\n"
        "    os.write(write, b'x')\n"
        "print(json.dumps(out))",
    )
    assert got == {
        "sigqueue": "EPERM",
        "high bits": "EPERM",
        "pidfd_open": "EPERM",
        "proc pidfd": "ENOSYS",  # pidfd_send_signal is refused whole: callers fall back to kill()
        "prlimit": "EPERM",  # RLIMIT_CPU=1 would end the server as surely as SIGKILL
        "F_SETOWN": "EPERM",
        "F_SETOWN thread": "EPERM",
        "F_SETOWN_EX": "EPERM",
    }
    assert_unharmed(executor, "other")


def test_every_process_pid_1_and_the_servers_group_are_refused(executor):
    """Signal 0 only: a permission probe. pidfd_open(1) tells the filter's EPERM from the kernel's (pid 1 is
    root's here, so kill(1, 0) is refused without the filter too)."""
    group = os.getpgid(executor.process.pid)
    got = attack(
        executor,
        "groups",
        f"GROUP = {group}\n"
        "print(json.dumps({'all': attempt(os.kill, -1, 0), 'pid 1': attempt(os.kill, 1, 0),\n"
        "    'group': attempt(os.kill, -GROUP, 0), 'group sigqueue': syscall('rt_sigqueueinfo', -GROUP, 0, siginfo(0)),\n"
        "    'pidfd 1': attempt(os.pidfd_open, 1), 'tgkill 1': syscall('tgkill', 1, 1, 0),\n"
        "    'F_SETOWN group': attempt(fcntl.fcntl, os.pipe()[0], fcntl.F_SETOWN, -GROUP)}))",
    )
    assert got == {
        "all": "EPERM",
        "pid 1": "EPERM",
        "group": "EPERM",
        "group sigqueue": "EPERM",
        "pidfd 1": "EPERM",
        "tgkill 1": "EPERM",
        "F_SETOWN group": "EPERM",
    }
    with executor.client(timeout=30) as client:
        result = run(
            client,
            "groups-sh",
            f"kill -0 -1 2>&1; kill -0 1 2>&1; kill -0 -- -{group} 2>&1; echo done",
            language="bash",
        )
    assert result["stdout"].count("Operation not permitted") == 3, result
    assert_unharmed(executor, "groups")


def test_the_worker_still_signals_its_own_processes(executor):
    got = attack(
        executor,
        "own",
        "import subprocess, threading\n"
        "out = {}\n"
        "child = subprocess.Popen(['sleep', '30'])\n"
        "out['child 0'] = attempt(os.kill, child.pid, 0)\n"
        "out['prlimit child'] = attempt(resource.prlimit, child.pid, resource.RLIMIT_NOFILE)\n"
        "child.kill()\n"
        "out['child killed'] = child.wait()\n"
        "caught = threading.Event()\n"
        "signal.signal(signal.SIGUSR1, lambda *_: caught.set())\n"
        "out['self'] = attempt(os.kill, os.getpid(), signal.SIGUSR1)\n"
        "out['caught'] = caught.wait(5)\n"
        "out['own group'] = attempt(os.kill, 0, 0)\n"
        "out['own pidfd'] = attempt(os.pidfd_open, os.getpid())\n"
        "out['F_SETOWN self'] = attempt(fcntl.fcntl, os.pipe()[0], fcntl.F_SETOWN, os.getpid())\n"
        "print(json.dumps(out))",
    )
    assert got == {
        "child 0": "sent",
        "prlimit child": "sent",
        "child killed": -signal.SIGKILL,
        "self": "sent",
        "caught": True,
        "own group": "sent",
        "own pidfd": "sent",
        "F_SETOWN self": "sent",
    }
    with executor.client(timeout=30) as client:
        result = run(
            client,
            "own-sh",
            "sleep 30 & kill $!; wait $!; echo child $?; kill -0 $$ && kill -0 0 && echo self ok",
            language="bash",
        )
    assert result["stdout"] == "child 143\nself ok\n", result
    assert_unharmed(executor, "own")


def test_without_libseccomp_the_server_warns_once_and_runs(start_executor: StartExecutor, tmp_path_factory):
    """A server where the binding cannot load libseccomp (as on a system without libseccomp.so.2)."""
    fake = tmp_path_factory.mktemp("no-libseccomp")
    fake.chmod(0o755)
    (fake / "pyseccomp.py").write_text("raise RuntimeError('Unable to find libseccomp')\n")
    executor = start_executor(PYTHONPATH=str(fake))
    with executor.client() as client:
        run(client, "a", "x = 1")
        assert run(client, "a", "print(x)")["stdout"] == "1\n"
        assert run(client, "b", "echo hi", language="bash")["stdout"] == "hi\n"
    log = executor.log.read_text()
    assert log.count("user code can signal the server") == 1, log
    assert "Unable to find libseccomp" in log
