"""Keep user code from signalling the server: a seccomp filter every worker loads before it runs user code.

In the image user code runs as the server's own uid, and a process may signal any process of its uid: the
server (SIGKILL, SIGSTOP), its process group, every process of the uid (``kill(-1)``), PID 1 (tini forwards
SIGTERM to the server). When the server runs as root each session has its own uid and the kernel refuses
those already; the filter is loaded in both modes. Filters are inherited across fork and exec, so the
kernel's or a bash call's preexec function (``worker.limit_child``) covers everything user code starts.

The filter cannot be a list of pids alone: ``kill()`` given the id of *any thread* of a process signals the
whole process, and the server's threads come and go (each kernel's ZeroMQ threads, anyio's thread pool).
So a non-negative pid given to ``kill``, ``rt_sigqueueinfo``, ``prlimit64`` or ``fcntl(F_SETOWN)`` is
decided by the server (seccomp user notification, Linux 5.5+): a thread in the server (its ``/proc/self/task``)
or in PID 1 or in the server's parent gets EPERM; any other target is let through unchanged. Everything
that can be decided from the arguments alone is refused by the filter itself (no round trip).

Every pid is compared on its low 32 bits (``MASKED_EQ``): ``pid_t`` is 32-bit, and the kernel ignores the
upper half of the register, which the caller may fill with anything; a plain 64-bit ``EQ`` would let
``kill(server_pid | 1 << 32)`` through.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import importlib
import logging
import os
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator

log = logging.getLogger("deep_insight_executor.sandbox_filter")

LOW32 = 0xFFFFFFFF
SIGN32 = 0x80000000
F_SETOWN = 8
F_SETOWN_EX = 15  # takes a pointer to {type, pid}: a filter cannot read it
FIOSETOWN = 0x8901  # ioctl forms of F_SETOWN, also through a pointer
SIOCSPGRP = 0x8902
PR_SET_NO_NEW_PRIVS = 38
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
NOTIF = struct.Struct("=QIIiIQ6Q")  # struct seccomp_notif: id, pid, flags, then seccomp_data (nr, arch, ip, args)
NOTIF_RESP = struct.Struct("=QqiI")  # struct seccomp_notif_resp: id, val, error, flags
NOTIF_RECV = 0xC0000000 | NOTIF.size << 16 | ord("!") << 8 | 0  # SECCOMP_IOWR(0, struct seccomp_notif)
NOTIF_SEND = 0xC0000000 | NOTIF_RESP.size << 16 | ord("!") << 8 | 1  # SECCOMP_IOWR(1, struct seccomp_notif_resp)

# The syscalls whose pid argument the server decides, and which argument that is.
ASKED = {"kill": 0, "rt_sigqueueinfo": 0, "prlimit64": 0, "fcntl": 2, "fcntl64": 2, "pidfd_open": 0}
KILLS = ("kill", "rt_sigqueueinfo")  # pid 0 means the caller's own process group


def _signed(value: int) -> int:
    value &= LOW32
    return value - (1 << 32) if value & SIGN32 else value


def _tgid(pid: int) -> int | None:
    """The process a pid or thread id belongs to (thread ids are absent from /proc's listing, not from /proc)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _pid_namespace(pid: int | str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _descends_from(pid: int, ancestor: int) -> bool:
    """Whether ``ancestor`` is on ``pid``'s chain of parents (read from /proc)."""
    for _ in range(4096):  # a chain of parents is finite; this bounds a race with exits and reparenting
        if pid <= 1:
            return False
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                pid = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == ancestor:
            return True
    return False


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class SignalGuard:
    """The server's filter (compiled once, in the server) and the thread that answers its notifications."""

    def __init__(self) -> None:
        # Imported here, not at the top: without libseccomp.so.2 the import raises, and the server runs on.
        seccomp = importlib.import_module("pyseccomp")

        self.server = os.getpid()
        self.namespace = _pid_namespace("self")
        parent = os.getppid()
        self.pids = {p for p in (self.server, 1, parent) if p > 0}
        groups = {os.getpgrp()}
        for pid in self.pids:
            with contextlib.suppress(OSError):
                groups.add(os.getpgid(pid))
        self.groups = {g for g in groups if g > 0}

        def low(value: int, arg: int = 0) -> object:
            return seccomp.Arg(arg, seccomp.MASKED_EQ, LOW32, value & LOW32)

        def non_negative(arg: int) -> object:
            return seccomp.Arg(arg, seccomp.MASKED_EQ, SIGN32, 0)

        eperm = seccomp.ERRNO(errno.EPERM)
        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        # Negative pids name process groups (-1: every process the caller may signal); pid 0 and positive
        # pids go to the server, which knows the caller's group and the server's current threads.
        for name in KILLS:
            rules.add_rule(seccomp.NOTIFY, name, non_negative(0))
            for target in {-1, *(-g for g in self.groups)}:
                rules.add_rule(eperm, name, low(target))
        # tgkill and rt_tgsigqueueinfo name the process (tgid) first, and the kernel checks that the thread
        # is in it: the tgid alone decides.
        for name in ("tgkill", "rt_tgsigqueueinfo"):
            for pid in self.pids:
                rules.add_rule(eperm, name, low(pid))
        # tkill takes a bare thread id (a server thread's id would stop the server) and is obsolete: glibc's
        # raise() and pthread_kill() use tgkill.
        rules.add_rule(eperm, "tkill")
        # pidfd_send_signal also accepts an fd of an opened /proc/<pid> directory, which the filter cannot
        # tell from any other fd. ENOSYS, as on a kernel without it: callers fall back to kill(), decided above.
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "pidfd_send_signal")
        # Reading or steering another process of the uid: its memory (ptrace, process_vm_*), its open files
        # (pidfd_getfd). In the image user code shares the uid of the server's parents, whose environment and
        # memory may hold secrets; nothing a worker runs needs these on another process.
        for name in ("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd"):
            rules.add_rule(eperm, name)
        # A pidfd of a process outside the server's tree (the server's parent, another program of the user)
        # is of no use to user code; one of its own children is (asyncio waits on them): the server decides.
        rules.add_rule(seccomp.NOTIFY, "pidfd_open")
        # prlimit64 on another process of the uid needs no more than kill: RLIMIT_CPU=1 ends the server.
        rules.add_rule(seccomp.NOTIFY, "prlimit64", seccomp.Arg(0, seccomp.NE, 0))
        # F_SETOWN + O_ASYNC (+ F_SETSIG SIGKILL) makes the kernel signal the fd's owner on I/O, with the
        # permissions of whoever set the owner.
        for name in ("fcntl", "fcntl64"):
            with contextlib.suppress(ValueError, OSError):  # fcntl64 exists on 32-bit architectures only
                rules.add_rule(seccomp.NOTIFY, name, low(F_SETOWN, 1), non_negative(2))
                for target in {-1, *(-g for g in self.groups)}:
                    rules.add_rule(eperm, name, low(F_SETOWN, 1), low(target, 2))
                rules.add_rule(eperm, name, low(F_SETOWN_EX, 1))
        for request in (FIOSETOWN, SIOCSPGRP):
            rules.add_rule(eperm, "ioctl", low(request, 1))

        with tempfile.TemporaryFile() as compiled:
            rules.export_bpf(compiled)
            compiled.seek(0)
            program = compiled.read()
        self._program = ctypes.create_string_buffer(program, len(program))
        self._fprog = _SockFprog(len(program) // 8, ctypes.cast(self._program, ctypes.c_void_p))
        self._seccomp_nr = seccomp.resolve_syscall(seccomp.Arch.NATIVE, "seccomp")
        self._names: dict[int, str] = {}
        for name in ASKED:
            number = seccomp.resolve_syscall(seccomp.Arch.NATIVE, name)
            if number >= 0:
                self._names[number] = name
        self._libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        self._epoll = select.epoll()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- in the worker, between fork and exec ---

    def _install(self, channel: socket.socket) -> None:
        """Load the filter and hand its notification fd to the server. Failures leave the worker unfiltered
        (the server notices: no fd arrives), never unable to start."""
        ulong = ctypes.c_ulong
        if self._libc.prctl(PR_SET_NO_NEW_PRIVS, ulong(1), ulong(0), ulong(0), ulong(0)) != 0:
            return  # seccomp needs no_new_privs without CAP_SYS_ADMIN; setuid programs lose their power too
        listener = self._libc.syscall(
            ctypes.c_long(self._seccomp_nr),
            ulong(SECCOMP_SET_MODE_FILTER),
            ulong(SECCOMP_FILTER_FLAG_NEW_LISTENER),
            ctypes.byref(self._fprog),
        )
        if listener < 0:
            return
        with contextlib.suppress(OSError):
            socket.send_fds(channel, [b"L"], [listener])
        os.close(listener)

    # --- in the server ---

    @contextlib.contextmanager
    def worker(self) -> Iterator[Callable[[], None]]:
        """A preexec step for one worker process started inside the block; its filter's notifications are
        answered from then on."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            yield lambda: self._install(theirs)
            theirs.close()
            # The fd was sent before exec, and Popen returns after exec: it is here, or EOF is (no filter).
            ours.settimeout(5)
            try:
                _, fds, _, _ = socket.recv_fds(ours, 1, 1)
            except TimeoutError:
                fds = []
            if fds:
                self._watch(fds[0])
            else:
                log.warning("a worker started without the signal filter: its code can signal the server")
        finally:
            theirs.close()
            ours.close()

    def _watch(self, listener: int) -> None:
        with self._lock:
            self._epoll.register(listener, select.EPOLLIN)
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="signal-guard", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while True:
            for listener, events in self._epoll.poll():
                try:
                    if events & (select.EPOLLHUP | select.EPOLLERR):  # every process of that worker has exited
                        self._epoll.unregister(listener)
                        os.close(listener)
                    elif events & select.EPOLLIN:
                        self._answer(listener)
                except Exception:  # the guard must outlive any surprise; an unanswered call waits
                    log.exception("signal filter: a notification failed")

    def _answer(self, listener: int) -> None:
        buffer = bytearray(NOTIF.size)
        try:
            fcntl.ioctl(listener, NOTIF_RECV, buffer)
        except OSError as error:
            if error.errno in (errno.ENOENT, errno.EINTR):  # the caller died (or was interrupted) meanwhile
                return
            raise
        notification_id, caller, _, nr, _, _, *args = NOTIF.unpack(buffer)
        refuse = self.refuses(self._names.get(nr), args, caller)
        response = NOTIF_RESP.pack(
            notification_id, 0, -errno.EPERM if refuse else 0, 0 if refuse else SECCOMP_USER_NOTIF_FLAG_CONTINUE
        )
        with contextlib.suppress(OSError):  # ENOENT: the caller is gone
            fcntl.ioctl(listener, NOTIF_SEND, bytearray(response))

    def refuses(self, name: str | None, args: list[int], caller: int) -> bool:
        """Whether a notified call (syscall ``name`` with ``args``, from thread ``caller``) would reach the
        server, PID 1 or the server's parent."""
        if name not in ASKED:
            return False
        namespace = _pid_namespace(caller)
        if namespace is not None and self.namespace is not None and namespace != self.namespace:
            # Inside a sandbox's own pid namespace (sandbox.py): no pid there names a process here. A namespace
            # that cannot be read (an undumpable caller) is taken to be the server's: the checks below apply.
            return False
        target = _signed(args[ASKED[name]])
        if name == "pidfd_open":
            tgid = _tgid(target)
            return tgid is None or tgid in self.pids or not _descends_from(tgid, self.server)
        if target == 0:  # kill(0): the caller's own group; prlimit64(0): itself; F_SETOWN(0): no owner
            if name not in KILLS:
                return False
            try:
                return os.getpgid(caller) in self.groups
            except OSError:
                return False
        if target < 0:
            return target == -1 or -target in self.groups
        return _tgid(target) in self.pids

    def self_test(self) -> str | None:
        """Fork a process with the filter and check that it cannot signal the server; None when it works.
        (A fork, not a new interpreter: this runs once, at start, while the server has no other thread.)"""
        with self.worker() as install:
            child = os.fork()
            if child == 0:  # the child
                code = 4
                try:
                    install()
                    os.kill(self.server, 0)  # signal 0: a permission probe
                    code = 3
                except PermissionError:
                    code = 0
                finally:
                    os._exit(code)
        for _ in range(100):
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                return None if code == 0 else f"a filtered process could still signal the server (exit {code})"
            threading.Event().wait(0.1)
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        return "a filtered process did not finish its probe"


class _Installed:
    guard: SignalGuard | None = None
    """The server's guard once ``protect_server`` has checked that it works; None: workers load no filter."""


def protect_server() -> str | None:
    """Prepare the filter for this server's workers and check it once; the reason when it cannot be used."""
    if not sys.platform.startswith("linux"):
        return "seccomp exists on Linux only"
    try:
        guard = SignalGuard()
        problem = guard.self_test()
    except Exception as error:  # libseccomp missing, a kernel without seccomp or user notification, …
        return f"{type(error).__name__}: {error}"
    if problem is None:
        _Installed.guard = guard
    return problem


@contextlib.contextmanager
def worker_filter() -> Iterator[Callable[[], None] | None]:
    """The preexec step that loads the filter in a worker started inside the block (None: no filter)."""
    guard = _Installed.guard
    if guard is None:
        yield None
        return
    with guard.worker() as install:
        yield install
