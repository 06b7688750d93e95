"""``deep-insight-executor``: serve the executor API with uvicorn (options also from the environment)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import uvicorn
from deep_insight_contract.environment import ExecutorEnv
from deep_insight_contract.loopback import is_loopback

from deep_insight_executor import logs, sandbox
from deep_insight_executor.app import create_app
from deep_insight_executor.config import ConfigError, ExecutorConfig
from deep_insight_executor.hardening import forbid_inspection
from deep_insight_executor.processes import KEEPER
from deep_insight_executor.sandbox_filter import protect_server
from deep_insight_executor.writable import EXIT_UNWRITABLE, developer_workdir

GRACEFUL_SHUTDOWN_SECONDS = 10


class _Server(uvicorn.Server):
    """uvicorn, except that SIGTERM/SIGINT end in exit status 0 after the graceful shutdown.

    (uvicorn re-raises the captured signal once it has shut down, so the process would die of it:
    ECS would record exit 143 for every normal stop.)
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="deep-insight-executor",
        description="Deep Insight code executor (SPEC §6). Settings come from EXECUTOR_* and SESSION_ID "
        "environment variables; --host and --port override theirs.",
    )
    parser.add_argument("--host", help="address to listen on (EXECUTOR_HOST, default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (EXECUTOR_PORT, default 8080)")
    parser.add_argument("--workdir", help="where session workspaces live (EXECUTOR_WORKDIR)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument(
        "--insecure-no-token",
        action="store_true",
        help="serve without a token (127.0.0.1 only): any local process, and any web page through it, may run code",
    )
    args = parser.parse_args(argv)
    try:
        config = ExecutorConfig.from_env().with_overrides(
            host=args.host, port=args.port, workdir=Path(args.workdir) if args.workdir else None
        )
        _check_token(config, insecure_no_token=args.insecure_no_token)
    except ConfigError as error:
        print(f"deep-insight-executor: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure(args.log_level, config.session_id)
    # Orphans of workers (a daemon that forked away from its worker's tree) come back to the server, which
    # kills them, instead of living on under PID 1 (processes.py).
    if not KEEPER.enable() and sys.platform.startswith("linux"):
        logging.getLogger("deep_insight_executor").warning(
            "prctl(PR_SET_CHILD_SUBREAPER) did not take effect: a process user code detaches may outlive its call"
        )
    # Before any request: code of the server's uid must not read its environment (the token) from /proc.
    if not forbid_inspection() and sys.platform.startswith("linux"):
        logging.getLogger("deep_insight_executor").warning("prctl(PR_SET_DUMPABLE, 0) did not take effect")
    # Before any worker: user code must not signal the server, its process group or PID 1 (sandbox_filter.py).
    problem = protect_server()
    if problem is not None and sys.platform.startswith("linux"):
        logging.getLogger("deep_insight_executor").warning(
            "user code can signal the server (no seccomp signal filter): %s", problem
        )

    server: _Server | None = None

    def request_exit() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(config, request_exit)
    # Before listening: a folder we cannot write would make every call fail; better to stop at once
    # (the ECS task stops, the agent reports it) with one line that says what to fix.
    problem = app.state.executor.sessions.unwritable()
    chosen = bool(args.workdir or os.environ.get(ExecutorEnv.WORKDIR))
    if problem is not None and problem.folder.setting == ExecutorEnv.WORKDIR and not chosen:
        # A developer's first start as a non-root user: /workspace is the image's folder, not theirs. The
        # task definition always sets EXECUTOR_WORKDIR, so a deployed executor never moves silently.
        config = config.with_overrides(workdir=developer_workdir())
        app = create_app(config, request_exit)
        problem = app.state.executor.sessions.unwritable()
        if problem is None:
            logging.getLogger("deep_insight_executor").warning(
                f"{ExecutorEnv.WORKDIR} is not set and {ExecutorConfig.workdir} is not writable by uid "
                f"{os.getuid()}: sessions go to {config.workdir} (set {ExecutorEnv.WORKDIR} or --workdir to choose)",
                extra={"event": "workdir", "path": str(config.workdir)},
            )
    if config.sandbox == "bwrap":
        # Asked for, a sandbox is a promise: no worker may start without one.
        why = sandbox.problem(app.state.executor.sessions.sandbox)
        if why is not None:
            logging.getLogger("deep_insight_executor").error(
                f"{ExecutorEnv.SANDBOX}=bwrap, but no sandbox can be made: {why}", extra={"event": "no_sandbox"}
            )
            raise SystemExit(2)
    too_long = app.state.executor.sessions.socket_path_problem()
    if too_long is not None:
        logging.getLogger("deep_insight_executor").error(
            too_long, extra={"event": "workdir_too_long", "path": str(config.workdir)}
        )
        raise SystemExit(2)
    if problem is not None:
        logging.getLogger("deep_insight_executor").error(
            problem.message(),
            extra={"event": "unwritable", "path": str(problem.folder.path), "uid": problem.uid},
        )
        raise SystemExit(EXIT_UNWRITABLE)
    if os.geteuid() != 0 and config.session_id is None and config.max_sessions > 1:
        logging.getLogger("deep_insight_executor").warning(
            f"running as uid {os.geteuid()}, not root: every session's code runs as this uid and can read the other "
            f"sessions' files; serve one session per executor ({ExecutorEnv.SESSION_ID}), as the deployed tasks "
            "do, or start the server as root for a uid per session"
        )
    server = _Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_config=None,
            # The stock asyncio loop: uvloop's subprocess handling left a timed-out shell command hanging.
            loop="asyncio",
            access_log=False,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
            # The ALB's idle timeout is 960 s; keep connections longer so the ALB closes them first.
            timeout_keep_alive=965,
        )
    )
    server.run()  # SIGTERM/SIGINT: stop accepting, finish or cancel calls, stop workers, exit 0


def _check_token(config: ExecutorConfig, *, insecure_no_token: bool) -> None:
    """A token, or a deliberate --insecure-no-token on loopback: without one, anything that can reach the
    port runs code (another user's process, or a web page through DNS rebinding or a form POST)."""
    if insecure_no_token and config.token_sha256 is not None:
        raise ConfigError("--insecure-no-token was given, and a token too; drop one")
    if insecure_no_token and not is_loopback(config.host):
        raise ConfigError(
            f"--insecure-no-token serves on 127.0.0.1 only, not on {config.host}; give a token "
            f"({ExecutorEnv.TOKEN_FILE}, {ExecutorEnv.TOKEN_SHA256} or {ExecutorEnv.TOKEN}) to listen there"
        )
    if config.token_sha256 is None and not insecure_no_token:
        raise ConfigError(
            f"no token: set {ExecutorEnv.TOKEN_FILE} (a file holding it, removed at start), "
            f"{ExecutorEnv.TOKEN_SHA256} (its SHA-256 in hex) or {ExecutorEnv.TOKEN}; or, on 127.0.0.1 only, "
            "pass --insecure-no-token"
        )


if __name__ == "__main__":
    main()
