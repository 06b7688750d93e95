"""Pure pieces of the executor: settings, output capping, path confinement."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from deep_insight_executor.config import ConfigError, ExecutorConfig
from deep_insight_executor.output import CappedText
from deep_insight_executor.paths import PathError, resolve_inside
from deep_insight_executor.s3sync import SyncError, parse_s3_uri


def test_settings_from_the_environment():
    config = ExecutorConfig.from_env(
        {
            "EXECUTOR_TOKEN": "t",
            "ARTIFACT_BUCKET": "b",
            "SESSION_ID": "s-1",
            "EXECUTOR_WORKDIR": "/w",
            "EXECUTOR_MAX_OUTPUT_BYTES": "2048",
            "EXECUTOR_MEMORY_LIMIT_MB": "1000",
            "EXECUTOR_SESSION_TIMEOUT_SECONDS": "300",
        }
    )
    assert (config.token, config.artifact_bucket, config.session_id, config.workdir) == ("t", "b", "s-1", Path("/w"))
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


def test_s3_uris():
    assert parse_s3_uri("s3://b/sessions/x", "b") == ("b", "sessions/x/")
    assert parse_s3_uri("s3://b", "b") == ("b", "")
    with pytest.raises(SyncError) as foreign:
        parse_s3_uri("s3://other/x/", "b")
    assert foreign.value.status == 403
