"""A disk that really fills: the server's workdir and temporary folder on a 64 MB tmpfs, each session's quota
larger than the disk. A flood fills it; /health answers 200 all along, the flooding call ends with
WorkspaceQuotaExceeded naming the disk, and once the clean-up has run a new session still runs code."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.runtimes.executor.conftest import Executor, StartExecutor, assert_alive, run, start_in_mode

DISK_MB = 64
RESERVE = "the 16.0 MB the executor keeps free"  # a quarter of a 64 MB disk (quota.reserve_bytes)
MB = 1024 * 1024


@dataclass
class FullDisk:
    executor: Executor
    mount: Path
    server_tmp: Path
    """The server's TMPDIR, on the same tmpfs: a folder outside every session's own."""

    def free(self) -> int:
        info = os.statvfs(self.mount)
        return info.f_bavail * info.f_frsize


@pytest.fixture(scope="module")
def disk(start_executor: StartExecutor, mode: str, shared_tmp: Path) -> Iterator[FullDisk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs (and starting the server as another uid) needs root")
    mount = Path(tempfile.mkdtemp(prefix="disk-", dir=shared_tmp))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_MB}m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"this machine refuses to mount a tmpfs ({mounted.stderr.strip()}); the test needs one")
    executor: Executor | None = None
    try:
        server_tmp = mount / "server-tmp"
        server_tmp.mkdir()
        server_tmp.chmod(0o1777)  # as the image's /tmp: sessions' own uids may write there
        env = {"EXECUTOR_MAX_WORKSPACE_MB": "1000", "TMPDIR": str(server_tmp)}
        executor = start_in_mode(start_executor, mode, workdir=mount, **env)
        yield FullDisk(executor, mount, server_tmp)
    finally:
        if executor is not None:
            executor.stop()
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)
        shutil.rmtree(mount, ignore_errors=True)


@dataclass
class HealthWatch:
    """Asks /health at once and then every 50 ms from a thread until stopped; keeps every answer."""

    url: str
    answers: list[int | str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> HealthWatch:
        def ask() -> None:
            with httpx.Client(timeout=5) as client:
                while True:
                    try:
                        self.answers.append(client.get(f"{self.url}/health").status_code)
                    except httpx.HTTPError as error:
                        self.answers.append(type(error).__name__)
                    if self._stop.wait(0.05):
                        break

        self._thread = threading.Thread(target=ask, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def assert_disk_error(result: dict) -> str:
    assert result["status"] == "error", result
    assert result["error"]["type"] == "WorkspaceQuotaExceeded", result
    message = result["error"]["message"]
    assert "\n" not in message
    assert RESERVE in message, message
    return message


def assert_a_new_session_runs(client: httpx.Client, sid: str) -> None:
    result = run(client, sid, "print(6 * 7)")
    assert result["status"] == "ok", result
    assert result["stdout"] == "42\n"
    assert_alive(client, sid)


FLOODS = {
    "python": "with open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * 2**20)",
    "bash": "dd if=/dev/zero of=big bs=1M count=100000",
}


@pytest.mark.parametrize("language", ["python", "bash"])
def test_a_flood_that_fills_the_disk_is_removed_and_the_server_keeps_serving(disk, language):
    sid = f"fill-{language}"
    with disk.executor.client() as client:
        earlier = run(client, sid, "kept = 42\nopen('earlier.txt', 'w').write('from an earlier call')")
        assert earlier["status"] == "ok", earlier
        with HealthWatch(disk.executor.url) as health:
            result = run(client, sid, FLOODS[language], language=language, timeoutSeconds=60)
        assert health.answers, "/health was never asked"
        assert set(health.answers) == {200}, health.answers
        message = assert_disk_error(result)
        assert "removed what this call wrote: big (" in message, message
        assert disk.free() > 32 * MB  # the flood's file is gone
        assert client.get(f"/v1/sessions/{sid}/files/earlier.txt").text == "from an earlier call"
        assert run(client, sid, "print(kept)")["stdout"] == "42\n"
        assert_alive(client, sid)
        assert_a_new_session_runs(client, f"after-{language}")


def test_a_flood_outside_the_sessions_folders_is_stopped_and_named(disk):
    outside = disk.server_tmp / "outside.bin"
    code = f"while true; do head -c 1000000 /dev/zero >> {outside}; done"
    try:
        with disk.executor.client() as client, HealthWatch(disk.executor.url) as health:
            result = run(client, "outside", code, language="bash", timeoutSeconds=60)
            assert result["durationMs"] < 20_000, result  # stopped by the watchdog, not by the timeout
        assert set(health.answers) == {200}, health.answers
        message = assert_disk_error(result)
        assert "nothing of this call removed" in message, message
        assert "files outside this session's folders (such as in /tmp) take the space" in message, message
        assert "the command was stopped and killed" in message, message
        assert outside.exists()  # not ours to remove
    finally:
        outside.unlink(missing_ok=True)
    with disk.executor.client() as client:
        assert_alive(client, "outside")
        assert_a_new_session_runs(client, "after-outside")


def test_on_a_full_disk_a_worker_that_cannot_start_says_so_and_health_stays_up(disk):
    filler = disk.mount / "filler.bin"  # the test's own, outside every session: the disk is simply full
    try:
        with contextlib.suppress(OSError), open(filler, "wb") as sink:
            while True:
                sink.write(b"\0" * MB)
        with disk.executor.client() as client:
            answers = [run(client, f"full-{i}", "print(1)") for i in range(3)]  # the first may take a ready spare
            assert client.get("/health").status_code == 200
        refused = [answer for answer in answers if answer["status"] != "ok"]
        assert refused, answers
        for answer in refused:
            assert answer["error"]["type"] == "WorkerUnavailable", answer
            assert "is full (0.0 MB free); try again once space is freed" in answer["error"]["message"], answer
    finally:
        filler.unlink(missing_ok=True)
    with disk.executor.client() as client:
        assert_a_new_session_runs(client, "after-full")
