"""A session on an executor on this machine: checked on the way in, ended on the way out (a real executor)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.executor_session import ExecutorStartError

from tests.runtimes.conftest import TOKEN

SID = "local-session-0123456789abcdef0123456789"


@pytest.fixture(scope="module")
def executor(start_executor):
    return start_executor()


def sessions(url: str) -> int:
    return httpx.get(f"{url}/health", timeout=5).json()["sessions"]


def test_each_job_ends_its_session(executor):
    async def job(number: int) -> None:
        async with LocalExecutorSession(executor.url, f"{SID}-{number}", TOKEN) as session:
            async with ExecutorClient(session) as client:
                assert (await client.execute("x = 1")).status == "ok"
            assert sessions(executor.url) == 1

    for number in range(3):
        asyncio.run(job(number))
        assert sessions(executor.url) == 0


def test_an_unreachable_executor_is_named():
    async def enter() -> None:
        async with LocalExecutorSession("http://127.0.0.1:9/", SID, TOKEN):
            raise AssertionError("entered")

    with pytest.raises(ExecutorStartError, match=r"the executor at http://127\.0\.0\.1:9 is not reachable"):
        asyncio.run(enter())


def test_a_session_that_cannot_be_ended_is_reported_not_raised(executor):
    told: list[str] = []

    async def job() -> None:
        async with LocalExecutorSession(executor.url, SID, "wrong-token", told.append):
            pass

    asyncio.run(job())  # the executor refuses the DELETE: 401
    assert len(told) == 1
    assert told[0].startswith(f"executor session {SID} at {executor.url} was not ended")
