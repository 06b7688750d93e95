"""A developer's first start as a non-root user: no workdir chosen and /workspace (the image's folder) not
theirs. The executor picks a folder under their temporary directory and says so, or, when a workdir was
chosen and cannot be written, stops with one line that names both ways to choose another."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from deep_insight_contract.executor import EXIT_UNWRITABLE

from tests.runtimes.conftest import TOKEN, _free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: it starts the executor as another uid")

NOBODY = 65534


def as_nobody(venv: Path, tmp: Path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(venv / "bin" / "deep-insight-executor"), "--port", str(_free_port()), *args],
        env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": "/nonexistent", "TMPDIR": str(tmp),
             "EXECUTOR_TOKEN": TOKEN, "EXECUTOR_MEMORY_LIMIT_MB": "1536", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        user=NOBODY,
        group=NOBODY,
        extra_groups=[],
    )  # fmt: skip


def private_tmp(parent: Path) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="t-", dir=parent))
    os.chown(folder, NOBODY, NOBODY)
    return folder


def test_without_a_workdir_a_developer_gets_one_under_their_temp_dir(executor_venv, shared_tmp):
    probe = subprocess.run(["mkdir", "-p", "/workspace/.probe"], user=NOBODY, check=False, capture_output=True)
    assert probe.returncode != 0, "this test needs a /workspace that uid 65534 cannot write (as in the image)"
    tmp = private_tmp(Path("/tmp"))  # a Linux user's usual TMPDIR: short enough for the kernels' sockets
    process = as_nobody(executor_venv, tmp)
    port = process.args[process.args.index("--port") + 1]
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, f"the executor exited with {process.wait(5)}: {process.stdout.read()}"
        first = json.loads(line)
        assert first["level"] == "warning", first
        assert first["path"] == f"{tmp}/deep-insight-executor-{NOBODY}"
        assert "set EXECUTOR_WORKDIR or --workdir" in first["message"]
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as c:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if c.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "the executor exited"
                assert time.monotonic() < deadline, "the executor did not answer /health within 60 s"
                time.sleep(0.2)
            answer = c.post("/v1/sessions/first/execute", json={"code": "open('note.txt', 'w').write('hi')"})
        assert answer.json()["status"] == "ok", answer.text
        assert [p.name for p in Path(first["path"]).rglob("note.txt")] == ["note.txt"]
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_a_chosen_workdir_that_cannot_be_written_is_one_line_naming_both_settings(executor_venv, shared_tmp):
    root_only = Path(tempfile.mkdtemp(prefix="root-", dir=shared_tmp))  # 0700, root's
    process = as_nobody(executor_venv, private_tmp(shared_tmp), "--workdir", str(root_only / "work"))
    output, _ = process.communicate(timeout=30)
    assert process.returncode == EXIT_UNWRITABLE, output
    (line,) = [line for line in output.splitlines() if line.strip()]
    entry = json.loads(line)
    assert entry["path"] == str(root_only / "work")
    assert "point EXECUTOR_WORKDIR (or --workdir) at a writable folder" in entry["message"]
    assert "Traceback" not in output


def test_a_workdir_too_long_for_unix_sockets_is_one_line_at_start(executor_venv, shared_tmp):
    # A kernel's sockets live under the workdir; Linux allows 107 bytes in a unix socket's path (unix(7)).
    long_tmp = private_tmp(shared_tmp) / ("x" * 40)
    long_tmp.mkdir()
    os.chown(long_tmp, NOBODY, NOBODY)
    process = as_nobody(executor_venv, long_tmp)  # the fallback under TMPDIR is too long, as on macOS
    output, _ = process.communicate(timeout=30)
    assert process.returncode == 2, output
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines[-1]["level"] == "error"
    assert "over the 107-byte limit of a unix socket path" in lines[-1]["message"]
    assert "--workdir" in lines[-1]["message"]
    assert "Traceback" not in output
