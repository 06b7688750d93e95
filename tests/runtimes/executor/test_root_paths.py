"""A root server must never write, chown or read a path that a session's code can redirect.

When the server runs as root each session's code runs as its own uid, and everything that uid owns is the
attacker's: it can put a symlink wherever it may write. Each attack aims the server at a victim the test
makes: a root-owned 0700 folder, or a root-owned 0600 file, outside the session. The expectation comes from
the victim, read by the test: still root's, same mode, same content, nothing new in it."""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.runtimes.executor.conftest import Executor, StartExecutor, assert_alive, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="a root server needs root")

ORIGINAL = b"root's own content\n"
PAYLOAD = b"written by the session\n"
RACE_ROUNDS = 300


@dataclass(frozen=True)
class Victim:
    folder: Path
    """root:root 0700, holding ``file``."""
    file: Path
    """root:root 0600, holding ORIGINAL."""

    def assert_untouched(self) -> None:
        for path, mode in ((self.folder, 0o700), (self.file, 0o600)):
            info = os.lstat(path)
            assert (info.st_uid, info.st_gid) == (0, 0), f"{path} now belongs to {info.st_uid}:{info.st_gid}"
            assert stat.S_IMODE(info.st_mode) == mode, f"{path} now has mode {stat.S_IMODE(info.st_mode):o}"
        assert self.file.read_bytes() == ORIGINAL, f"{self.file} was overwritten"
        assert sorted(p.name for p in self.folder.iterdir()) == [self.file.name], (
            "something was written into the victim"
        )


@pytest.fixture
def victim(shared_tmp: Path) -> Victim:
    folder = Path(tempfile.mkdtemp(prefix="victim-", dir=shared_tmp))
    folder.chmod(0o700)
    file = folder / "secret.txt"
    file.write_bytes(ORIGINAL)
    file.chmod(0o600)
    return Victim(folder, file)


@pytest.fixture(scope="module")
def executor(start_executor: StartExecutor) -> Executor:
    return start_executor(EXECUTOR_MAX_SESSIONS="32")


@pytest.fixture
def sid() -> str:
    return f"paths-{secrets.token_hex(4)}"


def test_a_temporary_folder_replaced_by_a_symlink_is_not_chowned(executor, sid, victim):
    with executor.client() as client:
        swap = (
            "import os, shutil\n"
            "tmp = os.environ['TMPDIR']\n"
            "try:\n"
            "    shutil.rmtree(tmp)\n"
            f"    os.symlink({str(victim.folder)!r}, tmp)\n"
            "    print('swapped')\n"
            "except OSError as error:\n"
            "    print('refused', error.errno)\n"
        )
        print(run(client, sid, swap))
        run(client, sid, "true", language="bash")
        run(client, sid, "true", language="bash")
        victim.assert_untouched()
        assert_alive(client, sid)


def test_a_matplotlib_folder_replaced_by_a_symlink_is_not_written_on_restart(executor, sid, victim):
    with executor.client() as client:
        swap = (
            "import os, shutil\n"
            "folder = os.environ['MPLCONFIGDIR']\n"
            "try:\n"
            "    shutil.rmtree(folder)\n"
            f"    os.symlink({str(victim.folder)!r}, folder)\n"
            "except OSError as error:\n"
            "    print('refused', error.errno)\n"
            "os._exit(1)\n"
        )
        assert run(client, sid, swap)["error"]["type"] == "WorkerCrashed"
        run(client, sid, "print('restarted')")
        victim.assert_untouched()
        assert_alive(client, sid)


def test_symlinks_planted_in_the_matplotlib_folder_are_not_followed_on_restart(executor, sid, victim):
    with executor.client() as client:
        plant = (
            "import glob, os\n"
            "folder = os.environ['MPLCONFIGDIR']\n"
            "names = ['matplotlibrc'] + [os.path.basename(p) for p in glob.glob(folder + '/fontlist-*.json')]\n"
            "names += ['fontlist-v330.json', 'fontlist-v390.json']\n"
            "for name in set(names):\n"
            "    path = os.path.join(folder, name)\n"
            "    if os.path.lexists(path):\n"
            "        os.unlink(path)\n"
            f"    os.symlink({str(victim.file)!r}, path)\n"
            "os._exit(1)\n"
        )
        assert run(client, sid, plant)["error"]["type"] == "WorkerCrashed"
        run(client, sid, "print('restarted')")
        victim.assert_untouched()
        assert_alive(client, sid)


# A kernel thread that keeps swapping the workspace folder ``up`` for a symlink to the victim and back,
# while the test sends the server files to write into ``up``.
SWAPPER = """
import os, threading, time
def swap():
    while not os.path.exists('stop'):
        try:
            os.rename('up', 'up.real')
            os.symlink(VICTIM, 'up')
            os.unlink('up')
            os.rename('up.real', 'up')
        except OSError:
            pass
os.makedirs('up', exist_ok=True)
threading.Thread(target=swap, daemon=True).start()
print('swapping')
"""


def test_an_upload_cannot_be_redirected_by_a_racing_symlink(executor, sid, victim):
    with executor.client() as client:
        run(client, sid, "print('ready')")
        assert run(client, sid, SWAPPER.replace("VICTIM", repr(str(victim.folder))))["stdout"] == "swapping\n"
        for n in range(RACE_ROUNDS):
            attempt(lambda n=n: client.put(f"/v1/sessions/{sid}/files/up/payload-{n}.txt", content=PAYLOAD))
            attempt(lambda: client.put(f"/v1/sessions/{sid}/files/up/secret.txt", content=PAYLOAD))
        client.put(f"/v1/sessions/{sid}/files/stop", content=b"")
        victim.assert_untouched()
        assert_alive(client, sid)


def attempt(request: Callable[[], httpx.Response]) -> httpx.Response | None:
    """One request of the race; whatever the server answers (a refusal, a conflict, a closed connection)."""
    try:
        return request()
    except httpx.TransportError:
        return None


class _Payload(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(PAYLOAD)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def payload_url() -> Iterator[str]:
    """A stand-in for a presigned GET URL on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Payload)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/object"
    server.shutdown()
    server.server_close()


def test_a_sync_download_cannot_be_redirected_by_a_racing_symlink(executor, sid, victim, payload_url):
    with executor.client() as client:
        run(client, sid, "print('ready')")
        run(client, sid, SWAPPER.replace("VICTIM", repr(str(victim.folder))))
        for n in range(RACE_ROUNDS // 10):
            files = [{"path": f"up/download-{n}-{k}.txt", "url": payload_url} for k in range(10)]
            files.append({"path": "up/secret.txt", "url": payload_url})
            attempt(
                lambda files=files: client.post(
                    f"/v1/sessions/{sid}/sync", json={"direction": "download", "files": files}
                )
            )
        client.put(f"/v1/sessions/{sid}/files/stop", content=b"")
        victim.assert_untouched()
        assert_alive(client, sid)


def test_a_download_of_a_file_cannot_be_redirected_to_roots_files(executor, sid, victim):
    with executor.client() as client:
        run(client, sid, "import os\nos.makedirs('up', exist_ok=True)\nopen('up/secret.txt', 'w').write('mine')")
        run(client, sid, SWAPPER.replace("VICTIM", repr(str(victim.folder))))
        answers = set()
        for _ in range(RACE_ROUNDS):
            got = attempt(lambda: client.get(f"/v1/sessions/{sid}/files/up/secret.txt"))
            if got is not None and got.status_code == 200:
                answers.add(got.content)
        client.put(f"/v1/sessions/{sid}/files/stop", content=b"")
        assert ORIGINAL not in answers, "the server read a root-only file for the session"
        assert_alive(client, sid)
