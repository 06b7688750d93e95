"""CLI benchmark: how long `deep-insight --help`, `--version` and `plan --stack dev` take (not a test).

Runs the installed console script N times per command and prints wall and CPU time (median, max) against
the targets: `--help` under 0.5 s wall on an idle machine, `plan` of a stack under 4 s (it evaluates the
whole program; most of that is importing pulumi_aws, which must be installed compiled where Python does not
cache bytecode itself: `uv sync --compile-bytecode`; the cyclic garbage collector is paused while the program
evaluates and the objects are frozen at exit, which took `plan` from 4.2 s to 2.7-3.0 s here). Wall time includes the interpreter's start; on a
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

TARGETS = {("--help",): 0.5, ("--version",): 0.5, ("plan", "--help"): 0.5, ("plan", "--stack", "dev"): 4.0}


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
    print(f"{'command':<30} {'wall median':>12} {'wall max':>9} {'CPU median':>11}  target")
    for command, target in TARGETS.items():
        runs = [measure([script, *command]) for _ in range(args.runs)]
        wall = [w for w, _ in runs]
        cpu = statistics.median(c for _, c in runs)
        verdict = "ok" if statistics.median(wall) < target else "over"
        name = "deep-insight " + " ".join(command)
        print(f"{name:<30} {statistics.median(wall):>11.3f}s {max(wall):>8.3f}s {cpu:>10.3f}s  <{target:g} s {verdict}")


if __name__ == "__main__":
    main()
