"""Facts about the executor process that its callers read from outside (ECS reports its exit code)."""

from __future__ import annotations

EXIT_UNWRITABLE = 73
"""EX_CANTCREAT (sysexits.h): the executor's workdir or temp dir cannot be written, so it did not start."""

EXIT_MEANINGS = {
    EXIT_UNWRITABLE: "the executor's workdir or temp dir is not writable (its log line names the path and the fix)",
}
