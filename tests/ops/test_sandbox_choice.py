"""``deep-insight run`` and ``console --local`` where no sandbox can be made: one line, exit 2, nothing
started, unless ``--no-sandbox``. "No sandbox can be made" is real here: the commands run inside a
bubblewrap sandbox, which forbids the user namespaces a second one needs (``--disable-userns``)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from deep_insight_contract.environment import ExecutorEnv
from deep_insight_executor import sandbox

from ops.console import OpsError
from ops.evaluate import PROJECT_DIR
from ops.local import sandbox_choice

BWRAP = sandbox.find() if sys.platform.startswith("linux") else None
needs_bwrap = pytest.mark.skipif(BWRAP is None, reason="bubblewrap (Linux) is not installed")
COMMAND = Path(sys.executable).with_name("deep-insight")


@pytest.fixture
def folders() -> Iterator[tuple[Path, Path]]:
    top = Path(tempfile.mkdtemp(prefix="deep-insight-choice-"))
    (top / "private" / "tmp").mkdir(parents=True)
    (top / "workspace").mkdir()
    yield top / "workspace", top / "private"
    subprocess.run(["rm", "-rf", str(top)], check=True)


def in_a_sandbox(folders: tuple[Path, Path], *args: str) -> subprocess.CompletedProcess:
    """The installed command, run where user namespaces are refused."""
    assert BWRAP is not None
    workspace, private = folders
    line = sandbox.command(
        [str(COMMAND), *args],
        bwrap=BWRAP,
        workspace=workspace,
        private_dir=private,
        temp=private / "tmp",
        read_only=[PROJECT_DIR, *sandbox.python_paths(sys.executable)],
    )
    env = {"PATH": f"{COMMAND.parent}:/usr/bin:/bin", "HOME": str(workspace), "TMPDIR": str(private / "tmp")}
    return subprocess.run(line, env=env | {"COLUMNS": "400"}, capture_output=True, text=True, timeout=120, check=False)


@needs_bwrap
@pytest.mark.parametrize("command", [["run", "카테고리별 매출을 분석해줘"], ["console", "--local", "--no-browser"]])
def test_no_sandbox_here_is_one_line_and_nothing_starts(folders, command):
    refused = in_a_sandbox(folders, *command)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("error: no sandbox for the model's code on this machine: ")
    assert "pass --no-sandbox" in lines[0]
    assert refused.stdout == ""  # no session, no console address: nothing was started


@needs_bwrap
def test_where_a_sandbox_can_be_made_it_is_chosen(monkeypatch):
    monkeypatch.delenv(ExecutorEnv.SANDBOX, raising=False)
    assert sandbox_choice.choose(no_sandbox=False) == "bwrap"
    assert sandbox_choice.chosen() == "bwrap"  # no command decided: a sandbox, not the executor's default


def test_no_sandbox_is_kept_for_the_executor_and_said(monkeypatch, capsys):
    monkeypatch.delenv(ExecutorEnv.SANDBOX, raising=False)
    assert sandbox_choice.decide(no_sandbox=True) == "none"
    assert os.environ[ExecutorEnv.SANDBOX] == "none"
    assert sandbox_choice.chosen() == "none"
    assert "warning: --no-sandbox" in capsys.readouterr().err


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="only where Linux's namespaces are missing")
def test_elsewhere_the_choice_needs_no_sandbox():
    with pytest.raises(OpsError, match="pass --no-sandbox"):
        sandbox_choice.choose(no_sandbox=False)
