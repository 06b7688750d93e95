"""The per-session disk quota (EXECUTOR_MAX_WORKSPACE_MB) on a real server: uploads and sync downloads are
refused past it, and a call that floods the disk is stopped and its new files removed, while the session's
earlier files, its variables and the server carry on. Each test runs with the server as root (sessions as
their own uids) and as an unprivileged uid (sessions as the server's uid, as in the image)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.runtimes.executor.conftest import Executor, StartExecutor, assert_alive, run, start_in_mode

QUOTA_MB = 20
MB = 1024 * 1024


@pytest.fixture(scope="module")
def quota(start_executor: StartExecutor, mode: str) -> Executor:
    return start_in_mode(start_executor, mode, EXECUTOR_MAX_WORKSPACE_MB=str(QUOTA_MB))


def assert_quota_error(result: dict, *removed: str) -> str:
    assert result["status"] == "error", result
    assert result["error"]["type"] == "WorkspaceQuotaExceeded", result
    message = result["error"]["message"]
    assert "\n" not in message
    assert f"disk quota of {QUOTA_MB}.0 MB (EXECUTOR_MAX_WORKSPACE_MB)" in message, message
    for name in removed:
        assert f"{name} (" in message, message
    return message


def workspace_names(client: httpx.Client, sid: str) -> list[str]:
    """Every entry of the workspace, hidden ones too (a half-written upload is a hidden file)."""
    listing = run(client, sid, "ls -A", language="bash")
    assert listing["status"] == "ok", listing
    return listing["stdout"].split()


def test_an_upload_that_fits_is_stored(quota):
    with quota.client() as client:
        put = client.put("/v1/sessions/up-fits/files/data/fits.bin", content=b"x" * 5 * MB)
        assert put.status_code == 201, put.text
        assert client.get("/v1/sessions/up-fits/files/data/fits.bin").content == b"x" * 5 * MB


@pytest.mark.parametrize("how", ["declared", "chunked"])
def test_an_upload_over_the_quota_is_refused_and_leaves_nothing(quota, how):
    sid = f"up-over-{how}"
    payload = b"x" * (QUOTA_MB + 5) * MB
    with quota.client() as client:
        content = payload if how == "declared" else (payload[i : i + MB] for i in range(0, len(payload), MB))
        response = client.put(f"/v1/sessions/{sid}/files/too-big.bin", content=content)
        assert response.status_code == 413, response.text
        error = response.json()["error"]
        assert "'too-big.bin' would take the session over its disk quota of 20.0 MB" in error
        assert "EXECUTOR_MAX_WORKSPACE_MB" in error
        assert "\n" not in error
        assert workspace_names(client, sid) == []
        assert client.put(f"/v1/sessions/{sid}/files/small.bin", content=b"y" * MB).status_code == 201
        assert_alive(client, sid)


def test_an_overwritten_file_is_not_counted_twice(quota):
    with quota.client() as client:
        for _ in range(3):  # 12 MB, replaced by 12 MB: never 24 MB
            put = client.put("/v1/sessions/overwrite/files/same.bin", content=b"x" * 12 * MB)
            assert put.status_code == 201, put.text
        other = client.put("/v1/sessions/overwrite/files/other.bin", content=b"x" * 12 * MB)
        assert other.status_code == 413, other.text
        assert workspace_names(client, "overwrite") == ["same.bin"]


class _Files(BaseHTTPRequestHandler):
    """GET /<n>: n zero bytes, with a Content-Length; GET /undeclared/<n>: the same without one."""

    protocol_version = "HTTP/1.0"  # the body ends when the connection closes: no length needed

    def do_GET(self) -> None:
        undeclared = self.path.startswith("/undeclared/")
        size = int(self.path.rsplit("/", 1)[1])
        self.send_response(200)
        if not undeclared:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        for _ in range(size // MB):
            self.wfile.write(b"\0" * MB)
        self.wfile.write(b"\0" * (size % MB))

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("declared", [True, False])
def test_a_sync_download_over_the_quota_is_refused(quota, file_server, declared):
    sid = f"sync-{'declared' if declared else 'undeclared'}"
    prefix = file_server if declared else f"{file_server}/undeclared"
    with quota.client() as client:
        fits = [{"path": "in/a.bin", "url": f"{prefix}/{8 * MB}"}]
        response = client.post(f"/v1/sessions/{sid}/sync", json={"direction": "download", "files": fits})
        assert response.status_code == 200, response.text
        again = client.post(f"/v1/sessions/{sid}/sync", json={"direction": "download", "files": fits})
        assert again.status_code == 200, again.text  # the file it replaces is given back
        over = [{"path": f"in/b{i}.bin", "url": f"{prefix}/{8 * MB}"} for i in range(2)]
        response = client.post(f"/v1/sessions/{sid}/sync", json={"direction": "download", "files": over})
        assert response.status_code == 413, response.text
        assert "would take the session over its disk quota (EXECUTOR_MAX_WORKSPACE_MB)" in response.json()["error"]
        names = run(client, sid, "find . -type f | sort", language="bash")["stdout"].split()
        assert "./in/a.bin" in names
        assert not [name for name in names if ".download-" in name]  # nothing half-written
        assert len(names) <= 2  # a.bin, and at most one b that fitted


def test_workers_cannot_write_a_file_larger_than_the_quota(quota):
    with quota.client() as client:
        result = run(client, "rlimit", "import resource\nprint(resource.getrlimit(resource.RLIMIT_FSIZE))")
        assert result["stdout"] == f"({QUOTA_MB * MB}, {QUOTA_MB * MB})\n", result


def _earlier_call(client: httpx.Client, sid: str) -> None:
    result = run(client, sid, "kept = 42\nopen('earlier.txt', 'w').write('from an earlier call')")
    assert result["status"] == "ok", result


def _after(client: httpx.Client, sid: str, *, variables_kept: bool = True) -> None:
    """The earlier call's file is still there, its variable too (unless the worker had to be replaced)."""
    assert client.get(f"/v1/sessions/{sid}/files/earlier.txt").text == "from an earlier call"
    if variables_kept:
        assert run(client, sid, "print(kept)")["stdout"] == "42\n"
    assert_alive(client, sid)


def test_a_python_flood_into_one_file_is_removed(quota):
    with quota.client() as client:
        _earlier_call(client, "py-flood")
        code = "print('writing')\nwith open('big', 'wb') as f:\n    while True:\n        f.write(b'x' * 2**20)"
        result = run(client, "py-flood", code)
        message = assert_quota_error(result, "big")
        assert result["stdout"] == "writing\n"  # the call's output is kept
        assert "File too large" in message or "interrupted" in message, message  # RLIMIT_FSIZE or the watchdog
        assert "big" not in workspace_names(client, "py-flood")
        _after(client, "py-flood")


def test_a_python_flood_of_many_files_is_stopped_while_it_runs(quota):
    with quota.client() as client:
        _earlier_call(client, "py-many")
        code = "i = 0\nwhile True:\n    open(f'part-{i}', 'wb').write(b'x' * 2**19)\n    i += 1"
        result = run(client, "py-many", code, timeoutSeconds=60)
        message = assert_quota_error(result)
        # Stopped while it ran, by interrupt, or (when gigabytes of dirty pages hold the writer in the kernel
        # past the grace) by a kill; either way the answer says which.
        stopped = ("interrupted (KeyboardInterrupt)", "did not stop when interrupted; the worker was killed")
        assert any(way in message for way in stopped), message
        assert result["durationMs"] < 15_000, result
        assert re.search(r"removed what this call wrote: part-\d+ \(0\.5 MB\), .* more files", message), message
        # A killed worker is replaced without the session's variables (the message says so): only an
        # interrupted one keeps them.
        _after(client, "py-many", variables_kept=stopped[0] in message)


def test_temporary_files_count_in_the_quota(quota):
    with quota.client() as client:
        _earlier_call(client, "py-temp")
        code = (
            "import tempfile\n"
            "with tempfile.NamedTemporaryFile(delete=False) as f:\n"
            "    for _ in range(30):\n"
            "        f.write(b'x' * 2**20)\n"
        )
        message = assert_quota_error(run(client, "py-temp", code))
        assert "removed what this call wrote: $TMPDIR/tmp" in message, message
        _after(client, "py-temp")


def test_a_dd_flood_is_removed(quota):
    with quota.client() as client:
        _earlier_call(client, "dd-flood")
        result = run(client, "dd-flood", "dd if=/dev/zero of=big bs=1M count=100000", language="bash")
        assert_quota_error(result, "big")
        assert "big" not in workspace_names(client, "dd-flood")
        _after(client, "dd-flood")


def test_a_bash_flood_of_small_files_is_stopped_and_removed(quota):
    with quota.client() as client:
        _earlier_call(client, "small-files")
        code = "for i in $(seq 1 1000000); do head -c 100000 /dev/zero > f$i; done"
        result = run(client, "small-files", code, language="bash", timeoutSeconds=120)
        message = assert_quota_error(result)
        assert re.search(r"removed what this call wrote: f\d+ \(0\.1 MB\)", message), message
        assert "the command was stopped and killed" in message, message
        assert result["durationMs"] < 30_000, result
        usage = run(client, "small-files", "du -sm --apparent-size .", language="bash")["stdout"]
        assert int(usage.split()[0]) <= QUOTA_MB, usage
        _after(client, "small-files")
