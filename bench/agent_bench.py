"""Agent runtime benchmark: prints figures (not a test).

1. Runtime overhead per job: the reference job (four agents, scripted models: no LLM time) against a
   locally started executor; the time the runtime adds = job wall time − time spent running the
   job's code in the executor. Target ≤ 1 s.
2. Control-plane work per executor session against moto (ECS, ELBv2, EC2 on 127.0.0.1): AWS calls and
   wall time to start a session (task, target group, rule, health) and to clean it up.

3. What the models are sent per job, in tokens: model turns, input and output tokens, and the input billed
   with Bedrock's prompt cache against without it (``prompt_tokens.py`` models the cache). Twice: the
   reference job, and an exploring one whose coder first inspects the data, guesses a column name wrong
   and prints the whole table, as models do; that one is also run with the tool results as they were
   before ``tool_results.py`` (everything, cut at 8,000 characters). Tokens are counted with the Claude
   tokenizer that anthropic's Python SDK shipped up to 0.34 (its own note: an approximation for newer
   models); without it installed the figures are characters:

       uv run --with anthropic==0.34.2 --with tokenizers python bench/agent_bench.py

``--out DIR`` also writes the first job's artifacts (both PDFs, both DOCX, the Markdown report, the
chart, the JSON) to DIR, for a person to open.

    uv run python bench/agent_bench.py [--jobs 3] [--sessions 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import boto3
import httpx
import pandas as pd
from deep_insight_agent import tools
from deep_insight_agent.config import EcsSettings
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import EcsExecutorSession, Notify
from deep_insight_agent.payload import Invocation
from deep_insight_agent.scripted import Prompt, ScriptedModel
from deep_insight_agent.workflow import WorkflowDeps, run_job
from deep_insight_contract.executor import ExecuteResult
from deep_insight_contract.target_group import SessionTargetGroupTemplate

REPO = Path(__file__).resolve().parent.parent
DATA = REPO.parent / "shared" / "data" / "fresh-food-sales.csv"
sys.path.insert(0, str(REPO))
from bench.prompt_tokens import Tally, tally  # noqa: E402
from tests.moto_server import free_port, hold_ecs_tasks, moto_server  # noqa: E402
from tests.runtimes.agent.test_workflow import scripts  # noqa: E402  (the reference job's scripted turns)

EXPLORING = [
    "import pandas as pd\nsales = pd.read_csv('data/fresh-food-sales.csv')\nsales.info()\nprint(sales.head(20))\n"
    "print(sales.describe())",
    "print(sales['매출'].sum())",  # a wrong guess at the column's name: a KeyError
    "print(sales.to_string())",  # the whole table
]
"""What the exploring job's coder runs before the reference job's code."""

TOKEN = "bench-token"


def start_executor(workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [shutil.which("deep-insight-executor") or "deep-insight-executor", "--port", str(port), "--workdir", str(workdir),
         "--log-level", "WARNING"],
        env={**os.environ, "EXECUTOR_TOKEN": TOKEN},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                time.sleep(3)  # let the spare kernel start, as it would between jobs
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    sys.exit("agent_bench: the executor did not start")


def untrimmed(result: ExecuteResult) -> str:
    """A tool result as the runtime made it before tool_results.py: everything, cut at 8,000 characters."""
    parts = [f"status: {result.status}"]
    if result.stdout:
        parts.append(f"stdout:\n{result.stdout}")
    if result.stderr:
        parts.append(f"stderr:\n{result.stderr}")
    if result.error is not None:
        parts.append(f"error: {result.error.type}: {result.error.message}\n{result.error.traceback or ''}")
    return "\n".join(parts)[:8000]


def job_scripts(exploring: bool) -> dict[str, list[dict]]:
    turns = scripts(list(pd.read_csv(DATA)["카테고리"].unique()))
    if exploring:
        turns["coder"] = [{"tools": [{"name": "python", "input": {"code": c}}]} for c in EXPLORING] + turns["coder"]
    return turns


async def one_job(
    url: str,
    session_id: str,
    code_ms: list[float],
    sent: list[Prompt],
    out: Path | None = None,
    *,
    exploring: bool = False,
) -> float:
    models = {name: ScriptedModel(turns) for name, turns in job_scripts(exploring).items()}

    @asynccontextmanager
    async def open_executor(sid: str, report: Notify):
        async with LocalExecutorSession(url, sid, TOKEN) as session:
            async with ExecutorClient(session) as client:
                await client.put_file("data/fresh-food-sales.csv", DATA.read_bytes())
            yield session
            if out is not None:  # the job is done; the session (and its workspace) not yet
                async with ExecutorClient(session) as client:
                    for entry in await client.list_files():
                        if entry.path.startswith("artifacts/"):
                            target = out / entry.path.removeprefix("artifacts/")
                            target.parent.mkdir(parents=True, exist_ok=True)
                            target.write_bytes(await client.get_file(entry.path))

    original = ExecutorClient.execute

    async def timed(self, code, **kwargs):  # type: ignore[no-untyped-def]
        result = await original(self, code, **kwargs)
        code_ms.append(result.duration_ms)
        return result

    ExecutorClient.execute = timed  # type: ignore[method-assign]
    try:
        deps = WorkflowDeps(model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=None)
        started = time.perf_counter()
        events = [e async for e in run_job(Invocation("카테고리별 매출을 분석해줘", (), "ko"), session_id, deps)]
        elapsed = time.perf_counter() - started
    finally:
        ExecutorClient.execute = original  # type: ignore[method-assign]
    if events[-1]["type"] != "complete":
        sys.exit(f"agent_bench: the job failed: {events[-1]}")
    sent += [prompt for model in models.values() for prompt in model.prompts]
    return elapsed


def token_counter() -> tuple[Callable[[str], int], str]:
    try:  # not a dependency of the project: `uv run --with anthropic==0.34.2 --with tokenizers`
        tokenizers = importlib.import_module("anthropic._tokenizers")
    except ImportError:
        return len, "chars"
    tokenizer = tokenizers.sync_get_tokenizer()
    return (lambda text: len(tokenizer.encode(text).ids)), "tokens"


def token_rows(label: str, before: Tally, after: Tally, unit: str) -> list[tuple[str, float, str, str]]:
    return [
        (f"{label}: model turns", after.turns, "turns", ""),
        (f"{label}: input sent", after.input_tokens, unit, f"before: {before.input_tokens:,}"),
        (f"{label}: output", after.output_tokens, unit, ""),
        (f"{label}: cache read / written", after.cache_read, unit, f"written: {after.cache_write:,}"),
        (
            f"{label}: input billed (input-token equivalents)",
            after.billed_input,
            unit,
            f"before: {before.billed_input:,.0f}",
        ),
    ]


@contextmanager
def patched_summary(summary: Callable[[ExecuteResult], str]) -> Iterator[None]:
    original = tools.summarize
    tools.summarize = summary
    try:
        yield
    finally:
        tools.summarize = original


def control_plane(sessions: int) -> tuple[list[int], list[float], list[float]]:
    with moto_server() as url:
        hold_ecs_tasks(url)
        kwargs = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": "t",
            "aws_secret_access_key": "t",
        }
        ec2, ecs, elbv2 = (boto3.client(n, **kwargs) for n in ("ec2", "ecs", "elbv2"))
        vpc = ec2.create_vpc(CidrBlock="10.100.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=c, AvailabilityZone=z)["Subnet"]["SubnetId"]
                   for c, z in (("10.100.0.0/18", "us-east-1b"), ("10.100.64.0/18", "us-east-1c"))]  # fmt: skip
        group = ec2.create_security_group(GroupName="x", Description="x", VpcId=vpc)["GroupId"]
        cluster = ecs.create_cluster(clusterName="bench")["cluster"]["clusterArn"]
        task = ecs.register_task_definition(
            family="bench-executor", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
            containerDefinitions=[{"name": "executor", "image": "x", "memory": 2048}],
        )["taskDefinition"]["taskDefinitionArn"]  # fmt: skip
        alb = elbv2.create_load_balancer(Name="alb", Subnets=subnets, SecurityGroups=[group], Scheme="internal")
        listener = elbv2.create_listener(
            LoadBalancerArn=alb["LoadBalancers"][0]["LoadBalancerArn"], Protocol="HTTP", Port=80,
            DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
        )["Listeners"][0]["ListenerArn"]  # fmt: skip
        settings = EcsSettings(
            region="us-east-1", stack="bench", cluster_arn=cluster, task_definition_arn=task, container="executor",
            subnet_ids=tuple(subnets), security_group_id=group, vpc_id=vpc, listener_arn=listener,
            alb_dns=alb["LoadBalancers"][0]["DNSName"], max_sessions=20,
            target_group=SessionTargetGroupTemplate(name_prefix="di-bench-"),
            executor_session_timeout_seconds=3600, artifact_bucket="b",
        )  # fmt: skip
        calls, starts, cleanups = [], [], []
        for i in range(sessions):
            backend = EcsExecutorSession(settings, f"bench-session-{i:04d}-0123456789abcdef012", ecs=ecs, elbv2=elbv2)

            async def measure(backend: EcsExecutorSession = backend) -> tuple[float, float]:
                t0 = time.perf_counter()
                await backend.__aenter__()
                t1 = time.perf_counter()
                await backend.__aexit__(None, None, None)
                return t1 - t0, time.perf_counter() - t1

            start, cleanup = asyncio.run(measure())
            calls.append(len(backend.calls))
            starts.append(start)
            cleanups.append(cleanup)
        return calls, starts, cleanups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write the first job's artifacts here")
    args = parser.parse_args()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="agent-bench-"))
    workdir.chmod(0o755)
    executor, url = start_executor(workdir)
    rows = []
    try:
        totals, overheads = [], []
        reference: list[Prompt] = []
        for i in range(args.jobs):
            code_ms: list[float] = []
            out = args.out if i == 0 else None
            sent: list[Prompt] = []
            total = asyncio.run(one_job(url, f"bench-job-{i:03d}-0123456789abcdef0123456", code_ms, sent, out))
            reference = sent
            totals.append(total)
            overheads.append(total - sum(code_ms) / 1000)
            time.sleep(3)  # the next job's spare kernel
        rows.append(("job wall time (reference job, scripted models)", statistics.median(totals), "s", ""))
        rows.append(("runtime overhead per job (wall − code in executor)", statistics.median(overheads), "s", "<= 1"))
        trimmed: list[Prompt] = []
        asyncio.run(one_job(url, "bench-explore-0123456789abcdef0123456789", [], trimmed, exploring=True))
        time.sleep(3)
        as_before: list[Prompt] = []
        with patched_summary(untrimmed):
            asyncio.run(one_job(url, "bench-explore-before-0123456789abcdef012", [], as_before, exploring=True))
        count, unit = token_counter()
        rows += token_rows(
            "reference job", tally(reference, count, cached=False), tally(reference, count, cached=True), unit
        )
        rows += token_rows(
            "exploring job", tally(as_before, count, cached=False), tally(trimmed, count, cached=True), unit
        )
    finally:
        executor.send_signal(signal.SIGTERM)
        executor.wait(60)
        shutil.rmtree(workdir, ignore_errors=True)
    calls, starts, cleanups = control_plane(args.sessions)
    rows.append(("AWS calls per executor session (start + cleanup)", statistics.median(calls), "calls", ""))
    rows.append(("session start, control plane only (moto)", statistics.median(starts) * 1000, "ms", ""))
    rows.append(("session cleanup, control plane only (moto)", statistics.median(cleanups) * 1000, "ms", ""))
    print(f"agent benchmark, {os.cpu_count()} cores, {args.jobs} jobs, {args.sessions} sessions")
    if args.out is not None:
        print(f"artifacts of the first job: {args.out} ({', '.join(sorted(p.name for p in args.out.iterdir()))})")
    print(f"{'measure':<58} {'value':>11}  {'unit':<6} target / before")
    for name, value, unit, target in rows:
        shown = f"{value:>11,.0f}" if value >= 100 else f"{value:>11.2f}"
        print(f"{name:<58} {shown}  {unit:<6} {target}")


if __name__ == "__main__":
    main()
