"""SPEC §6 semantics against a real server, in both of its modes: state, errors, bash, files, sessions, health."""

from __future__ import annotations

import base64

import pytest

from tests.runtimes.executor.conftest import Executor, StartExecutor, run, start_in_mode


@pytest.fixture(scope="module")
def executor(start_executor: StartExecutor, mode: str) -> Executor:
    return start_in_mode(start_executor, mode)


def test_health_is_open_and_counts_sessions(executor):
    with executor.client(token=None) as anonymous, executor.client() as client:
        before = anonymous.get("/health").json()
        assert before["status"] == "ok"
        run(client, "counted", "1")
        assert anonymous.get("/health").json()["sessions"] == before["sessions"] + 1
        assert client.delete("/v1/sessions/counted").status_code == 204
        assert anonymous.get("/health").json()["sessions"] == before["sessions"]


def test_state_persists_like_a_notebook_and_expressions_print(executor):
    with executor.client() as client:
        assert run(client, "state", "import math\nx = 20")["stdout"] == ""
        result = run(client, "state", "x + math.floor(2.5)")
        assert result == {"status": "ok", "stdout": "22\n", "stderr": "", "error": None,
                          "durationMs": result["durationMs"], "truncated": False}  # fmt: skip
        assert isinstance(result["durationMs"], int)


def test_errors_carry_type_message_and_traceback(executor):
    with executor.client() as client:
        result = run(client, "errors", "print('before')\n{}['missing']")
        assert result["status"] == "error"
        assert result["stdout"] == "before\n"
        assert result["error"]["type"] == "KeyError"
        assert result["error"]["message"] == "'missing'"
        assert "KeyError" in result["error"]["traceback"]
        assert "\x1b[" not in result["error"]["traceback"]
        assert run(client, "errors", "import sys; print('err', file=sys.stderr)")["stderr"] == "err\n"


def test_output_written_as_a_call_ends_is_in_its_answer(executor):
    """The last bytes a call writes, through Python's streams and straight to the file descriptors (C code,
    subprocesses), are in that call's answer, call after call: the server reads until the kernel says idle,
    and then what is left in the kernel's stdout and stderr pipes."""
    code = (
        "import os, sys\nprint('py')\nsys.stderr.write('err')\nos.write(1, b'fd\\n')\nos.write(2, b'fd2')\n"
        "_ = os.system('echo sh')\nprint('last', end='')"
    )
    with executor.client() as client:
        # The kernel runs without ipykernel's pause before each reply (worker.KERNEL_ARGUMENTS).
        assert run(client, "last-words", "get_ipython().kernel._execute_sleep")["stdout"] == "0.0\n"
        answers = [run(client, "last-words", code) for _ in range(100)]
    # Python's streams and the descriptors reach the server apart, so they may interleave (even within a line):
    # every character must be there, in whatever order.
    assert {("".join(sorted(answer["stdout"])), "".join(sorted(answer["stderr"]))) for answer in answers} == {
        ("".join(sorted("py\nfd\nsh\nlast")), "".join(sorted("errfd2")))
    }


def test_user_output_stays_out_of_the_servers_log(executor):
    """What user code writes to its descriptors is the call's output, never a line in the server's log
    (CloudWatch, in AWS): not JSON, and user data where it does not belong."""
    with executor.client() as client:
        result = run(
            client, "quiet-log", "import os\n_ = os.system('echo marker-on-stdout; echo marker-on-stderr >&2')"
        )
        assert (result["stdout"], result["stderr"]) == ("marker-on-stdout\n", "marker-on-stderr\n")
        run(client, "quiet-log", "1")  # a later call, so that any echo had time to reach the log
    assert "marker-on" not in executor.log.read_text()


def test_workspace_is_the_working_directory_and_matplotlib_is_headless(executor):
    with executor.client() as client:
        code = (
            "import os, matplotlib\nopen('here.txt', 'w').write(os.getcwd())\nprint(matplotlib.get_backend().lower())"
        )
        assert run(client, "cwd", code)["stdout"] == "agg\n"
        workspace = client.get("/v1/sessions/cwd/files/here.txt").text
        assert run(client, "cwd", "pwd", language="bash")["stdout"].strip() == workspace


def test_bash_runs_in_the_same_workspace(executor):
    with executor.client() as client:
        run(client, "shell", "open('made-by-python.txt', 'w').write('hi')")
        result = run(client, "shell", "cat made-by-python.txt; echo; echo oops >&2; exit 3", language="bash")
        assert result["stdout"] == "hi\n"
        assert result["stderr"] == "oops\n"
        assert result["status"] == "error"
        assert result["error"]["type"] == "ExitCode"


def test_files_round_trip_listing_and_404(executor):
    with executor.client() as client:
        payload = bytes(range(256)) * 10
        put = client.put("/v1/sessions/files/files/nested/blob.bin", content=payload)
        assert put.status_code == 201
        assert put.json() == {"path": "nested/blob.bin", "bytes": len(payload)}
        got = client.get("/v1/sessions/files/files/nested/blob.bin")
        assert got.status_code == 200
        assert got.content == payload
        run(client, "files", "open('out.txt', 'w').write('결과')")
        listing = client.get("/v1/sessions/files/files").json()["files"]
        assert [(f["path"], f["bytes"]) for f in listing] == [("nested/blob.bin", 2560), ("out.txt", 6)]
        assert all(f["modified"].endswith("Z") for f in listing)
        assert client.get("/v1/sessions/files/files/absent.txt").status_code == 404
        assert client.get("/v1/sessions/never-used/files").json() == {"files": []}


def test_delete_stops_the_worker_and_removes_the_workspace(executor):
    with executor.client() as client:
        run(client, "doomed", "secret = 42\nopen('f.txt', 'w').write('x')")
        assert client.delete("/v1/sessions/doomed").status_code == 204
        assert client.get("/v1/sessions/doomed/files").json() == {"files": []}
        result = run(client, "doomed", "print(secret)")
        assert result["error"]["type"] == "NameError"
        assert client.delete("/v1/sessions/doomed").status_code == 204
        assert client.delete("/v1/sessions/never-existed").status_code == 204


def test_korean_and_binary_output(executor):
    with executor.client() as client:
        result = run(client, "unicode", "print('총 매출: 157,685,452원 ✓')")
        assert result["stdout"] == "총 매출: 157,685,452원 ✓\n"
        # Every byte value, control characters and NUL included, survives the trip as JSON text.
        binary = run(client, "unicode", "print(bytes(range(256)).decode('latin-1'), end='')")
        assert binary["status"] == "ok"
        assert binary["stdout"] == bytes(range(256)).decode("latin-1").replace("\r", "\r")
        shell = run(client, "unicode", "printf '\\xff\\xfe한글'", language="bash")
        assert shell["status"] == "ok"
        assert shell["stdout"].endswith("한글")
        chart = run(client, "unicode", "import base64; print(base64.b64encode(b'\\x00\\x01').decode())")
        assert base64.b64decode(chart["stdout"]) == b"\x00\x01"


def test_unknown_routes_and_methods_answer_json(executor):
    with executor.client() as client:
        missing = client.get("/v1/nothing")
        assert missing.status_code == 404
        assert missing.json()["error"]
        wrong = client.get("/v1/sessions/x/execute")
        assert wrong.status_code == 405
        assert wrong.json()["error"]


def test_session_ids_outside_the_contracts_rule_are_400(executor):
    # The one rule (deep_insight_contract.session) the agent and the ALB route use too.
    bad = ["-leading-dash", "a*b", "a%3Fb", "a%20b", "%EC%84%B8%EC%85%98", "x" * 257, "trailing-newline%0A"]
    with executor.client() as client:
        for sid in bad:
            for response in (
                client.post(f"/v1/sessions/{sid}/execute", json={"code": "1"}),
                client.delete(f"/v1/sessions/{sid}"),
            ):
                assert response.status_code == 400, (sid, response.text)
                assert "an ASCII letter or digit, then letters, digits" in response.json()["error"]
        assert run(client, "Session.Ok_1-" + "x" * 243, "print(1)")["stdout"] == "1\n"
