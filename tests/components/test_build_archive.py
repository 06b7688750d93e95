"""The build context archive is the same bytes for the same source, whatever the machine did to the files."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import zipfile
from pathlib import Path

import botocore.session
import pytest

from components.build_archive import build_archive
from components.build_context import context_files

ROOT = Path(__file__).resolve().parents[2]

# A small context: what its ignore file lets through is written out by hand below.
IGNORE = "*\n!app\n!run.sh\napp/**/__pycache__\n"
TREE = {
    "Dockerfile": "FROM scratch\nCOPY app /app\n",
    "Dockerfile.dockerignore": IGNORE,
    "app/main.py": "print('hi')\n",
    "app/pkg/__init__.py": "",
    "app/pkg/__pycache__/x.pyc": "compiled",
    "run.sh": "#!/bin/sh\necho run\n",
    "secrets.env": "TOKEN=1\n",
    "notes/todo.md": "- x\n",
}
SENT = ["Dockerfile", "Dockerfile.dockerignore", "app/main.py", "app/pkg/__init__.py", "run.sh"]


def checkout(root: Path, umask: int, mtime: int) -> Path:
    """Write TREE under ``root`` as a checkout would under ``umask``, every file stamped ``mtime``."""
    previous = os.umask(umask)
    try:
        for relative, text in TREE.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if relative == "run.sh":
                path.chmod(0o777 & ~umask)
    finally:
        os.umask(previous)
    for path in root.rglob("*"):
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return root


def members(content: bytes) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None  # every entry's CRC checks out
        return archive.infolist()


def mode(member: zipfile.ZipInfo) -> str:
    return oct(stat.S_IMODE(member.external_attr >> 16))


def test_codebuild_takes_a_zip_from_s3():
    """Why the archive is a ZIP: CodeBuild's own model says what an S3 source location is."""
    model = botocore.session.get_session().get_service_model("codebuild")
    documentation = model.shape_for("ProjectSource").members["location"].documentation
    assert "The path to the ZIP file that contains the source code" in documentation


def test_two_checkouts_with_different_umask_and_mtimes_give_the_same_bytes(tmp_path):
    first = checkout(tmp_path / "a", umask=0o022, mtime=1_600_000_000)
    second = checkout(tmp_path / "b", umask=0o077, mtime=1_750_000_000)
    one, two = build_archive(first, first / "Dockerfile"), build_archive(second, second / "Dockerfile")
    assert one.content == two.content
    assert one.sha256 == two.sha256


def test_it_holds_exactly_what_the_ignore_file_lets_through_normalised(tmp_path):
    root = checkout(tmp_path / "a", umask=0o027, mtime=1_700_000_000)
    archive = build_archive(root, root / "Dockerfile")
    found = members(archive.content)
    assert zipfile.is_zipfile(io.BytesIO(archive.content))
    assert [m.filename for m in found] == SENT == list(archive.files)
    assert {(m.date_time, m.create_system, m.extra) for m in found} == {((1980, 1, 1, 0, 0, 0), 3, b"")}
    assert {m.filename: mode(m) for m in found}["run.sh"] == "0o755"
    assert {mode(m) for m in found if m.filename != "run.sh"} == {"0o644"}
    with zipfile.ZipFile(io.BytesIO(archive.content)) as unpacked:
        assert unpacked.read("app/main.py") == b"print('hi')\n"


def test_one_changed_file_changes_the_hash_and_a_touch_does_not(tmp_path):
    root = checkout(tmp_path / "a", umask=0o022, mtime=1_700_000_000)
    before = build_archive(root, root / "Dockerfile").sha256
    os.utime(root / "app/main.py", (1_800_000_000, 1_800_000_000))
    (root / "secrets.env").write_text("TOKEN=2\n", encoding="utf-8")  # not sent
    assert build_archive(root, root / "Dockerfile").sha256 == before
    (root / "app/main.py").write_text("print('bye')\n", encoding="utf-8")
    assert build_archive(root, root / "Dockerfile").sha256 != before


@pytest.mark.parametrize("runtime", ["executor", "agent"])
def test_the_runtimes_contexts_archive_what_their_builds_send(runtime):
    dockerfile = ROOT / "runtimes" / runtime / "Dockerfile"
    archive = build_archive(ROOT, dockerfile)
    assert [m.filename for m in members(archive.content)] == sorted(context_files(ROOT, dockerfile))
    assert f"runtimes/{runtime}/Dockerfile" in archive.files
    assert not [name for name in archive.files if name.startswith("tests/") or "__pycache__" in name]


def test_a_git_clone_archives_to_the_same_bytes_as_the_working_tree(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs the project's git checkout")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    dockerfile = Path("runtimes") / "executor" / "Dockerfile"
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "contract", "runtimes/executor"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if changed.strip():
        pytest.skip("the working tree's executor context has uncommitted changes")
    assert build_archive(clone, clone / dockerfile).sha256 == build_archive(ROOT, ROOT / dockerfile).sha256
