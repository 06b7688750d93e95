"""Pure pieces of the executor: settings, output capping, path confinement, the memory watchdog."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from deep_insight_executor.config import ConfigError, ExecutorConfig
from deep_insight_executor.folders import worker_environment
from deep_insight_executor.memory import MemoryWatchdog, cpu_limit, terminate, thread_caps, tree_memory_bytes
from deep_insight_executor.output import CappedText
from deep_insight_executor.paths import PathError, open_file, parts, replacing
from deep_insight_executor.procfs import has_children, resident_bytes, tree


def test_settings_from_the_environment():
    config = ExecutorConfig.from_env(
        {
            "EXECUTOR_TOKEN": "t",
            "SESSION_ID": "s-1",
            "EXECUTOR_WORKDIR": "/w",
            "EXECUTOR_MAX_OUTPUT_BYTES": "2048",
            "EXECUTOR_MEMORY_LIMIT_MB": "1000",
            "EXECUTOR_SESSION_TIMEOUT_SECONDS": "300",
        }
    )
    assert (config.token_sha256, config.session_id, config.workdir) == (
        hashlib.sha256(b"t").digest(),
        "s-1",
        Path("/w"),
    )
    assert (config.max_output_bytes, config.memory_limit_mb, config.session_timeout_seconds) == (2048, 1000, 300.0)
    assert ExecutorConfig.from_env({}).memory_limit_mb > 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EXECUTOR_MAX_OUTPUT_BYTES": "10"}, "EXECUTOR_MAX_OUTPUT_BYTES='10' is out of range"),
        ({"EXECUTOR_SESSION_TIMEOUT_SECONDS": "soon"}, "EXECUTOR_SESSION_TIMEOUT_SECONDS='soon' is not a number"),
        ({"SESSION_ID": "../etc"}, "SESSION_ID='../etc' is not a session id; use 1-256 characters"),
        ({"SESSION_ID": "job-1\n"}, "SESSION_ID='job-1"),  # the old pattern's $ let a trailing newline through
        ({"SESSION_ID": "x" * 257}, "is not a session id; use 1-256 characters"),
        ({"EXECUTOR_PORT": "70000"}, "EXECUTOR_PORT='70000' is out of range"),
    ],
)
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ExecutorConfig.from_env(env)


def test_capped_text_keeps_head_and_tail():
    capped = CappedText(100)
    for i in range(1000):
        capped.write(f"{i:04d}\n")
    text = capped.text()
    assert capped.truncated
    assert text.startswith("0000\n0001\n")
    assert text.endswith("0998\n0999\n")
    assert "[4900 bytes of output truncated]" in text
    small = CappedText(100)
    small.write("한글")
    assert (small.text(), small.truncated) == ("한글", False)


def test_capped_text_cuts_at_line_boundaries():
    capped = CappedText(100)
    written = [f"line-{i:03d}\n" for i in range(300)]  # 9 bytes each: 50-byte halves fall mid-line
    for line in written:
        capped.write(line)
    found = re.fullmatch(r"(.*)\.\.\. \[(\d+) bytes of output truncated\] \.\.\.\n(.*)", capped.text(), re.DOTALL)
    assert found, capped.text()
    head, dropped, tail = found.groups()
    assert head == "".join(written[:5])  # 45 bytes: a sixth line would need 54
    assert tail == "".join(written[-5:])
    assert int(dropped) == 300 * 9 - 90


def test_capped_text_never_splits_into_invalid_text():
    capped = CappedText(10)
    capped.write("가" * 100)
    assert isinstance(capped.text(), str)


@pytest.mark.parametrize("bad", ["", ".", "/etc/passwd", "../x", "a/../../x", "a/./../../x", "nul\x00byte"])
def test_paths_outside_or_empty_are_refused(bad):
    with pytest.raises(PathError):
        parts(bad)


def test_no_symlink_is_followed_on_the_way_to_a_file(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    os.symlink(tmp_path / "real", tmp_path / "inside")
    os.symlink("/etc", tmp_path / "outside")
    os.symlink(tmp_path / "real" / "f", tmp_path / "link")
    os.close(open_file(tmp_path, "real/f"))
    for through_a_link in ("inside/f", "outside/passwd", "link"):
        with pytest.raises(PathError, match="leads outside"):
            open_file(tmp_path, through_a_link)
    for through_a_link in ("inside/f", "outside/passwd"):
        with pytest.raises(PathError, match="leads outside"), replacing(tmp_path, through_a_link) as sink:
            sink.write(b"never")
    with replacing(tmp_path, "link") as sink:  # the link itself is replaced; what it pointed to is not written
        sink.write(b"new")
    assert (tmp_path / "real" / "f").read_text() == "x"
    assert not (tmp_path / "link").is_symlink()
    with replacing(tmp_path, "new/file.txt") as sink:
        sink.write(b"written")
    assert (tmp_path / "new" / "file.txt").read_bytes() == b"written"
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == ["file.txt"]  # no temporary file left
    with pytest.raises(FileNotFoundError):
        open_file(tmp_path, "real")  # a folder is not a file


def test_the_worker_environment_holds_no_secret_and_no_way_to_credentials(monkeypatch, tmp_path):
    server = {
        "PATH": "/opt/venv/bin:/usr/bin", "LANG": "C.UTF-8", "TZ": "UTC", "EXECUTOR_TOKEN": "t0ken",
        "AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "st",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://x",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "a", "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/x",
        "ECS_CONTAINER_METADATA_URI": "http://169.254.170.2/v3/x", "AWS_REGION": "us-east-1",
        "ARTIFACT_BUCKET": "b", "AWS_ENDPOINT_URL": "http://s3", "SESSION_ID": "s1",
    }  # fmt: skip
    monkeypatch.setattr(os, "environ", server)
    env = worker_environment(tmp_path / "ws", tmp_path / "private")
    assert {k: env[k] for k in ("PATH", "LANG", "TZ")} == {
        "PATH": "/opt/venv/bin:/usr/bin",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    }
    assert env["HOME"] == str(tmp_path / "ws")
    leaked = [
        k for k in env if k.startswith(("AWS_", "ECS_")) or "TOKEN" in k or k in ("ARTIFACT_BUCKET", "SESSION_ID")
    ]
    assert leaked == []
    assert not any(value in {"t0ken", "s", "st", "a", "/v2/credentials/x"} for value in env.values())


def test_the_server_makes_itself_undumpable():
    code = "from deep_insight_executor.hardening import forbid_inspection; print(forbid_inspection())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == ("True\n" if sys.platform.startswith("linux") else "False\n")


def _child(code: str) -> subprocess.Popen:
    """A Python process in its own session (as workers are), told to run ``code`` and then wait."""
    return subprocess.Popen(
        [sys.executable, "-c", code + "\nimport time\nprint('ready', flush=True)\ntime.sleep(60)"],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )


def test_the_watchdog_kills_a_tree_over_its_limit_and_says_why():
    process = _child("hog = bytearray(200 * 1024**2)")
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        watchdog = MemoryWatchdog()
        watchdog.watch(process.pid, 1000)
        watchdog.check()
        assert process.poll() is None  # 200 MB is under 1000 MB
        watchdog.watch(process.pid, 100)
        watchdog.check()
        assert process.wait(5) == -signal.SIGKILL
        kill = watchdog.forget(process.pid)
        assert kill is not None
        assert kill.limit_mb == 100
        assert kill.resident_mb >= 200
        assert "memory limit of 100 MB" in kill.message("the worker")
    finally:
        process.kill()
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]


def test_enforce_answers_at_once_for_the_call_that_just_ended():
    """The end of a call checks its worker itself: the thread may not have passed since the allocation."""
    process = _child("hog = bytearray(200 * 1024**2)")
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        watchdog = MemoryWatchdog(interval=3600)  # its thread never gets a pass in this test
        watchdog.watch(process.pid, 1000)
        assert watchdog.enforce(process.pid) is None
        watchdog.watch(process.pid, 100)
        kill = watchdog.enforce(process.pid)
        assert kill is not None
        assert kill.limit_mb == 100
        assert kill.resident_mb >= 200
        assert process.wait(5) == -signal.SIGKILL
        assert watchdog.enforce(process.pid) is kill  # asked again, it still says why
        assert watchdog.forget(process.pid) is kill
    finally:
        process.kill()
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]


def test_the_watchdog_counts_forked_children_once():
    """Ten forks of a 200 MB process share its pages: proportional sets, not 11 × 200 MB resident."""
    code = (
        "import os, time\n"
        "hog = bytearray(200 * 1024**2)\n"
        "for _ in range(10):\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
    )
    process = _child(code)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == b"ready\n"
        members = tree(process.pid)
        assert len(members) == 11
        assert sum(resident_bytes(pid) for pid in members) > 2000 * 1024**2  # what a naive sum would see
        assert tree_memory_bytes(members, 500 * 1024**2) < 500 * 1024**2
        watchdog = MemoryWatchdog()
        watchdog.watch(process.pid, 500)
        watchdog.check()
        assert process.poll() is None
        assert watchdog.forget(process.pid) is None
    finally:
        terminate(process.pid, tree(process.pid))
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]


def test_a_child_forked_by_any_thread_is_found():
    """/proc lists a child under the thread that forked it: a child started from a worker thread counts too."""
    quiet = _child("pass")
    forked = _child(
        "import subprocess, threading\n"
        "forked, keep = threading.Event(), threading.Event()\n"
        "def fork():\n"
        "    child = subprocess.Popen(['sleep', '60'])\n"
        "    forked.set()\n"
        "    keep.wait()\n"
        "threading.Thread(target=fork, daemon=True).start()\n"
        "forked.wait()\n"
    )
    try:
        for process in (quiet, forked):
            assert process.stdout is not None
            assert process.stdout.readline() == b"ready\n"
        assert not has_children(quiet.pid)
        assert has_children(forked.pid)
        assert len(tree(forked.pid)) == 2
        assert tree(quiet.pid) == [quiet.pid]
    finally:
        for process in (quiet, forked):
            terminate(process.pid, tree(process.pid))
            process.wait()
            process.stdout.close()  # type: ignore[union-attr]
    assert has_children(forked.pid)  # gone: /proc cannot tell, so the caller looks closer


def test_workers_get_as_many_blas_threads_as_the_task_has_cpus():
    caps = thread_caps()
    assert set(caps) == {"OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"}
    assert set(caps.values()) == {str(cpu_limit())}
    assert 1 <= cpu_limit() <= len(os.sched_getaffinity(0))
