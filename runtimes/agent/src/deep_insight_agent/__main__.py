"""``deep-insight-agent``: the AgentCore container's server (0.0.0.0:8080, /ping, /invocations).

In AWS every setting comes from the environment the Pulumi program sets (SPEC §7). For development,
``--local-executor URL`` uses an executor started by hand; then only AWS_REGION and
DEEP_INSIGHT_MODEL_ID are required, and without DEEP_INSIGHT_ARTIFACT_BUCKET the artifacts stay in the
executor's workspace. Started so, every web page in the browser and every user of the machine can reach
it: it needs a token (--token-file, or --insecure-no-token on loopback only), answers only its own Host
names, takes only JSON bodies, and reads file:// inputs only under --data-dir.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import boto3
import uvicorn
from bedrock_agentcore.runtime.app import RequestContextFormatter
from deep_insight_contract.agents import AGENT_NAMES
from deep_insight_contract.environment import ExecutorEnv
from strands.models.bedrock import BedrockModel

from deep_insight_agent.app import create_app
from deep_insight_agent.bedrock import bedrock_model
from deep_insight_agent.config import (
    ALLOW_HOST_FLAG,
    DATA_DIR_FLAG,
    DEV_FLAGS,
    NO_TOKEN_FLAG,
    TOKEN_FLAG,
    ConfigError,
    DevServer,
    EcsSettings,
    Env,
)
from deep_insight_agent.dev_guard import DevGuard
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import EcsExecutorSession, ExecutorSession, Notify
from deep_insight_agent.reaper import orphan_age, reap
from deep_insight_agent.workflow import WorkflowDeps, run_job

log = logging.getLogger("deep_insight_agent.main")


def agent_models(raw: str) -> dict[str, str]:
    """DEEP_INSIGHT_AGENT_MODELS (agent.models): agent name -> model id; empty means every agent uses MODEL_ID."""
    if not raw.strip():
        return {}
    try:
        chosen = json.loads(raw)
    except json.JSONDecodeError:
        chosen = None
    if not isinstance(chosen, dict) or not all(isinstance(v, str) and v for v in chosen.values()):
        raise ConfigError(f"{Env.AGENT_MODELS} must be a JSON map of agent name to model id, not {raw[:80]!r}")
    unknown = sorted(set(chosen) - set(AGENT_NAMES))
    if unknown:
        raise ConfigError(f"{Env.AGENT_MODELS} names no agent {unknown}; the agents are {', '.join(AGENT_NAMES)}")
    return chosen


def build_deps(
    local_executor: str | None, executor_token: str | None, data_dirs: tuple[Path, ...] = ()
) -> WorkflowDeps:
    missing = [name for name in (Env.AWS_REGION, Env.MODEL_ID) if not os.environ.get(name)]
    if missing:
        raise ConfigError(f"missing environment: {', '.join(missing)}")
    region, model_id = os.environ[Env.AWS_REGION], os.environ[Env.MODEL_ID]
    chosen = agent_models(os.environ.get(Env.AGENT_MODELS, ""))

    def model_for(agent: str) -> BedrockModel:
        return bedrock_model(chosen.get(agent, model_id), region)

    if local_executor:

        @contextlib.asynccontextmanager
        async def open_local(session_id: str, report: Notify) -> AsyncIterator[ExecutorSession]:
            async with LocalExecutorSession(local_executor, session_id, executor_token, report) as session:
                yield session

        return WorkflowDeps(model_for, open_local, os.environ.get(Env.ARTIFACT_BUCKET) or None, data_dirs=data_dirs)

    settings = EcsSettings.from_env()
    ecs, elbv2 = boto3.client("ecs", region_name=region), boto3.client("elbv2", region_name=region)

    @contextlib.asynccontextmanager
    async def open_ecs(session_id: str, report: Notify) -> AsyncIterator[ExecutorSession]:
        # Each session start sweeps what crashed runtimes left behind, in a thread: its blocking AWS calls
        # must not stall /ping and the keepalives. A removal AWS refuses does not fail the job: it is
        # logged, and the next session start (or `deep-insight reap`) tries again.
        reaped = await asyncio.to_thread(
            reap, settings, ecs=ecs, elbv2=elbv2, older_than=orphan_age(settings), keep={session_id}
        )
        for failure in reaped.failures:
            log.warning(
                "reaper could not remove %s %s: %s: %s",
                failure.kind,
                failure.arn,
                failure.code,
                failure.message,
                extra={"session": session_id},
            )
        async with EcsExecutorSession(settings, session_id, ecs=ecs, elbv2=elbv2, report=report) as session:
            yield session

    return WorkflowDeps(model_for, open_ecs, settings.artifact_bucket)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="deep-insight-agent", description=__doc__)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (the image passes 0.0.0.0, which AgentCore needs)"
    )
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--local-executor", metavar="URL", help="use an executor started by hand at URL")
    parser.add_argument("--executor-token", help="bearer token of that executor (default: EXECUTOR_TOKEN)")
    local = parser.add_argument_group("with --local-executor (in AWS, AgentCore authenticates every request)")
    local.add_argument(
        TOKEN_FLAG,
        type=Path,
        metavar="FILE",
        help="every request but GET /ping must send 'Authorization: Bearer <the token in FILE>';"
        " a missing FILE is created holding a new random token (mode 0600)",
    )
    local.add_argument(NO_TOKEN_FLAG, action="store_true", help="take requests without a token (loopback only)")
    local.add_argument(
        ALLOW_HOST_FLAG,
        action="append",
        default=[],
        metavar="NAME[:PORT]",
        help="a Host header to answer besides 127.0.0.1, localhost and [::1] with the port (repeatable)",
    )
    local.add_argument(DATA_DIR_FLAG, type=Path, metavar="DIR", help="take file:// inputs from under DIR only")
    args = parser.parse_args(argv)
    # JSON lines carrying the AgentCore session id of the request (the SDK's own formatter).
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(RequestContextFormatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    try:
        dev = dev_server(args)
        deps = build_deps(
            args.local_executor,
            args.executor_token or os.environ.get(ExecutorEnv.TOKEN),
            (dev.data_dir,) if dev is not None and dev.data_dir is not None else (),
        )
    except ConfigError as error:
        print(f"deep-insight-agent: {error}", file=sys.stderr)
        raise SystemExit(2) from None

    async def job(invocation, session_id):  # type: ignore[no-untyped-def]
        async for event in run_job(invocation, session_id, deps):
            yield event

    app = create_app(job, artifact_bucket=deps.artifact_bucket, data_dirs=deps.data_dirs)
    # The SDK gives its logger a handler of its own, and the root handler above would print each line again.
    app.logger.handlers.clear()
    executor = f"the executor at {args.local_executor}" if args.local_executor else "an executor task per session"
    log.info("deep-insight-agent listening on http://%s:%d (%s)", args.host, args.port, executor)
    if dev is None:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75)
        return
    log.info(dev_summary(dev))
    uvicorn.run(DevGuard(app, dev), host=args.host, port=args.port, log_level="warning", timeout_keep_alive=75)


def dev_server(args: argparse.Namespace) -> DevServer | None:
    """What the locally started app enforces; None in AWS (no --local-executor), where AgentCore's data plane
    authenticates each request and is the only way in, and sets Host, Content-Type and Authorization itself."""
    if not args.local_executor:
        given = [flag for flag in DEV_FLAGS if getattr(args, flag.removeprefix("--").replace("-", "_"))]
        if given:
            raise ConfigError(f"{', '.join(given)} apply only with --local-executor URL (a server for development)")
        return None
    return DevServer.from_flags(
        host=args.host,
        port=args.port,
        token_file=args.token_file,
        insecure_no_token=args.insecure_no_token,
        allow_hosts=args.allow_host,
        data_dir=args.data_dir,
    )


def dev_summary(dev: DevServer) -> str:
    """One line for the developer: who may call, and which files it reads (never the token itself)."""
    who = (
        f"requests need 'Authorization: Bearer <the token in {dev.token_file}>'"
        if dev.token is not None
        else f"WITHOUT a token ({NO_TOKEN_FLAG}): any process on this machine can start jobs"
    )
    files = f"file:// inputs from under {dev.data_dir}" if dev.data_dir else f"no file:// inputs (see {DATA_DIR_FLAG})"
    return f"{who}; Host one of {', '.join(sorted(dev.hosts))}; {files}"


if __name__ == "__main__":
    main()
