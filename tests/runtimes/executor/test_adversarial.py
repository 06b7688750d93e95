"""Hostile and broken input against a real server with real worker processes, in both of its modes, with
the worker memory limit of the smallest Fargate task (410 MB of 512 MB). After each attack the server must
still answer /health and the session must take its next call."""

from __future__ import annotations

import threading
import time

import pytest

from tests.runtimes.executor.conftest import (
    HOSTILE_MODES,
    TOKEN,
    Executor,
    StartExecutor,
    assert_alive,
    run,
    start_in_mode,
)

# Python run in the session: how many live (not zombie) processes work in its workspace. (In the non-root
# mode the server and every session share one uid, so the uid alone does not tell the session's apart. In a
# sandbox, its pid 1 is bubblewrap's own, not the session's code.)
COUNT_MY_PROCESSES = """
import os
def live_here(pid):
    try:
        here = os.readlink(f'/proc/{pid}/cwd') == os.getcwd()
        sandbox_init = open(f'/proc/{pid}/comm').read().strip() == 'bwrap'
        return here and not sandbox_init and open(f'/proc/{pid}/stat').read().split()[2] != 'Z'
    except OSError:
        return False
print(sum(1 for p in os.listdir('/proc') if p.isdigit() and live_here(p)))
"""

# Python run in the session: wait until its uid has fewer than 100 processes (zombies included). The bomb's
# children that the server killed are the kernel's: as zombies they count until their parent reaps them.
WAIT_UNTIL_REAPED = """
import os, time
def reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
def ours(pid):
    try:
        return os.stat(f'/proc/{pid}').st_uid == os.getuid()
    except OSError:
        return False
def mine():
    return sum(1 for p in os.listdir('/proc') if p.isdigit() and ours(p))
deadline = time.monotonic() + 20
while mine() >= 100 and time.monotonic() < deadline:
    reap()
    time.sleep(0.1)
print('reaped' if mine() < 100 else mine())
"""

MEMORY_LIMIT_MB = 410


@pytest.fixture(scope="module", params=HOSTILE_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Hostile code is also tried in a local run's sandbox."""
    return request.param


@pytest.fixture(scope="module")
def executor(start_executor: StartExecutor, mode: str) -> Executor:
    """One server per mode for the whole module: its many sessions stay open, so the default cap of 16 is raised."""
    return start_in_mode(
        start_executor, mode, EXECUTOR_MAX_SESSIONS="64", EXECUTOR_MEMORY_LIMIT_MB=str(MEMORY_LIMIT_MB)
    )


def test_a_timeout_interrupts_first_and_the_session_keeps_its_variables(executor):
    with executor.client() as client:
        run(client, "loop", "kept = 1")
        result = run(client, "loop", "while True:\n    pass", timeoutSeconds=1.5)
        assert result["status"] == "timeout"
        assert result["error"]["type"] == "Timeout"
        assert "interrupted (KeyboardInterrupt)" in result["error"]["message"]
        assert "KeyboardInterrupt" in result["error"]["traceback"]
        assert 1400 <= result["durationMs"] < 5000
        assert run(client, "loop", "print(kept)")["stdout"] == "1\n"  # as a notebook's stop button leaves it
        assert_alive(client, "loop")


def test_code_that_ignores_the_interrupt_is_killed_and_the_worker_replaced(executor):
    with executor.client() as client:
        run(client, "deaf", "kept = 1")
        deaf = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
        result = run(client, "deaf", deaf, timeoutSeconds=1.5)
        assert result["status"] == "timeout"
        assert "did not stop when interrupted" in result["error"]["message"]
        assert "replaced" in result["error"]["message"]
        assert 4400 <= result["durationMs"] < 9000  # the timeout, then the 3 s grace
        assert run(client, "deaf", "print(kept)")["error"]["type"] == "NameError"  # says so: state is gone
        assert_alive(client, "deaf")


def test_bash_timeout_kills_the_whole_process_group(executor):
    with executor.client() as client:
        result = run(client, "sleepy", "sleep 300 & sleep 300; echo never", language="bash", timeoutSeconds=1)
        assert result["status"] == "timeout"
        assert "never" not in result["stdout"]
        assert run(client, "sleepy", COUNT_MY_PROCESSES)["stdout"] == "1\n"  # only the kernel: both sleeps are gone
        assert_alive(client, "sleepy")


def test_output_flood_keeps_head_and_tail(executor):
    with executor.client() as client:
        result = run(client, "flood", "for i in range(200000):\n    print(f'line {i:06d} ' + 'x' * 40)")
        assert result["status"] == "ok"
        assert result["truncated"] is True
        assert result["stdout"].startswith("line 000000 ")
        assert result["stdout"].rstrip().endswith("line 199999 " + "x" * 40)
        assert "bytes of output truncated" in result["stdout"]
        assert len(result["stdout"].encode()) < 65536 + 200
        # The same through the descriptors, past any pipe's buffer: the kernel never blocks on its stdout.
        native = run(client, "flood", "import os\n_ = os.system('seq -f \"line %06g\" 0 199999')")
        assert (native["status"], native["truncated"]) == ("ok", True)
        assert native["stdout"].startswith("line 000000\n")
        assert native["stdout"].endswith("line 199999\n")
        endless = run(client, "flood", "while True:\n    print('y' * 1000)", timeoutSeconds=2)
        assert endless["status"] == "timeout"
        assert endless["truncated"] is True
        assert_alive(client, "flood")


def test_memory_bomb_fails_in_the_worker(executor):
    with executor.client() as client:
        result = run(client, "memory", "hog = bytearray(8 * 1024**3)")
        assert result["status"] == "error"
        # MemoryError only if the system refuses 8 GiB outright (less memory than that, overcommit heuristic).
        assert result["error"]["type"] in ("MemoryError", "WorkerCrashed")
        growing = run(client, "memory", "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024**2))")
        assert growing["status"] == "error"
        assert growing["error"]["type"] == "WorkerCrashed"
        assert f"memory limit of {MEMORY_LIMIT_MB} MB" in growing["error"]["message"]
        assert_alive(client, "memory")


def test_a_bash_memory_bomb_is_killed_at_the_limit(executor):
    with executor.client() as client:
        result = run(
            client, "bash-memory", "python3 -c 'hog = bytearray(4 * 1024**3); print(len(hog))'", language="bash"
        )
        assert result["status"] == "error", result
        assert result["error"]["type"] == "WorkerCrashed"
        assert f"memory limit of {MEMORY_LIMIT_MB} MB" in result["error"]["message"]
        assert_alive(client, "bash-memory")


@pytest.mark.parametrize(
    "code",
    [
        "import os\nos._exit(3)",
        "import ctypes\nctypes.string_at(0)",  # a segfault
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    ],
    ids=["os._exit", "segfault", "sigkill"],
)
def test_a_dying_worker_is_reported_and_replaced(executor, code):
    with executor.client() as client:
        run(client, "crash", "before = 1")
        result = run(client, "crash", code)
        assert result["status"] == "error"
        assert result["error"]["type"] == "WorkerCrashed"
        assert run(client, "crash", "print(before)")["error"]["type"] == "NameError"
        assert_alive(client, "crash")


def test_fork_bomb_is_capped_and_cleaned_up(executor, mode):
    bomb = (
        "import os, time\n"
        "children = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "except OSError as error:\n"
        "    print(children, type(error).__name__)\n"
    )
    with executor.client() as client:
        if run(client, "forks", "import os; print(os.getuid())")["stdout"] == "0\n":
            pytest.fail(
                "workers run as root here (no interpreter other uids can run), so RLIMIT_NPROC cannot hold a fork bomb"
            )
        result = run(client, "forks", bomb, timeoutSeconds=30)
        if mode == "root":
            assert result["status"] == "ok", result
            children, error = result["stdout"].split()
            assert error == "BlockingIOError"
            assert int(children) < 64  # EXECUTOR_MAX_PROCESSES of the test server
        else:
            # One uid's cap of 512 (the server's threads count too) lets more Python processes start than
            # 410 MB holds: each forked child soon owns a megabyte or two of its own. Either limit may end it.
            stopped_by_cap = result["status"] == "ok" and result["stdout"].split()[1:] == ["BlockingIOError"]
            stopped_by_memory = result["status"] == "error" and result["error"]["type"] == "WorkerCrashed"
            assert stopped_by_cap or stopped_by_memory, result
            if stopped_by_memory:
                assert f"memory limit of {MEMORY_LIMIT_MB} MB" in result["error"]["message"]
            # Until the killed children are reaped they still count against the uid's cap, which the server's
            # next kernels share: wait for that, as the next test would otherwise start a kernel at the cap.
            reaped = run(client, "forks", WAIT_UNTIL_REAPED, timeoutSeconds=30)
            assert reaped["stdout"] == "reaped\n", reaped
        # The call is over: nothing it started is still running.
        assert run(client, "forks", COUNT_MY_PROCESSES)["stdout"] == "1\n"  # only the kernel itself
        assert_alive(client, "forks")


@pytest.mark.parametrize(
    "path",
    ["../escape.txt", "a/../../escape.txt", "%2E%2E/escape.txt", "/etc/passwd", "%2Fetc%2Fpasswd"],
)
def test_paths_cannot_leave_the_workspace(executor, path):
    with executor.client() as client:
        put = client.put(f"/v1/sessions/paths/files/{path}", content=b"x")
        got = client.get(f"/v1/sessions/paths/files/{path}")
        assert put.status_code in (400, 404), put.text
        assert got.status_code in (400, 404), got.text
        assert not (executor.workdir / "sessions" / "escape.txt").exists()
        assert_alive(client, "paths")


def test_symlinks_made_by_user_code_do_not_lead_out(executor):
    with executor.client() as client:
        made = run(client, "links", "import os\nos.symlink('/etc/passwd', 'passwd')\nos.symlink('/etc', 'etc')")
        assert made["status"] == "ok", made
        assert client.get("/v1/sessions/links/files/passwd").status_code == 400
        assert client.get("/v1/sessions/links/files/etc/hostname").status_code == 400
        assert client.put("/v1/sessions/links/files/etc/evil", content=b"x").status_code == 400
        listing = client.get("/v1/sessions/links/files").json()["files"]
        assert listing == []
        assert_alive(client, "links")


def test_oversized_upload_is_refused(start_executor, mode):
    small = start_in_mode(start_executor, mode, EXECUTOR_MAX_UPLOAD_BYTES="1000")
    with small.client() as client:
        response = client.put("/v1/sessions/big/files/big.bin", content=b"x" * 1001)
        assert response.status_code == 413
        chunked = client.put("/v1/sessions/big/files/big.bin", content=iter([b"x" * 600, b"x" * 600]))
        assert chunked.status_code == 413
        assert client.get("/v1/sessions/big/files").json() == {"files": []}
        assert client.put("/v1/sessions/big/files/ok.bin", content=b"x" * 1000).status_code == 201
        assert_alive(client, "big")


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"[1, 2]", 400, None),
        (b"{}", 422, "code"),
        (b'{"code": 5}', 422, "code"),
        (b'{"code": "1", "language": "ruby"}', 422, "language"),
        (b'{"code": "1", "timeoutSeconds": "10"}', 422, "timeoutSeconds"),
        (b'{"code": "1", "timeoutSeconds": 901}', 422, "timeoutSeconds"),
        (b'{"code": "1", "timeoutSeconds": -1}', 422, "timeoutSeconds"),
        (b'{"code": "1", "timeoutSeconds": true}', 422, "timeoutSeconds"),
        (b'{"code": "1", "timeout": 5}', 422, "timeout"),  # a typo of timeoutSeconds is not ignored
    ],
)
def test_malformed_requests_get_json_errors(executor, body, status, field):
    with executor.client() as client:
        response = client.post(
            "/v1/sessions/malformed/execute", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == status
        assert response.json()["error"]
        if field:
            assert [f["field"] for f in response.json()["fields"]] == [field]
        assert_alive(client, "malformed")


def test_an_unknown_field_is_named_with_the_field_it_resembles(executor):
    with executor.client() as client:
        response = client.post("/v1/sessions/typo/execute", json={"code": "1", "timeout": 5})
        assert response.status_code == 422
        assert response.json()["fields"] == [
            {"field": "timeout", "problem": "unknown field; did you mean timeoutSeconds?"}
        ]
        assert "timeout" in response.json()["error"]


def test_every_problem_of_a_body_is_reported_at_once(executor):
    with executor.client() as client:
        body = {"code": 5, "language": "ruby", "timeoutSeconds": 0, "extra": 1}
        response = client.post("/v1/sessions/many/execute", json=body)
        assert response.status_code == 422
        assert sorted(f["field"] for f in response.json()["fields"]) == ["code", "extra", "language", "timeoutSeconds"]


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("GET", "/v1/nowhere", 404, "no such route"),
        ("POST", "/health", 405, "method not allowed"),
        ("GET", "/v1/sessions/errors/files/absent.txt", 404, "'absent.txt' not found"),
        ("GET", "/v1/sessions/-bad/files", 400, None),
    ],
)
def test_every_error_is_a_json_body_with_an_error_line(executor, method, path, status, error):
    with executor.client() as client:
        response = client.request(method, path)
        assert response.status_code == status
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()) == {"error"}
        assert error is None or response.json()["error"] == error


def test_sync_body_is_validated(executor):
    with executor.client() as client:
        response = client.post("/v1/sessions/s/sync", json={"direction": "sideways", "files": []})
        assert response.status_code == 422
        assert client.post("/v1/sessions/s/sync", json={"direction": "upload"}).status_code == 422
        typo = client.post("/v1/sessions/s/sync", json={"direction": "upload", "files": [], "file": "x"})
        assert typo.status_code == 422
        assert [f["field"] for f in typo.json()["fields"]] == ["file"]


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x", ""])
def test_missing_or_wrong_token_is_401(executor, token):
    with executor.client(token=token) as client:
        for response in (
            client.post("/v1/sessions/t/execute", json={"code": "1"}),
            client.get("/v1/sessions/t/files"),
            client.delete("/v1/sessions/t"),
        ):
            assert response.status_code == 401
        assert client.get("/health").status_code == 200
    with executor.client(token=None) as client:
        assert (
            client.post(
                "/v1/sessions/t/execute", json={"code": "1"}, headers={"Authorization": f"Basic {TOKEN}"}
            ).status_code
            == 401
        )


def test_pinned_executor_refuses_other_sessions(start_executor, mode):
    pinned = start_in_mode(start_executor, mode, SESSION_ID="the-one-session")
    with pinned.client() as client:
        assert run(client, "the-one-session", "print(1)")["stdout"] == "1\n"
        for response in (
            client.post("/v1/sessions/another/execute", json={"code": "1"}),
            client.get("/v1/sessions/another/files"),
            client.put("/v1/sessions/another/files/x", content=b"x"),
            client.delete("/v1/sessions/another"),
        ):
            assert response.status_code == 403
        assert_alive(client, "the-one-session")
    pinned.stop()


def test_two_sessions_see_neither_variables_nor_files(executor):
    with executor.client() as client:
        run(client, "alice", "secret = 'alice-only'\nopen('diary.txt', 'w').write('dear diary')")
        assert run(client, "bob", "print(secret)")["error"]["type"] == "NameError"
        assert client.get("/v1/sessions/bob/files/diary.txt").status_code == 404
        assert client.get("/v1/sessions/bob/files").json() == {"files": []}


def test_a_sessions_code_cannot_read_anothers_files(executor, mode):
    if mode == "non-root":
        pytest.skip(
            "one uid runs every session of a non-root server: the image serves one session per task (SESSION_ID, "
            "test_pinned_executor_refuses_other_sessions) and the server warns when it is not pinned"
        )
    with executor.client() as client:
        run(client, "carol", "import os\nopen('diary.txt', 'w').write(os.path.abspath('diary.txt'))")
        diary = client.get("/v1/sessions/carol/files/diary.txt").text
        # As root, another uid's file; in the sandbox, a file of a folder the worker cannot even see.
        refused, said = (
            ("FileNotFoundError", "No such file") if mode == "sandbox" else ("PermissionError", "Permission denied")
        )
        snoop = run(client, "dave", f"print(open({diary!r}).read())")
        assert snoop["status"] == "error"
        assert snoop["error"]["type"] == refused
        shell = run(client, "dave", f"cat {diary}", language="bash")
        assert shell["status"] == "error"
        assert said in shell["stderr"]


def test_calls_to_one_session_are_serialized(executor):
    code = "import time\nfor i in range(5):\n    print(f'{tag}-{i}')\n    time.sleep(0.05)"
    results: dict[str, dict] = {}

    def call(tag: str) -> None:
        with executor.client() as client:
            results[tag] = run(client, "serial", f"tag = '{tag}'\n{code}")

    threads = [threading.Thread(target=call, args=(tag,)) for tag in ("a", "b", "c")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for tag, result in results.items():
        assert result["stdout"] == "".join(f"{tag}-{i}\n" for i in range(5)), results
    spans = sorted(r["durationMs"] for r in results.values())
    assert all(s >= 250 for s in spans)


def test_different_sessions_run_in_parallel(executor):
    durations: list[float] = []
    ready = threading.Barrier(3)

    def call(sid: str) -> None:
        with executor.client() as client:
            run(client, sid, "1")  # start the worker
            ready.wait(60)  # then all three sleep at the same time
            started = time.monotonic()
            run(client, sid, "import time; time.sleep(1)")
            durations.append(time.monotonic() - started)

    threads = [threading.Thread(target=call, args=(f"par-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(durations) == 3
    assert max(durations) < 2.5  # serialized, they would take 3 s
