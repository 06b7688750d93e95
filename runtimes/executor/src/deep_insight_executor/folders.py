"""A session's folders on disk, and the environment its workers get.

Each session has a workspace (``<workdir>/sessions/<slot>``: its files, its working directory) and a private
folder (``<workdir>/.private/<slot>``) with a few leaves its workers need: matplotlib's and IPython's
folders, the kernel's runtime folder (its unix sockets) and the workers' TMPDIR, all counted in its quota.

When the server is root each session's code runs as its own uid, and anything that uid owns is the
attacker's: it can swap a folder for a symlink to ``/etc`` at any moment. So the server owns the private
folder itself (0711: the session can pass through, not rename or add entries), the session owns only its
leaves, and the server writes into a leaf only once: when the slot is made, before any code of that uid has
run (a slot's uid is new). The kernel's connection file, which the server writes, lies in the server's
private folder, not in a leaf. Shared read-only files (matplotlib's settings) live in ``.private/shared``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from deep_insight_executor.memory import thread_caps
from deep_insight_executor.quota import TEMP_FOLDER

# Every worker's matplotlib: non-interactive, and Korean-capable when a CJK font is installed (the image
# installs Noto CJK). A settings file named by MATPLOTLIBRC, read-only to workers: nothing is imported
# until used, and nothing in a session's folders is written by the server after its code has run.
MATPLOTLIBRC = """\
backend: Agg
font.family: sans-serif
font.sans-serif: Noto Sans CJK KR, Noto Sans CJK JP, NanumGothic, Malgun Gothic, DejaVu Sans
axes.unicode_minus: False
"""

MATPLOTLIB, IPYTHON, RUNTIME = "matplotlib", "ipython", "runtime"
LEAVES = (MATPLOTLIB, IPYTHON, RUNTIME, TEMP_FOLDER)
SHARED = "shared"

# sun_path holds 108 bytes on Linux (104 on macOS), with the terminating NUL.
UNIX_SOCKET_PATH_MAX = 107

Owner = tuple[int, int] | None


def kernel_socket_base(private_dir: Path) -> Path:
    """The kernel's unix sockets are this path plus ``-<channel number>`` (jupyter_client's ipc transport)."""
    return private_dir / RUNTIME / "kernel"


def longest_socket_path(private_dir: Path) -> str:
    return f"{kernel_socket_base(private_dir)}-65535"


def worker_temp(private_dir: Path) -> Path:
    return private_dir / TEMP_FOLDER


def shared_matplotlibrc(private_dir: Path) -> Path:
    return private_dir.parent / SHARED / "matplotlibrc"


def write_shared_files(private_root: Path) -> None:
    """The files every worker reads and none may change: written once, at start, in the server's own folder."""
    shared = private_root / SHARED
    shared.mkdir(mode=0o755, parents=True, exist_ok=True)
    shared.chmod(0o755)
    target = shared / "matplotlibrc"
    partial = shared / ".matplotlibrc.partial"
    partial.write_text(MATPLOTLIBRC)
    partial.chmod(0o644)
    partial.replace(target)


def make_slot_folders(workspace: Path, private_dir: Path, owner: Owner, font_cache: Path | None) -> None:
    """A new slot's workspace and private folder with its leaves; the session's uid (``owner``) gets the
    workspace and the leaves, the server keeps the private folder. Both folders must not exist yet (their
    names are random, and only the server may create entries in their parents)."""
    workspace.parent.mkdir(parents=True, exist_ok=True)
    private_dir.parent.mkdir(parents=True, exist_ok=True)
    private_dir.parent.chmod(0o711)
    workspace.mkdir(mode=0o700)
    private_dir.mkdir(mode=0o700)
    if owner is not None:
        os.chown(workspace, *owner)
        private_dir.chmod(0o711)  # the session's uid passes through to its leaves, and may change nothing here
    for leaf in LEAVES:
        (private_dir / leaf).mkdir(mode=0o700)
    if font_cache is not None:
        # matplotlib scans every font on first import (~1 s); a cache built once saves each session that.
        for cache in font_cache.glob("fontlist-*.json"):
            shutil.copyfile(cache, private_dir / MATPLOTLIB / cache.name)
    if owner is not None:
        for leaf in LEAVES:
            os.chown(private_dir / leaf, *owner)
        for file in (private_dir / MATPLOTLIB).iterdir():
            os.chown(file, *owner)


def ensure_leaves(private_dir: Path, owner: Owner) -> None:
    """Make a leaf the session's code removed (possible only where it owns the private folder: the non-root
    server's, whose uid it shares). An existing entry is left as it is, never chowned."""
    for leaf in LEAVES:
        with contextlib.suppress(FileExistsError):
            (private_dir / leaf).mkdir(mode=0o700)
            if owner is not None:  # created just now, in a folder only the server can write
                os.chown(private_dir / leaf, *owner)


def worker_environment(workspace: Path, private_dir: Path) -> dict[str, str]:
    """A small, explicit environment built from nothing: no server secret (the executor's token), no cloud
    credentials or the addresses that hand them out (AWS_*, AWS_CONTAINER_CREDENTIALS_*, the ECS
    metadata URI) reach user code. Only the locale, the time zone and PATH are kept from the server's."""
    keep = ("PATH", "LANG", "LC_ALL", "TZ")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.setdefault("PATH", os.defpath)
    env.update(
        HOME=str(workspace),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(private_dir / MATPLOTLIB),
        MATPLOTLIBRC=str(shared_matplotlibrc(private_dir)),
        IPYTHONDIR=str(private_dir / IPYTHON),
        JUPYTER_RUNTIME_DIR=str(private_dir / RUNTIME),
        TMPDIR=str(worker_temp(private_dir)),  # the session's own, so that temporary files count in its quota
        PYTHONUNBUFFERED="1",
        PYTHONDONTWRITEBYTECODE="1",
        **thread_caps(),  # BLAS/OpenMP threads = the task's vCPUs
    )
    return env
