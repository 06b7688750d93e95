"""Every command has --help with an example; the console script is installed."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading

import pytest
from typer.testing import CliRunner

from ops.cli import app
from ops.stack import aws_session

runner = CliRunner()
COMMANDS = ("plan", "zones", "verify", "invoke", "reap")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    assert f"Example: deep-insight {command}" in result.stdout


def test_top_level_help_lists_every_command():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.stdout


def test_console_script_runs_and_unknown_options_fail():
    script = shutil.which("deep-insight")
    assert script is not None, "the project's console script is not installed (uv sync)"
    done = subprocess.run([script, "plan", "--stak", "dev"], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--stak" in done.stderr


def test_an_endpoint_that_is_not_aws_is_one_line(monkeypatch):
    """A proxy or a wrong AWS_ENDPOINT_URL answers with something botocore cannot parse."""

    class NotAws(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = b"<html><body>captive portal"  # not XML: the tag is never closed
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotAws)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        aws_session.cache_clear()
        result = runner.invoke(app, ["zones", "--region", "us-east-1"])
    finally:
        server.shutdown()
        server.server_close()
        aws_session.cache_clear()
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: unexpected response (not an AWS API answer")
