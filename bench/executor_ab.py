"""Side-by-side executor comparison: prints trivial-call latency per variant (figures, not a test).

A machine's speed drifts between runs by more than most changes are worth, so this starts one server per
variant at once and alternates calls between them in a shuffled order: drift hits every variant alike.
A variant is a folder holding a (changed) copy of the ``deep_insight_executor`` package, put first on
``PYTHONPATH``, optionally followed by ``:LEVEL`` for the server's log level (default INFO).

    cp -r runtimes/executor/src/deep_insight_executor /tmp/a/   # and a changed copy in /tmp/b/
    /tmp/bench/bin/python bench/executor_ab.py --python /tmp/bench/bin/python /tmp/a /tmp/b
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx

TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(client: httpx.Client) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit(f"executor_ab: the server at {client.base_url} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="interpreter with the executor's dependencies")
    parser.add_argument("--calls", type=int, default=600, help="trivial calls per variant")
    parser.add_argument("variants", nargs="+", metavar="FOLDER[:LEVEL]")
    args = parser.parse_args()

    servers: list[subprocess.Popen] = []
    clients: list[httpx.Client] = []
    workdirs: list[str] = []
    try:
        for variant in args.variants:
            folder, _, level = variant.partition(":")
            workdir = tempfile.mkdtemp(prefix="executor-ab-")
            os.chmod(workdir, 0o755)
            workdirs.append(workdir)
            port = free_port()
            env = {**os.environ, "EXECUTOR_TOKEN": TOKEN, "PYTHONPATH": folder}
            command = [args.python, "-m", "deep_insight_executor", "--host", "127.0.0.1", "--port", str(port)]
            command += ["--workdir", workdir, "--log-level", level or "INFO"]
            servers.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL))
            headers = {"Authorization": f"Bearer {TOKEN}"}
            clients.append(httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60))
        for client in clients:
            wait_healthy(client)
        time.sleep(6)  # the spare kernels started at boot are ready
        for client in clients:
            for _ in range(20):  # warm: the session's kernel adopted, caches filled
                client.post("/v1/sessions/ab/execute", json={"code": "print(1)"})
        timings: list[list[float]] = [[] for _ in clients]
        for _ in range(args.calls):
            order = list(range(len(clients)))
            random.shuffle(order)
            for index in order:
                started = time.perf_counter()
                response = clients[index].post("/v1/sessions/ab/execute", json={"code": "print(1)"})
                timings[index].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200 or response.json()["status"] != "ok":
                    sys.exit(f"executor_ab: {args.variants[index]}: {response.status_code} {response.text}")
        width = max(len(variant) for variant in args.variants)
        for variant, values in zip(args.variants, timings, strict=True):
            ordered = sorted(values)
            p90, p99 = ordered[int(len(ordered) * 0.9)], ordered[int(len(ordered) * 0.99)]
            print(f"{variant:{width}}  p50 {statistics.median(ordered):6.2f}  p90 {p90:6.2f}  p99 {p99:6.2f} ms")
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            server.wait(60)
        for workdir in workdirs:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
