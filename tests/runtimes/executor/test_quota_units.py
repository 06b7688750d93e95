"""Pure pieces of the disk quota: the default rule, the setting, and how a session's files are counted and removed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from deep_insight_executor.config import ConfigError, ExecutorConfig
from deep_insight_executor.disktree import allocated, remove, scan
from deep_insight_executor.quota import default_quota_mb, existing, reserve_bytes

MB = 1024 * 1024
GB = 1024 * MB


@pytest.mark.parametrize(
    ("total", "reserve_mb"),
    [
        (20 * GB, 1024),  # Fargate's default 20 GiB: 5 % is 1 GiB
        (200 * GB, 10240),
        (2 * GB, 256),  # 5 % would be 102 MB: at least 256 MB
        (512 * MB, 128),  # 256 MB would be half of it: at most a quarter
        (64 * MB, 16),
    ],
)
def test_the_server_keeps_five_percent_at_least_256_mb_at_most_a_quarter(total, reserve_mb):
    assert reserve_bytes(total) == reserve_mb * MB


@pytest.mark.parametrize(
    ("total", "free", "sessions", "quota_mb"),
    [
        (20 * GB, 19 * GB, 1, 18 * 1024),  # a pinned task: 19 GiB free - 1 GiB reserve
        (20 * GB, 19 * GB, 16, 1152),  # 18 GiB shared by 16 sessions
        (2 * GB, 1536 * MB, 1, 1280),  # 1.5 GiB free - 256 MB reserve
        (64 * MB, 60 * MB, 4, 64),  # (60 - 16) / 4 = 11 MB: the 64 MB floor
        (20 * GB, 512 * MB, 1, 64),  # less free than the reserve: the floor
    ],
)
def test_the_default_quota_shares_the_free_space_beyond_the_reserve(total, free, sessions, quota_mb):
    assert default_quota_mb(total, free, sessions) == quota_mb


def test_the_quota_setting_is_read_and_checked():
    assert ExecutorConfig.from_env({}).max_workspace_mb is None  # from the disk at start
    assert ExecutorConfig.from_env({"EXECUTOR_MAX_WORKSPACE_MB": "2048"}).max_workspace_mb == 2048
    with pytest.raises(ConfigError, match=r"^EXECUTOR_MAX_WORKSPACE_MB='lots' is not a number; use int 8\.\."):
        ExecutorConfig.from_env({"EXECUTOR_MAX_WORKSPACE_MB": "lots"})
    with pytest.raises(ConfigError, match=r"^EXECUTOR_MAX_WORKSPACE_MB='2' is out of range; use 8\.\."):
        ExecutorConfig.from_env({"EXECUTOR_MAX_WORKSPACE_MB": "2"})


def test_a_workdir_not_made_yet_is_measured_on_its_nearest_existing_parent(tmp_path):
    assert existing(tmp_path / "not" / "yet") == tmp_path


def test_usage_counts_allocated_bytes_of_regular_files_once(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * MB)
    os.link(tmp_path / "a", tmp_path / "hard-link")  # the same blocks: counted once
    (tmp_path / "sub").mkdir()
    with open(tmp_path / "sub" / "sparse", "wb") as sparse:
        sparse.truncate(100 * MB)  # 100 MB long, nothing allocated
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"y" * 2 * MB)
    os.symlink(outside, tmp_path / "link-to-folder")  # not followed
    os.symlink(outside / "big", tmp_path / "link-to-file")
    files = scan(tmp_path)
    assert sorted(file.path for file in files) == ["a", "hard-link", "sub/sparse"]
    assert MB <= allocated(files) < MB + 64 * 1024  # the 1 MB file, its blocks counted once
    assert scan(tmp_path / "missing") == []


def test_remove_takes_only_the_file_it_was_shown(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x" * 4096)
    [found] = scan(tmp_path)
    victim = tmp_path.parent / f"{tmp_path.name}-victim"
    victim.mkdir()
    (victim / "f").write_bytes(b"keep")
    # The folder is swapped for a symlink to another one after the walk: nothing there may go.
    os.rename(tmp_path / "d", tmp_path / "moved")
    os.symlink(victim, tmp_path / "d")
    assert remove(tmp_path, found) is False
    assert (victim / "f").read_bytes() == b"keep"
    # Another file at the same path (another inode) stays too.
    os.unlink(tmp_path / "d")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"new")
    assert remove(tmp_path, found) is False
    assert (tmp_path / "d" / "f").exists()
    [again] = [file for file in scan(tmp_path) if file.path == "d/f"]
    assert remove(tmp_path, again) is True
    assert not (tmp_path / "d" / "f").exists()


def test_remove_frees_a_file_still_held_open_but_not_its_other_links(tmp_path):
    held = open(tmp_path / "held", "wb")  # noqa: SIM115 - held open on purpose, as a kernel's variable would
    try:
        held.write(b"x" * MB)
        held.flush()
        [found] = scan(tmp_path)
        assert remove(tmp_path, found) is True
        assert os.fstat(held.fileno()).st_blocks == 0  # truncated: the space is back though it is open
    finally:
        held.close()
    (tmp_path / "shared").write_bytes(b"earlier")
    os.link(tmp_path / "shared", tmp_path / "new-link")
    [link] = [file for file in scan(tmp_path) if file.path == "new-link"]
    assert remove(tmp_path, link) is True
    assert Path(tmp_path / "shared").read_bytes() == b"earlier"  # a link is only unlinked, never truncated
