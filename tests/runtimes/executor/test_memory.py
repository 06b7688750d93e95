"""Memory limits on real memory: the smallest worker limit the program deploys (a 512 MB Fargate task gives
a 410 MB worker, components/cluster.py WORKER_MEMORY_SHARE) runs the reference job, and a memory bomb
of any size ends as WorkerCrashed naming the limit while the server and other sessions carry on. In both
of the server's modes: in the non-root one every worker is the server's own uid, and the watchdog must
still tell them apart."""

from __future__ import annotations

import pytest

from tests.runtimes.executor.conftest import DATA, SERVER_UID, Executor, StartExecutor, assert_alive, run, start_in_mode
from tests.runtimes.executor.test_venv import JOB

SMALLEST_WORKER_MB = "410"  # 80% of Fargate's smallest task, 512 MB
REFERENCE_TOTAL = "157685452"  # the 금액 column of ../shared/data/fresh-food-sales.csv


@pytest.fixture(scope="module")
def small(start_executor: StartExecutor, mode: str) -> Executor:
    return start_in_mode(start_executor, mode, EXECUTOR_MEMORY_LIMIT_MB=SMALLEST_WORKER_MB)


def test_the_analysis_stack_imports_at_the_smallest_limit(small):
    with small.client() as client:
        result = run(
            client, "imports", "import numpy, pandas, matplotlib, matplotlib.pyplot, scipy, seaborn\nprint('ok')"
        )
        assert result["status"] == "ok", result
        assert result["stdout"] == "ok\n"
        matrix = run(client, "imports", "import numpy as np\nprint(int((np.ones((500, 500)) @ np.ones(500)).sum()))")
        assert matrix["stdout"] == "250000\n", matrix  # 500 rows of 500 ones each


def test_reference_job_runs_at_the_smallest_limit(small):
    with small.client() as client:
        upload = client.put("/v1/sessions/reference/files/data/fresh-food-sales.csv", content=DATA.read_bytes())
        assert upload.status_code == 201, upload.text
        assert run(client, "reference", "import os; os.makedirs('charts', exist_ok=True)")["status"] == "ok"
        result = run(client, "reference", JOB)
        assert result["status"] == "ok", result
        assert result["stdout"].strip() == REFERENCE_TOTAL
        chart = client.get("/v1/sessions/reference/files/charts/sales_by_category.png")
        assert chart.status_code == 200
        assert chart.content.startswith(b"\x89PNG\r\n\x1a\n")


BOMBS = {
    "one-huge-allocation": "hog = bytearray(2 * 10**9)",  # zero-filled: every page is touched
    "touched-numpy": "import numpy as np\nhog = np.ones(10**9 // 8 * 3)",  # 3 GB of float64, written
    "growing-list": "chunks = []\nwhile True:\n    chunks.append(bytearray(16 * 1024**2))",
    "just-over": "hog = bytearray(420 * 1024**2)",  # a little more than the 410 MB limit, on top of the kernel
}


def assert_memory_crash(result: dict) -> None:
    assert result["status"] == "error", result
    assert result["error"]["type"] == "WorkerCrashed", result
    assert "memory limit" in result["error"]["message"], result
    assert f"{SMALLEST_WORKER_MB} MB" in result["error"]["message"], result


@pytest.mark.parametrize("bomb", BOMBS.values(), ids=BOMBS.keys())
def test_a_memory_bomb_is_a_worker_crash_naming_the_limit(small, mode, bomb):
    with small.client() as client:
        uid = run(client, "bomb", "import os; print(os.getuid())")["stdout"]
        assert (uid == f"{SERVER_UID}\n") == (mode == "non-root")  # non-root: the bomb is the server's uid
        assert run(client, "bystander", "kept = 41")["status"] == "ok"
        run(client, "bomb", "before = 1")
        assert_memory_crash(run(client, "bomb", bomb, timeoutSeconds=60))
        assert client.get("/health").status_code == 200
        assert run(client, "bomb", "print(before)")["error"]["type"] == "NameError"  # a fresh worker
        assert_alive(client, "bomb")
        assert run(client, "bystander", "print(kept + 1)")["stdout"] == "42\n"  # another session is untouched


def test_memory_that_stays_under_the_limit_is_fine(small):
    with small.client() as client:
        result = run(client, "under", "hog = bytearray(150 * 1024**2)\nprint(len(hog) // 1024**2)")
        assert result["status"] == "ok", result
        assert result["stdout"] == "150\n"
        assert run(client, "under", "print(len(hog) // 1024**2)")["stdout"] == "150\n"  # and it is kept


def test_blas_and_openmp_threads_match_the_tasks_cpus(small):
    code = (
        "import os\n"
        "names = ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_NUM_THREADS')\n"
        "print({os.environ[name] for name in names}, len(os.sched_getaffinity(0)))"
    )
    with small.client() as client:
        result = run(client, "threads", code)
        assert result["status"] == "ok", result
        threads, cpus = result["stdout"].split("} ")
        threads = threads.strip("{'")
        assert 1 <= int(threads) <= int(cpus)  # one value for all four, at most the CPUs the worker may use


def test_workers_are_the_out_of_memory_killers_first_choice(small):
    """If a bomb outruns the watchdog and the task runs out, the kernel kills a worker, not the server."""
    with small.client() as client:
        assert run(client, "oom", "print(open('/proc/self/oom_score_adj').read().strip())")["stdout"] == "1000\n"
        # The shell's own value ($$), a moment after its start: a non-root server can set it only once the
        # shell has exec'd (worker.py), so a process the shell forks in its first instant keeps 0.
        bash = run(client, "oom", "sleep 0.2; cat /proc/$$/oom_score_adj", language="bash")
        assert bash["stdout"] == "1000\n"


def test_a_sigkill_from_elsewhere_is_reported_as_possibly_the_oom_killer(small):
    with small.client() as client:
        result = run(client, "sigkill", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
        assert result["error"]["type"] == "WorkerCrashed", result
        assert "SIGKILL" in result["error"]["message"]
        assert "out-of-memory killer" in result["error"]["message"]
        assert "memory limit" not in result["error"]["message"]  # the watchdog did not do it
        assert_alive(client, "sigkill")
