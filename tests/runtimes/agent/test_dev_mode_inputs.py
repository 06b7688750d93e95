"""file:// inputs of the agent app started for local development: a payload naming a file outside the data
folder (a root-only file, /etc/shadow) must not bring it into the session's workspace. The agent is the
real process against a real executor; its Bedrock endpoint never answers, so a job that got past its
inputs waits at its first model call with its session (and its ``data/``) still in place."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.runtimes.agent.dev_agent import SESSION_HEADER, agent_env, read_events, running_agent, silent_port
from tests.runtimes.conftest import TOKEN


@pytest.fixture(scope="module")
def executor(start_executor):
    return start_executor()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def agent(tmp_path, executor, data_dir):
    token = tmp_path / "agent-token"  # missing: the agent writes a new token there
    args = ("--local-executor", executor.url, "--executor-token", TOKEN, "--token-file", str(token))
    with (
        silent_port() as bedrock,
        running_agent(tmp_path, *args, "--data-dir", str(data_dir), env=agent_env(bedrock)) as running,
    ):
        running.headers = {"Authorization": f"Bearer {token.read_text().strip()}"}
        yield running


def copies_of(content: bytes, workdir: Path) -> list[Path]:
    """Every file under the executor's workdir (all sessions' workspaces) holding exactly ``content``."""
    return [
        path for path in workdir.rglob("*") if path.is_file() and not path.is_symlink() and path.read_bytes() == content
    ]


def invoke(agent, data: list[str], session: str) -> list[dict]:
    with httpx.stream(
        "POST",
        f"{agent.url}/invocations",
        json={"prompt": "총 매출은?", "data": data},
        headers={**agent.headers, SESSION_HEADER: session},
        timeout=60,
    ) as response:
        assert response.status_code == 200, response.read()
        return read_events(response, until_phase="input file(s) in data/")


@pytest.fixture
def root_only(tmp_path) -> Path:
    secret = tmp_path / "outside" / "credentials.csv"
    secret.parent.mkdir()
    secret.write_bytes(b"aws_secret_access_key," + os.urandom(16).hex().encode() + b"\n")
    secret.chmod(0o400)
    return secret


def refused(events: list[dict]) -> str:
    """The message of a job refused before it reached its executor: one error event, one line."""
    assert [event["type"] for event in events] == ["error"], events
    assert "\n" not in events[0]["message"]
    return events[0]["message"]


def test_a_root_only_file_outside_the_data_folder_is_not_copied(agent, executor, root_only, data_dir):
    events = invoke(agent, [root_only.as_uri()], "dev-inputs-root-only-0123456789abcdef0123")
    assert copies_of(root_only.read_bytes(), executor.workdir) == []
    assert refused(events) == (
        f"data entry {root_only.as_uri()!r} is outside the data folder {data_dir}; put the file there,"
        " or start the agent with --data-dir naming its folder"
    )


@pytest.mark.skipif(not os.access("/etc/shadow", os.R_OK), reason="/etc/shadow is not readable here")
def test_etc_shadow_is_not_copied(agent, executor, data_dir):
    events = invoke(agent, ["file:///etc/shadow"], "dev-inputs-etc-shadow-0123456789abcdef0123")
    assert copies_of(Path("/etc/shadow").read_bytes(), executor.workdir) == []
    assert "is outside the data folder" in refused(events)


def test_links_and_dot_dots_do_not_lead_out_of_the_data_folder(agent, executor, root_only, data_dir):
    (data_dir / "sales.csv").symlink_to(root_only)
    (data_dir / "outside").symlink_to(root_only.parent, target_is_directory=True)
    tries = {
        "link": (data_dir / "sales.csv").as_uri(),
        "linked folder": (data_dir / "outside" / root_only.name).as_uri(),
        "dot-dot": f"file://{data_dir}/../outside/{root_only.name}",
        "encoded dot-dot": f"file://{data_dir}/%2e%2e/outside/{root_only.name}",
    }
    messages = {}
    for number, (name, uri) in enumerate(tries.items()):
        events = invoke(agent, [uri], f"dev-inputs-escape-{number}-0123456789abcdef0123456789")
        assert events[-1]["type"] == "error", (name, events)
        assert "\n" not in events[-1]["message"]
        messages[name] = events[-1]["message"]
    assert copies_of(root_only.read_bytes(), executor.workdir) == []
    assert "is a symbolic link, and links under the data folder" in messages["link"]
    assert "is a symbolic link or not a folder" in messages["linked folder"]
    assert "names its file through '..'" in messages["dot-dot"]
    assert "names its file through '..'" in messages["encoded dot-dot"]


def test_a_file_in_the_data_folder_arrives_in_the_sessions_data(agent, executor, data_dir):
    content = b"category,amount\n" + os.urandom(8).hex().encode() + b",1\n"
    (data_dir / "nested").mkdir()
    (data_dir / "nested" / "sales.csv").write_bytes(content)
    events = invoke(agent, [(data_dir / "nested" / "sales.csv").as_uri()], "dev-inputs-inside-0123456789abcdef0123")
    assert events[-1] == events[-1] | {"type": "status", "phase": "1 input file(s) in data/"}
    assert [path.relative_to(path.parents[1]) for path in copies_of(content, executor.workdir)] == [
        Path("data/sales.csv")
    ]
