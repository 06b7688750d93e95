"""The executor image and its task definition agree on what is writable.

The task definition's root filesystem is read-only and bind-mounts a few paths; on Fargate those mounts
are writable by the image's user only if the image declares the same paths with VOLUME, after giving
them to that user. The task definition is read from the evaluated program, the image from its Dockerfile.
"""

from __future__ import annotations

import json

import pytest

from ops.evaluate import PROJECT_DIR, Evaluation
from tests.dockerfile import fargate_bind_mount, final_stage, owners_at_volume, stages, user, volumes

DOCKERFILE = PROJECT_DIR / "runtimes" / "executor" / "Dockerfile"
TASK = "aws:ecs/taskDefinition:TaskDefinition"


def container_of(evaluation: Evaluation) -> dict:
    (container,) = json.loads(evaluation.named("executor-task", TASK).inputs["containerDefinitions"])
    return container


def writable_by(uid: int, gid: int, owner: tuple[int, int, int]) -> bool:
    owner_uid, owner_gid, mode = owner
    if owner_uid == uid:
        return mode & 0o300 == 0o300
    if owner_gid == gid:
        return mode & 0o030 == 0o030
    return mode & 0o003 == 0o003


def test_the_image_declares_exactly_the_task_mounts_as_volumes(dev):
    container = container_of(dev)
    task = dev.named("executor-task", TASK).inputs
    assert container["readonlyRootFilesystem"] is True  # so the mounts are the only writable paths
    paths = [mount["containerPath"] for mount in container["mountPoints"]]
    assert sorted(volumes(final_stage(DOCKERFILE))) == sorted(paths)
    assert {mount["sourceVolume"] for mount in container["mountPoints"]} == {v["name"] for v in task["volumes"]}
    assert all(mount["readOnly"] is False for mount in container["mountPoints"])


def test_each_volume_is_given_to_the_task_user_before_it_is_declared(dev):
    container = container_of(dev)
    stage = final_stage(DOCKERFILE)
    assert user(stage) == container["user"] == "10001:10001"
    uid, gid = (int(part) for part in container["user"].split(":"))
    owners = owners_at_volume(stage)
    for mount in container["mountPoints"]:
        path = mount["containerPath"]
        assert writable_by(uid, gid, owners[path]), f"{path}: {owners[path]} is not writable by {uid}:{gid}"
    # The workspace is the user's own; /tmp is shared scratch: world-writable with the sticky bit.
    assert owners == {"/workspace": (10001, 10001, 0o755), "/tmp": (0, 0, 0o1777)}


def test_the_server_works_in_a_mounted_folder(dev):
    container = container_of(dev)
    environment = {item["name"]: item["value"] for item in container["environment"]}
    paths = {mount["containerPath"] for mount in container["mountPoints"]}
    assert environment["EXECUTOR_WORKDIR"] in paths
    assert environment.get("TMPDIR", "/tmp") in paths  # the server's temporary folder (tempfile's first choice)


def test_the_model_refuses_owners_it_cannot_read():
    named = stages("FROM x\nRUN mkdir -p /w && chown app:app /w\nVOLUME /w\n")[-1]
    with pytest.raises(ValueError, match="numeric UID:GID"):
        owners_at_volume(named)
    undeclared = stages("FROM x\nRUN mkdir -p /w && chown app:app /w\n")[-1]
    assert owners_at_volume(undeclared) == {}
    assert fargate_bind_mount(undeclared, "/w") == (0, 0, 0o755)
    after = stages('FROM x\nRUN mkdir /w\nVOLUME ["/w"]\nRUN chown 1:1 /w && chmod 0700 /w\n')[-1]
    with pytest.raises(ValueError, match="after its VOLUME"):
        owners_at_volume(after)  # the legacy builder would discard the change, BuildKit would keep it
