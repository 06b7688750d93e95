"""The local sandbox for workers (``EXECUTOR_SANDBOX=bwrap``): bubblewrap around a worker's command.

A local run's executor runs as the user, so without it the model's code could read ``~/.aws`` and
``~/.ssh``, open any connection and read ``/proc/<pid>/environ`` of the ``deep-insight`` process that
holds the user's keys. Inside the sandbox a worker sees:

- ``/usr`` (with the ``/bin``, ``/lib`` links of a merged /usr), a short list of ``/etc`` files Python,
  matplotlib and a shell need (``ETC``: no ``pip.conf``, ``npmrc``, ``ssh``, ``environment``...), the
  interpreter and the venv, all read-only;
- its session's workspace and private folder, read-write, at their own paths (the server and the kernel
  name the same sockets, connection file and ``TMPDIR``);
- ``/tmp`` and ``/dev/shm`` as links to its ``TMPDIR``, so files written there count in the session's disk
  quota and go with the session;
- a /proc of its own pid namespace (no other process, so no other ``environ``), a few device nodes,
  only a loopback interface of its own (no packet leaves, not even to the host's 127.0.0.1), no user
  home, no ``/run``, ``/var``, ``/sys``, ``/home``, ``/root``, ``/mnt``, ``/media`` or ``/opt``.

Only the session's two folders are bound from paths that can change, and both are bound by their own path,
whose parents user code cannot reach: bubblewrap follows symlinks in a bind's source, so binding a
subfolder (``private/tmp``) would let code that swapped it for a link to ``~/.ssh`` see the target in the
next worker. ``/tmp`` and ``/dev/shm`` are links made inside the sandbox, which resolve inside it.

Processes: bubblewrap stays as the worker's pid in the server's view; under it, its own process is pid 1
of the new pid namespace and reaps orphans, and the command is pid 2. When the command exits, pid 1 exits
and the kernel kills everything left in the namespace: a double fork cannot outlive its worker.
``--die-with-parent`` kills the sandbox when the process that started it dies.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

PROBE_SECONDS = 20.0
SETSID = "/usr/bin/setsid"
APPARMOR_USERNS = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
ETC = (
    "passwd", "group", "nsswitch.conf", "host.conf", "hosts", "localtime", "timezone", "ld.so.cache",
    "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "mime.types", "magic", "magic.mime", "locale.alias",
    "os-release", "protocols", "services", "ssl/openssl.cnf",
)  # fmt: skip
"""What of /etc is visible: name lookups, time zone, the dynamic linker's cache, Debian's alternatives
links (``awk``, ``pager``), fontconfig, MIME types. Not the rest: /etc holds files a user may read that
carry secrets (``pip.conf``, ``npmrc``, ``boto.cfg``) and private keys a root worker could read."""
TOP_LEVEL_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_PR_SET_NO_NEW_PRIVS = 38


@dataclass(frozen=True)
class Bwrap:
    path: str
    disables_userns: bool
    """bubblewrap 0.8 and later can forbid user namespaces inside the sandbox (``--disable-userns``), which
    keeps user code from the kernel code reachable only from one (mounts, netfilter)."""


def find(path: str | None = None) -> Bwrap | None:
    """bubblewrap at ``path``, else on PATH, else Debian's; None when there is none."""
    found = path if path is not None else shutil.which("bwrap") or "/usr/bin/bwrap"
    if not os.access(found, os.X_OK):
        return None
    try:
        usage = subprocess.run(
            [found, "--help"], capture_output=True, text=True, timeout=PROBE_SECONDS, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return Bwrap(found, "--disable-userns" in usage)


def command(
    argv: Sequence[str],
    *,
    bwrap: Bwrap,
    workspace: Path,
    private_dir: Path,
    temp: Path,
    read_only: Iterable[Path] = (),
) -> list[str]:
    """The command line that runs ``argv`` in the sandbox, in ``workspace``.

    ``temp`` is the worker's ``TMPDIR``, inside ``private_dir``; ``read_only`` are the interpreter's and the
    venv's folders (``python_paths``). The caller starts it as it would start ``argv``: same environment
    (bubblewrap passes it on, less ``JPY_PARENT_PID``), same descriptors, same limits and uid."""
    workspace, private_dir, temp = Path(workspace), Path(private_dir), Path(temp)
    for folder in (workspace, private_dir, temp):
        if not folder.is_absolute():
            raise ValueError(f"{folder} is not an absolute path; the sandbox binds folders at their own path")
    if private_dir not in temp.parents:
        raise ValueError(f"the worker's TMPDIR {temp} is not inside its private folder {private_dir}")
    # Also at their real path: jupyter_client hands the kernel its connection file's real path.
    bound = tuple(dict.fromkeys(f for folder in (workspace, private_dir) for f in (folder, _real(folder))))
    line = [bwrap.path, "--unshare-all", "--unshare-user"]
    if bwrap.disables_userns:
        line.append("--disable-userns")
    # A root worker keeps no capability (bubblewrap keeps them for uid 0 otherwise); --die-with-parent:
    # a server that dies leaves no worker behind. JPY_PARENT_PID: the kernel compares it with its parent,
    # which in the pid namespace is pid 1, and would exit at once.
    line += ["--cap-drop", "ALL", "--die-with-parent", "--unsetenv", "JPY_PARENT_PID"]
    line += ["--ro-bind", "/usr", "/usr"]
    for name in TOP_LEVEL_LINKS:
        top = Path("/", name)
        if top.is_symlink():
            line += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            line += ["--ro-bind", str(top), str(top)]
    for name in ETC:
        line += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    line += _python_config()
    line += ["--ro-bind-try", "/var/cache/fontconfig", "/var/cache/fontconfig"]
    covered = [Path("/usr")]
    for path in sorted({f for p in read_only for f in (Path(p), _real(Path(p)))}, key=lambda p: len(p.parts)):
        if not any(path == c or c in path.parents for c in covered):
            line += ["--ro-bind", str(path), str(path)]
            covered.append(path)
    line += ["--proc", "/proc"]
    line += _devices(temp)
    for folder in bound:
        line += ["--bind", str(folder), str(folder)]
    # /tmp can be a link only when nothing is bound under it (a local run's workdir in /tmp, a venv there):
    # then it stays a read-only folder holding those mount points, and TMPDIR is the only place for temp files.
    tmp = Path("/tmp")
    if not any(tmp == path or tmp in path.parents for path in (*bound, *covered)):
        line += ["--symlink", str(temp), "/tmp"]
    # Read-only last: what bubblewrap made for the mount points (its root, /dev) is a tmpfs, memory no limit sees.
    line += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", str(workspace)]
    # setsid: the command leads its own session and process group, as jupyter_client and bash.py make workers
    # outside the sandbox; a kernel then interrupts its whole group (interrupt_mode "message"), and no
    # process in the sandbox has a controlling terminal to push input into (TIOCSTI).
    return [*line, "--", SETSID, *argv]


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _devices(temp: Path) -> list[str]:
    """A /dev of its own: the usual character devices of the host and a /dev/shm that is the worker's TMPDIR
    (bubblewrap's own --dev makes /dev/shm a folder, which a link cannot replace)."""
    line = ["--tmpfs", "/dev"]
    for name in ("null", "zero", "full", "random", "urandom", "tty"):
        line += ["--dev-bind", f"/dev/{name}", f"/dev/{name}"]
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "0"), ("stdout", "1"), ("stderr", "2")):
        line += ["--symlink", target if name == "fd" else f"/proc/self/fd/{target}", f"/dev/{name}"]
    return [*line, "--symlink", str(temp), "/dev/shm"]


def _python_config() -> list[str]:
    """Debian's interpreters read ``sitecustomize`` from /etc/python3.X."""
    with contextlib.suppress(OSError):
        return [
            arg for name in sorted(os.listdir("/etc")) if name.startswith("python3")
            for arg in ("--ro-bind", f"/etc/{name}", f"/etc/{name}")
        ]  # fmt: skip
    return []


def python_paths(executable: str) -> list[Path]:
    """The folders a worker started with this interpreter reads: its prefix (the venv, for a venv's), the
    installation it links to, and the one a venv's ``pyvenv.cfg`` names (``home``); /usr is there anyway."""
    exe = Path(executable)
    found = {exe.parent.parent, Path(os.path.realpath(exe)).parent.parent}
    with contextlib.suppress(OSError):
        for line in (exe.parent.parent / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                found.add(Path(os.path.realpath(value.strip())).parent)
    return sorted(path for path in found if path != Path("/"))


def problem(bwrap: Bwrap | None = None, *, timeout: float = PROBE_SECONDS) -> str | None:
    """Why no sandbox can be made here, in one line; None when one can (a real one was started)."""
    if not sys.platform.startswith("linux"):
        return f"the sandbox needs Linux's namespaces (bubblewrap), and this is {sys.platform}"
    bwrap = bwrap or find()
    if bwrap is None:
        return "bubblewrap is not installed (Debian and Ubuntu: apt install bubblewrap)"
    if not os.access(SETSID, os.X_OK):
        return f"{SETSID} (util-linux) is missing"
    with tempfile.TemporaryDirectory(prefix="deep-insight-sandbox-") as scratch:
        workspace, private = Path(scratch, "workspace"), Path(scratch, "private")
        temp = private / "tmp"
        temp.mkdir(parents=True)
        workspace.mkdir()
        probe = command(["/bin/true"], bwrap=bwrap, workspace=workspace, private_dir=private, temp=temp)
        try:
            # no_new_privs, as the server's seccomp filter sets it: a setuid bwrap gains nothing from its bit then.
            ran = subprocess.run(
                probe, capture_output=True, text=True, timeout=timeout, preexec_fn=_no_new_privileges, check=False
            )
        except subprocess.TimeoutExpired:
            return f"{bwrap.path} did not start a sandbox within {timeout:g} s"
        except OSError as error:
            return f"{bwrap.path} could not be run: {error.strerror}"
    if ran.returncode != 0:
        said = (ran.stderr.strip().splitlines() or [f"exit status {ran.returncode}"])[-1]
        return f"{bwrap.path} could not make a sandbox here ({said}){_apparmor_hint()}"
    return None


def _apparmor_hint() -> str:
    with contextlib.suppress(OSError):
        if Path(APPARMOR_USERNS).read_text().strip() == "1":
            return (
                "; AppArmor restricts user namespaces here (Ubuntu 24.04 and later): give bwrap a profile that "
                "allows them, or sysctl kernel.apparmor_restrict_unprivileged_userns=0"
            )
    return ""


def _no_new_privileges() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def inner_pids(outer: int) -> tuple[int, int] | None:
    """(pid 1 of the sandbox, its command), as the server's /proc numbers them, for the bubblewrap process
    ``outer``; None once the command is gone. The command is what a kernel manager would call the kernel:
    the process to interrupt, whose children a call leaves behind; every other child of pid 1 is an orphan
    user code left, which the server kills after the call as well."""
    init = _children(outer)
    if not init:
        return None
    for child in _children(init[0]):
        if _namespace_pid(child) == 2:
            return init[0], child
    return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as listing:
                found.extend(int(child) for child in listing.read().split())
    return found


def _namespace_pid(pid: int) -> int | None:
    """``pid``'s number in its own (innermost) pid namespace."""
    with contextlib.suppress(OSError, ValueError), open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("NSpid:"):
                return int(line.split()[-1])
    return None
