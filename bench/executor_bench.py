"""Executor benchmark: prints a table of figures against their targets (TARGETS below; not a test).

Starts ``deep-insight-executor`` on 127.0.0.1 (from the current environment, or --executable), talks
to it over HTTP, and reports:
  * p50/p95/p99 latency of a trivial ``print(1)`` call on a warm session;
  * the first call of a new session (a cold worker), several times;
  * throughput with 4 sessions x 8 concurrent clients of trivial calls;
  * a pandas groupby on the reference CSV: data kept in session state vs re-read on every call;
  * the idle server's RSS (server process only, no workers);
  * the floor under all of it: the same trivial call to a bare Jupyter kernel (jupyter_client, no HTTP).

    uv run python bench/executor_bench.py [--executable PATH] [--calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil
from jupyter_client.manager import AsyncKernelManager

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "fresh-food-sales.csv"
TOKEN = "bench-token"
TARGETS = {
    "trivial call p50": ("ms", 10),
    "trivial call p99": ("ms", 50),
    "cold session (first call)": ("ms", 1500),
    "concurrent throughput": ("calls/s", 100),
    "idle server RSS": ("MB", 150),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def call(client: httpx.Client, sid: str, code: str) -> float:
    started = time.perf_counter()
    response = client.post(f"/v1/sessions/{sid}/execute", json={"code": code})
    elapsed = time.perf_counter() - started
    body = response.json()
    if response.status_code != 200 or body["status"] != "ok":
        raise RuntimeError(f"call failed: {response.status_code} {body}")
    return elapsed * 1000


def kernel_round_trips(calls: int) -> list[float]:
    """``print(1)`` to a bare kernel through jupyter_client, as the server drives it, without HTTP or limits."""

    async def measure() -> list[float]:
        folder = Path(tempfile.mkdtemp(prefix="kernel-bench-"))
        manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=str(folder / "kernel"))
        await manager.start_kernel(extra_arguments=["--HistoryManager.enabled=False"])
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            timings = []
            for _ in range(calls + 1):
                started = time.perf_counter()
                msg_id = client.execute("print(1)", store_history=False)
                while True:
                    message = await client.get_iopub_msg(timeout=10)
                    idle = message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
                    if idle and message["parent_header"].get("msg_id") == msg_id:
                        break
                await client.get_shell_msg(timeout=10)
                timings.append((time.perf_counter() - started) * 1000)
            return timings[1:]
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
            shutil.rmtree(folder, ignore_errors=True)

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--executable", default=shutil.which("deep-insight-executor"))
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    if not args.executable:
        sys.exit("executor_bench: deep-insight-executor not found; run with `uv run` or pass --executable")

    workdir = Path(tempfile.mkdtemp(prefix="executor-bench-"))
    workdir.chmod(0o755)
    port = free_port()
    env = {**os.environ, "EXECUTOR_TOKEN": TOKEN, "EXECUTOR_MAX_SESSIONS": "64"}
    server = subprocess.Popen(
        [
            args.executable,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workdir",
            str(workdir),
        ],
        env=env,
        stdout=subprocess.DEVNULL,  # its JSON log at INFO, as in AWS: one line per request
    )
    url = f"http://127.0.0.1:{port}"
    rows: list[tuple[str, float, str]] = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                sys.exit("executor_bench: the server did not start")
            time.sleep(0.1)
        time.sleep(2)  # let the font-cache warm-up finish
        rss_idle = psutil.Process(server.pid).memory_info().rss / 1024**2
        rows.append(("idle server RSS", rss_idle, "MB"))

        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
            time.sleep(4)  # the spare worker started at boot is ready: measure without its start-up
            call(client, "warm", "print(1)")
            trivial = [call(client, "warm", "print(1)") for _ in range(args.calls)]
            for q in (50, 95, 99):
                rows.append((f"trivial call p{q}", percentile(trivial, q), "ms"))

            client.put("/v1/sessions/pandas/files/sales.csv", content=DATA.read_bytes())
            call(client, "pandas", "import pandas as pd\nsales = pd.read_csv('sales.csv')")
            groupby = "sales.groupby('카테고리')['금액'].sum()"
            kept = [call(client, "pandas", groupby) for _ in range(30)]
            reread = [call(client, "pandas", f"sales = pd.read_csv('sales.csv')\n{groupby}") for _ in range(30)]
            rows.append(("groupby, data in session state (p50)", statistics.median(kept), "ms"))
            rows.append(("groupby, CSV re-read each call (p50)", statistics.median(reread), "ms"))

            # A new session adopts the worker the server keeps started for it; in AWS one task serves one
            # session, so its first call always finds that worker ready. Measured after a pause...
            cold = []
            for i in range(5):
                time.sleep(4)
                cold.append(call(client, f"cold-{i}", "print(1)"))
                client.delete(f"/v1/sessions/cold-{i}")
            rows.append(("cold session (first call)", statistics.median(cold), "ms"))
            rows.append(("cold session, slowest of 5", max(cold), "ms"))
            # ...and back to back, when the next new session arrives before a spare worker is ready.
            rushed = [call(client, f"rushed-{i}", "print(1)") for i in range(3)]
            for i in range(3):
                client.delete(f"/v1/sessions/rushed-{i}")
            rows.append(("new session, no spare worker ready (p50)", statistics.median(rushed), "ms"))
            time.sleep(4)  # let the spare started after the last one settle before the load test

        sessions, clients_per_session, calls_each = 4, 8, 25
        for i in range(sessions):
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                call(client, f"load-{i}", "print(1)")

        def hammer(sid: str) -> None:
            with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
                for _ in range(calls_each):
                    call(client, sid, "print(1)")

        threads = [
            threading.Thread(target=hammer, args=(f"load-{i % sessions}",))
            for i in range(sessions * clients_per_session)
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        rows.append(("concurrent throughput", len(threads) * calls_each / elapsed, "calls/s"))
        rows.append(("server RSS after the run", psutil.Process(server.pid).memory_info().rss / 1024**2, "MB"))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        shutil.rmtree(workdir, ignore_errors=True)

    rows.append(("bare kernel round trip p50 (no HTTP)", percentile(kernel_round_trips(args.calls), 50), "ms"))
    print(f"executor benchmark, {os.cpu_count()} cores, {args.calls} trivial calls, Python {sys.version.split()[0]}")
    print(f"{'measure':<42} {'value':>10}  {'unit':<8} {'target':<10} ok")
    for name, value, unit in rows:
        target = TARGETS.get(name)
        if target is None:
            verdict, shown = "", ""
        else:
            higher_is_better = unit == "calls/s"
            met = value >= target[1] if higher_is_better else value <= target[1]
            verdict, shown = ("yes" if met else "NO"), f"{'>=' if higher_is_better else '<='} {target[1]}"
        print(f"{name:<42} {value:>10.1f}  {unit:<8} {shown:<10} {verdict}")


if __name__ == "__main__":
    main()
