"""Placeholder server: GET /ping answers as AgentCore expects; /invocations says it is not built yet.

It exists so that the image and the AgentCore runtime can be deployed before issue 5 replaces this
module with the real agent (bedrock-agentcore SDK app).
"""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STARTED = int(time.time())


class Handler(BaseHTTPRequestHandler):
    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/ping":
            self._reply(200, {"status": "Healthy", "time_of_last_update": STARTED})
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        self._reply(501, {"error": "this agent image is a placeholder; the workflow arrives with issue 5"})


def main() -> None:
    parser = argparse.ArgumentParser(prog="deep-insight-agent")
    parser.add_argument("--host", default="0.0.0.0")  # AgentCore requires 0.0.0.0:8080
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
