"""Placeholder server: GET /health answers as SPEC §6 says; every other path says it is not built yet.

It exists so that the image, the task definition and the ALB health checks can be deployed and
exercised before issue 4 replaces this module with the real executor.
"""

from __future__ import annotations

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, {"status": "ok", "sessions": 0})
        else:
            self._reply(501, {"error": "this executor image is a placeholder; the API arrives with issue 4"})

    do_POST = do_PUT = do_DELETE = do_GET


def main() -> None:
    parser = argparse.ArgumentParser(prog="deep-insight-executor")
    parser.add_argument("--host", default=os.environ.get("EXECUTOR_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("EXECUTOR_PORT", "8080")))
    args = parser.parse_args()
    ThreadingHTTPServer((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
