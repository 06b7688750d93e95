"""Keep the server's secrets from the code it runs.

User code runs as the server's own uid in the image (uid 10001 for both), and a process may read the
``/proc/<pid>/environ``, ``cmdline`` and ``mem`` of any process of its uid: the server's environment
(``EXECUTOR_TOKEN``, and whatever ECS puts there) would be one ``open()`` away. A process that is not
"dumpable" has its ``/proc/<pid>`` files owned by root and refuses ptrace, so the server makes itself so
before it reads a request. Its workers start from ``execve`` and are dumpable again (that is harmless:
their environment is ``worker.worker_environment``, which holds no secret).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

PR_SET_DUMPABLE = 4  # <linux/prctl.h>
PR_GET_DUMPABLE = 3


def forbid_inspection() -> bool:
    """``prctl(PR_SET_DUMPABLE, 0)`` on Linux; True when the process is now not dumpable, False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")
    return libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0
