"""Every command has --help with an example; the console script is installed."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from ops.cli import app

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
