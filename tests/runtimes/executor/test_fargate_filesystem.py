"""Fargate's filesystem, reproduced: the executor as its image's uid, its workdir and temporary
folder prepared the way Fargate prepares the task definition's bind mounts for the real Dockerfile.

The rule (Amazon ECS developer guide, "Use bind mounts with Amazon ECS"): a bind mount whose
``containerPath`` the image also declares with ``VOLUME`` gets the image's content, owner and mode at that
path; any other is created root:root 0755. tests/dockerfile.py applies it to the Dockerfile's text, so
the "before" cases below come from the real Dockerfile with its VOLUME line taken out or cut down.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from deep_insight_contract.executor import EXIT_UNWRITABLE

from ops.evaluate import Evaluation
from tests.dockerfile import ROOT_DIRECTORY, fargate_bind_mount, stages
from tests.runtimes.conftest import EXECUTOR_PROJECT, TOKEN, Executor, _free_port, run

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root: it makes folders owned by root and by the image's uid, and starts the executor as that uid",
)

DOCKERFILE = EXECUTOR_PROJECT / "Dockerfile"
VOLUME_LINE = re.compile(r"^VOLUME .*\n", re.MULTILINE)
TASK = "aws:ecs/taskDefinition:TaskDefinition"


def executor_container(dev: Evaluation) -> dict:
    (container,) = json.loads(dev.named("executor-task", TASK).inputs["containerDefinitions"])
    return container


def mount_root(shared_tmp: Path) -> Path:
    """A short-named folder other uids can traverse (kernels' unix sockets live under the workdir, and
    socket paths are limited to 107 bytes)."""
    root = Path(tempfile.mkdtemp(prefix="fg-", dir=os.path.realpath(shared_tmp)))
    root.chmod(0o755)
    return root


def prepare_mounts(root: Path, dockerfile_text: str, container: dict) -> dict[str, Path]:
    """One folder per mount point of the task definition, with the owner and mode Fargate would give it."""
    final = stages(dockerfile_text)[-1]
    folders = {}
    for mount in container["mountPoints"]:
        folder = root / mount["sourceVolume"]
        folder.mkdir()
        uid, gid, mode = fargate_bind_mount(final, mount["containerPath"])
        os.chown(folder, uid, gid)
        os.chmod(folder, mode)
        folders[mount["containerPath"]] = folder
    return folders


def start_as_image_user(venv: Path, container: dict, folders: dict[str, Path], log: Path) -> Executor:
    """The executor's console script as the task definition's user, with the container's paths mapped
    to ``folders``: its workdir from the task's EXECUTOR_WORKDIR, its temporary folder from TMPDIR (unset
    in the task, so /tmp)."""
    env = {item["name"]: item["value"] for item in container["environment"]}
    uid, gid = (int(part) for part in container["user"].split(":"))
    port = _free_port()
    handle = log.open("wb")
    process = subprocess.Popen(
        [str(venv / "bin" / "deep-insight-executor"), "--host", "127.0.0.1", "--port", str(port),
         "--workdir", str(folders[env["EXECUTOR_WORKDIR"]])],
        env={
            "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
            # Docker sets HOME from the image's passwd entry: useradd --no-create-home, so it does not exist.
            "HOME": "/home/executor",
            "TMPDIR": str(folders[env.get("TMPDIR", "/tmp")]),
            "EXECUTOR_TOKEN": TOKEN,
            "EXECUTOR_MEMORY_LIMIT_MB": "1536",
            "EXECUTOR_MAX_PROCESSES": "64",
        },
        stdout=handle,
        stderr=subprocess.STDOUT,
        user=uid,
        group=gid,
        extra_groups=[],
    )  # fmt: skip
    return Executor(f"http://127.0.0.1:{port}", process, folders[env["EXECUTOR_WORKDIR"]], log, TOKEN, handle)


def wait_until_ready(executor: Executor, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if executor.process.poll() is not None:
            pytest.fail(f"executor exited with {executor.process.returncode}:\n{executor.log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{executor.url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    pytest.fail(f"executor did not answer /health within {seconds} s:\n{executor.log.read_text()[-3000:]}")


@contextlib.contextmanager
def showing_log(executor: Executor) -> Iterator[None]:
    """A failed assertion also shows the server's log (it goes with the test's temporary folders)."""
    try:
        yield
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- executor log ---\n{executor.log.read_text()[-4000:]}") from None


WRITE_A_TABLE_AND_A_CHART = """
import tempfile
from pathlib import Path
import matplotlib.pyplot as plt

Path("table.csv").write_text("month,sales\\n1,10\\n2,12\\n")
figure, axes = plt.subplots()
axes.plot([1, 2], [10, 12])
axes.set_title("매출")
figure.savefig("chart.png")
with tempfile.NamedTemporaryFile() as scratch:
    print(scratch.name)
"""


def test_with_the_dockerfile_as_is_the_executor_writes_files_and_charts(dev, executor_venv, shared_tmp):
    container = executor_container(dev)
    root = mount_root(shared_tmp)
    folders = prepare_mounts(root, DOCKERFILE.read_text(encoding="utf-8"), container)
    executor = start_as_image_user(executor_venv, container, folders, root / "executor.log")
    try:
        wait_until_ready(executor)
        with showing_log(executor), executor.client() as client:
            result = run(client, "fargate", WRITE_A_TABLE_AND_A_CHART)
            assert result["status"] == "ok", result
            temporary = Path(result["stdout"].strip())
            shell = run(client, "fargate", "mktemp", language="bash")
            assert shell["status"] == "ok", shell
            listed = {f["path"] for f in client.get("/v1/sessions/fargate/files").json()["files"]}
            chart = client.get("/v1/sessions/fargate/files/chart.png")
    finally:
        executor.stop()
    assert {"table.csv", "chart.png"} <= listed
    assert chart.content.startswith(b"\x89PNG")
    # Temporary files went to the session's own folder on the mounted /workspace (they count in its disk
    # quota), for Python and the shell alike.
    for path in (temporary, Path(shell["stdout"].strip())):
        assert path.parent.name == "tmp", path
        assert folders["/workspace"] in path.parents, path
    # And the server really was the image's uid, not root.
    assert (executor.workdir / "sessions").stat().st_uid == int(container["user"].split(":")[0])


@pytest.mark.parametrize(
    ("volume_line", "unwritable"),
    [
        pytest.param("", "/workspace", id="no-VOLUME-the-pre-fix-Dockerfile"),
        pytest.param('VOLUME ["/workspace"]\n', "/tmp", id="VOLUME-without-tmp"),
    ],
)
def test_without_the_volumes_the_executor_stops_at_once_with_one_line(
    dev, executor_venv, shared_tmp, volume_line, unwritable
):
    container = executor_container(dev)
    text, replaced = VOLUME_LINE.subn(volume_line, DOCKERFILE.read_text(encoding="utf-8"))
    assert replaced == 1, "the Dockerfile should have one VOLUME line"
    assert fargate_bind_mount(stages(text)[-1], unwritable) == ROOT_DIRECTORY  # the rule, applied
    root = mount_root(shared_tmp)
    folders = prepare_mounts(root, text, container)
    executor = start_as_image_user(executor_venv, container, folders, root / "executor.log")
    started = time.monotonic()
    try:
        code = executor.process.wait(30)
    finally:
        executor.stop()
    assert time.monotonic() - started < 30
    output = executor.log.read_text()
    assert code == EXIT_UNWRITABLE, output  # the code the agent explains to the user (deep_insight_contract)
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    entry = json.loads(lines[0])
    uid = int(container["user"].split(":")[0])
    assert entry["level"] == "error"
    assert (entry["path"], entry["uid"]) == (str(folders[unwritable]), uid)
    assert f"not writable by uid {uid}" in entry["message"]
    assert "VOLUME" in entry["message"]  # the fix


def test_as_root_the_sessions_uids_are_checked_too(executor_venv, shared_tmp):
    """The other mode (a developer's machine, CI): the server is root and runs each session as its own
    uid, so a temporary folder only root can write stops it at start as well."""
    root = mount_root(shared_tmp)
    private_tmp = root / "tmp"
    private_tmp.mkdir(mode=0o700)  # root can write it; a session's uid cannot
    result = subprocess.run(
        [str(executor_venv / "bin" / "deep-insight-executor"), "--port", str(_free_port()),
         "--workdir", str(root / "work")],
        env={"PATH": f"{executor_venv / 'bin'}:/usr/bin:/bin", "TMPDIR": str(private_tmp), "EXECUTOR_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    assert result.returncode != 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if line.strip()]
    entry = json.loads(line)
    assert entry["path"] == str(private_tmp)
    assert entry["uid"] != 0  # a session's uid
    assert "sessions run as their own uids" in entry["message"]
