"""moto as a real HTTP server on 127.0.0.1, for tests that talk to AWS APIs over the network."""

from __future__ import annotations

import contextlib
import json
import socket
import urllib.request
from collections.abc import Iterator

from moto.server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A fresh moto server (every service, one fake account); yields its endpoint URL, stops it after."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def hold_ecs_tasks(endpoint: str) -> None:
    """Keep tasks RUNNING while a test looks at them: moto otherwise moves a task one state on at every
    DescribeTasks (RUNNING → DEACTIVATING → … → STOPPED)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/set-transition",
        data=json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 100000}}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=10).read()
