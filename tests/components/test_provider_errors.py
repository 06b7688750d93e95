"""A provider failure reaches `pulumi up` as one line, and a bug with its frames, whatever other threads do.

Pulumi's provider host runs calls on a thread pool and reports each failure with Pulumi's own wrapper,
``_abort_with_traceback`` (pulumi/dynamic/__main__.py: ``context.abort(..., traceback.format_exc())``).
The wrapper here is that function's source, read from the installed pulumi and run in a module standing in
for the host's (the host itself starts a server when imported). Two image builds on two threads, paused
at the moments that matter: one fails as the deployer's problem (the archive changed), the other as a bug
(the archive file is gone).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
import threading
import traceback
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pulumi.dynamic
import pytest

from components.provider_errors import OneLineError, show_one_line_errors
from components.remote_build import ImageBuildProvider
from tests.moto_server import moto_server

REGION = "us-east-1"
PULUMI_HOST = Path(inspect.getfile(pulumi.dynamic)).with_name("__main__.py")


def pulumi_host() -> types.ModuleType:
    """A module holding Pulumi's ``_abort_with_traceback``, as the host's ``__main__`` does."""
    tree = ast.parse(PULUMI_HOST.read_text())
    (wrapper,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_abort_with_traceback"]
    host = types.ModuleType("__main__")
    host.__dict__.update(traceback=traceback, grpc=grpc)
    exec(compile(ast.Module(body=[wrapper], type_ignores=[]), str(PULUMI_HOST), "exec"), host.__dict__)
    return host


class Context:
    """The gRPC servicer context: ``abort`` records what the engine would receive."""

    def __init__(self) -> None:
        self.details = ""

    def abort(self, _code: Any, details: str) -> None:
        self.details = details


@pytest.fixture
def host(monkeypatch) -> Iterator[types.ModuleType]:
    with moto_server() as endpoint:
        for name, value in (("AWS_ENDPOINT_URL", endpoint), ("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t")):
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        module = pulumi_host()
        monkeypatch.setitem(sys.modules, "__main__", module)
        yield module


def build_props(tmp_path: Path, name: str) -> dict[str, Any]:
    archive = tmp_path / f"{name}.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    return {
        "region": REGION, "account_id": "123456789012", "project": f"deep-insight-dev-{name}-image",
        "bucket": "b", "key": f"sources/{name}/x.zip", "archive_path": str(archive),
        "archive_sha256": hashlib.sha256(archive.read_bytes()).hexdigest(), "repository_url": "r/x", "tag": "t",
        "buildspec": "version: 0.2", "environment": "e", "quota": "q",
    }  # fmt: skip


def serve(host: types.ModuleType, call: Callable[[], None]) -> tuple[threading.Thread, Context]:
    """``call`` as the host serves it, on a thread of its own."""
    context = Context()
    wrapped = host._abort_with_traceback(lambda _self, _request, _context: call())
    thread = threading.Thread(target=wrapped, args=(None, None, context))
    thread.start()
    return thread, context


def provider() -> ImageBuildProvider:
    configured = ImageBuildProvider()
    configured.configure(pulumi.dynamic.ConfigureRequest(pulumi.dynamic.Config({"aws:region": REGION}, "deep-insight")))
    return configured


def test_a_failure_stays_one_line_while_another_call_starts(host, tmp_path):
    builds = provider()
    changed, missing = build_props(tmp_path, "agent"), build_props(tmp_path, "executor")
    Path(changed["archive_path"]).write_bytes(b"changed since the program hashed it")
    Path(missing["archive_path"]).unlink()
    failed, other_done = threading.Event(), threading.Event()

    def failing_build() -> None:
        try:
            builds.create(changed)
        finally:  # the failure is on its way to the host's wrapper when the other call starts and ends
            failed.set()
            other_done.wait(30)

    def buggy_build() -> None:
        failed.wait(30)
        try:
            builds.create(missing)
        finally:
            other_done.set()

    (first, shown), (second, bug) = serve(host, failing_build), serve(host, buggy_build)
    first.join(30)
    second.join(30)
    assert shown.details == f"{changed['archive_path']} changed since the program read it; run `pulumi up` again"
    assert bug.details.startswith("Traceback (most recent call last):")
    assert bug.details.rstrip().splitlines()[-1].startswith("FileNotFoundError: ")


def test_a_bug_keeps_its_frames_while_another_call_fails(host, tmp_path):
    builds = provider()
    changed, missing = build_props(tmp_path, "agent"), build_props(tmp_path, "executor")
    Path(changed["archive_path"]).write_bytes(b"changed since the program hashed it")
    started, failed = threading.Event(), threading.Event()
    original_read = Path.read_bytes

    def read_bytes(path: Path) -> bytes:  # the bug's call is under way when the other one fails
        if str(path) == missing["archive_path"]:
            started.set()
            failed.wait(30)
            raise FileNotFoundError(str(path))
        return original_read(path)

    def buggy_build() -> None:
        builds.create(missing)

    def failing_build() -> None:
        started.wait(30)
        try:
            builds.create(changed)
        finally:
            failed.set()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "read_bytes", read_bytes)
        (second, bug), (first, shown) = serve(host, buggy_build), serve(host, failing_build)
        first.join(30)
        second.join(30)
    assert bug.details.startswith("Traceback (most recent call last):")
    assert shown.details.endswith("changed since the program read it; run `pulumi up` again")


def test_only_pulumis_host_is_changed():
    assert show_one_line_errors(types.ModuleType("__main__")) is False
    host = pulumi_host()
    assert show_one_line_errors(host) is True
    try:
        raise OneLineError("one line")
    except OneLineError:
        assert host.traceback.format_exc() == "one line"
    try:
        raise KeyError("bug")
    except KeyError:
        assert host.traceback.format_exc().startswith("Traceback (most recent call last):")
