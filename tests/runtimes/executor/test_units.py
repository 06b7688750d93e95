"""Pure pieces of the executor: settings, output capping, path confinement."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from deep_insight_executor.config import ConfigError, ExecutorConfig
from deep_insight_executor.output import CappedText
from deep_insight_executor.paths import PathError, resolve_inside
from deep_insight_executor.worker import worker_environment


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
    assert (config.token, config.session_id, config.workdir) == ("t", "s-1", Path("/w"))
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
def test_paths_outside_or_empty_are_refused(tmp_path, bad):
    with pytest.raises(PathError):
        resolve_inside(tmp_path, bad)


def test_symlinks_are_followed_only_inside(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "f").write_text("x")
    os.symlink(tmp_path / "real", tmp_path / "inside")
    os.symlink("/etc", tmp_path / "outside")
    assert resolve_inside(tmp_path, "inside/f") == (tmp_path / "real" / "f").resolve()
    with pytest.raises(PathError, match="leads outside"):
        resolve_inside(tmp_path, "outside/passwd")
    assert resolve_inside(tmp_path, "new/file.txt") == (tmp_path / "new" / "file.txt").resolve()


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
