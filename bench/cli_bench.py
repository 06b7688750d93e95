"""CLI start-up benchmark: how long `deep-insight --help` and `--version` take (not a test).

Runs the installed console script N times per command and prints wall and CPU time (median, max) against
the target: `--help` under 0.5 s wall on an idle machine. Wall time includes the interpreter's start; on a
busy machine it grows with the load, CPU time does not.

    uv run python bench/cli_bench.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

TARGET_SECONDS = 0.5


def measure(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    script = shutil.which("deep-insight") or sys.exit("deep-insight is not installed here; run `uv sync` first")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; {args.runs} runs each")
    print(f"{'command':<24} {'wall median':>12} {'wall max':>9} {'CPU median':>11}  target")
    for command in (["--help"], ["--version"], ["plan", "--help"]):
        runs = [measure([script, *command]) for _ in range(args.runs)]
        wall = [w for w, _ in runs]
        cpu = statistics.median(c for _, c in runs)
        verdict = "ok" if statistics.median(wall) < TARGET_SECONDS else "over"
        name = "deep-insight " + " ".join(command)
        print(
            f"{name:<24} {statistics.median(wall):>11.3f}s {max(wall):>8.3f}s {cpu:>10.3f}s  <{TARGET_SECONDS} s {verdict}"
        )


if __name__ == "__main__":
    main()
