"""Every command has --help with an example; the console script is installed."""

from __future__ import annotations

import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib

import pytest
from typer.testing import CliRunner

from ops import zones
from ops.cli import app
from ops.console import BAD_INPUT, FAILED, INTERRUPTED
from ops.project import PROJECT_DIR
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


# --- start-up, version, help, one error style, exit codes (README, docs/operations.md) ---

HEAVY = ("pulumi", "pulumi_aws", "boto3", "botocore", "rich", "yaml", "deep_insight_agent", "policy")


def test_help_loads_neither_pulumi_nor_boto3():
    """`deep-insight --help` stays fast: the commands load Pulumi, boto3 and rich only when they run."""
    probe = (
        "import sys\n"
        "from ops.cli import app\n"
        "code = app(['--help'], standalone_mode=False)\n"
        f"print(code, sorted({{m.split('.')[0] for m in sys.modules}} & {set(HEAVY)!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "0 []"


def test_version_is_the_installed_package_version():
    expected = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"deep-insight {expected}\n"


def help_text(command: str, columns: int) -> str:
    """The help as a terminal of that width shows it (typer's CliRunner pins the width at 80)."""
    script = shutil.which("deep-insight") or "deep-insight"
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run([script, command, "--help"], capture_output=True, text=True, check=True, env=env).stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_wraps_to_the_terminal_and_flags_carry_no_type(command):
    text = help_text(command, 60)
    assert not [line for line in text.splitlines() if len(line) > 60]
    assert "<bool>" not in text
    assert "╭" not in text
    assert re.search(r"^\s+--help\s+Show this message and exit\.$", text, re.MULTILINE)


def test_help_is_as_wide_as_a_wide_terminal_allows():
    narrow, wide = help_text("verify", 60), help_text("verify", 200)
    assert len(wide.splitlines()) < len(narrow.splitlines())
    assert max(len(line) for line in wide.splitlines()) > 60


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["plan", "--stak", "dev"], "--stak"),
        (["verify"], "--stack"),
        (["invoke", "--stack", "dev"], "QUESTION"),
        (["invoke", "--stack", "dev", "q", "--language", "fr"], "fr"),
        (["plan", "--stack", "dev", "--jobs", "-1"], "--jobs"),
        (["reap", "--stack", "dev", "--all", "--older-than", "3"], "--older-than"),
        (["nope"], "nope"),
    ],
)
def test_a_usage_error_is_one_error_line_and_exit_2(args, named):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert named in lines[0]
    assert "Traceback" not in result.stderr


def test_a_usage_error_of_the_console_script_is_one_line():
    done = subprocess.run(
        [shutil.which("deep-insight") or "deep-insight", "verify"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "error: Missing option '--stack' / '-s' (see `deep-insight verify --help`)\n"


def test_ctrl_c_exits_130(monkeypatch):
    def interrupted(region):
        raise KeyboardInterrupt

    monkeypatch.setattr(zones, "account_zones", interrupted)
    result = runner.invoke(app, ["zones", "--region", "us-east-1"])
    assert result.exit_code == 130


def test_the_readme_lists_the_exit_codes_the_cli_uses():
    text = " ".join((PROJECT_DIR / "README.md").read_text(encoding="utf-8").split())
    listed = text.split("Exit codes: ", 1)[1].split(". ", 1)[0]
    codes = {int(m) for m in re.findall(r"(?:^|, )(\d+) ", listed)}
    assert codes == {0, FAILED, BAD_INPUT, INTERRUPTED}, listed
