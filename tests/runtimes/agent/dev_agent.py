"""The agent started for local development the way a developer starts it (``deep-insight-agent --local-executor
URL``, the project's own console script), on 127.0.0.1, and what its attack tests observe it with."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.moto_server import free_port

AGENT_SCRIPT = Path(sys.executable).parent / "deep-insight-agent"
SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
SESSION = "dev-mode-0123456789abcdef0123456789abcdef"


class Canary:
    """A port on 127.0.0.1 that counts the connections made to it: given to the agent as its executor, it
    tells whether a request started a job (a job's first step is to reach its executor)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._socket.close()


@contextlib.contextmanager
def silent_port() -> Iterator[str]:
    """A URL on 127.0.0.1 whose connections are queued by the kernel and never answered: the agent's Bedrock
    endpoint, so that a job which got past its inputs waits at its first model call (its session stays)."""
    with socket.create_server(("127.0.0.1", 0), backlog=64) as server:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def agent_env(bedrock_url: str = "http://127.0.0.1:9") -> dict[str, str]:
    """What a developer's shell gives the agent: a region, a model, and (fake) credentials for Bedrock."""
    return {
        "PATH": f"{AGENT_SCRIPT.parent}:/usr/bin:/bin",
        "AWS_REGION": "us-east-1",
        "DEEP_INSIGHT_MODEL_ID": "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "AWS_ACCESS_KEY_ID": "dev",
        "AWS_SECRET_ACCESS_KEY": "dev",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_ENDPOINT_URL": bedrock_url,
    }


@dataclass
class RunningAgent:
    process: subprocess.Popen
    port: int
    output: Path
    headers: dict[str, str] = field(default_factory=dict)
    """What each request sends besides its own headers (the bearer token)."""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.output.read_text(errors="replace")


@contextlib.contextmanager
def running_agent(folder: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[RunningAgent]:
    """``deep-insight-agent --port P ARGS`` until /ping answers; stopped (and killed if it must be) after."""
    port = free_port()
    output = folder / f"agent-{port}.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [str(AGENT_SCRIPT), "--port", str(port), *args],
            env=env or agent_env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    agent = RunningAgent(process, port, output)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the agent exited with {process.returncode}:\n{agent.log()}"
            try:
                httpx.get(f"{agent.url}/ping", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"the agent did not answer /ping within 60 s:\n{agent.log()}"
                time.sleep(0.2)
        yield agent
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:  # a model call stuck in a worker thread holds the interpreter's exit
            process.kill()
            process.wait()


def read_events(response: httpx.Response, *, until_phase: str | None = None) -> list[dict]:
    """The SSE events of an open response, up to its terminal event or a status event whose phase contains
    ``until_phase`` (after which the job goes on, but this reader stops)."""
    events: list[dict] = []
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[len("data: ") :])
        events.append(event)
        if event.get("type") in ("complete", "error"):
            break
        if until_phase and event.get("type") == "status" and until_phase in str(event.get("phase")):
            break
    return events
