"""The agent's executor client reads the executor's answers into the contract's types: its own error types
become ErrorType members, a Python exception keeps its name, error bodies keep their fields. The answers
are SPEC §6's shapes written out here, served by httpx's mock transport."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from deep_insight_agent.executor_client import ExecutorClient, ExecutorError
from deep_insight_agent.executor_session import ExecutorSession
from deep_insight_contract.executor import CallStatus, ErrorType, FieldProblem, Language

SID = "client-session-0123456789abcdef0123456789"


def crashed(message: str) -> dict:
    return {"type": "WorkerCrashed", "message": message, "traceback": None}


def call(answer: httpx.Response, action, seen: list[httpx.Request] | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return answer

    async def run():
        session = ExecutorSession(SID, "http://executor.test", {})
        async with ExecutorClient(session, transport=httpx.MockTransport(handler)) as client:
            return await action(client)

    return asyncio.run(run())


def result_with(error: dict | None, status: str = "error") -> httpx.Response:
    body = {"status": status, "stdout": "", "stderr": "", "error": error, "durationMs": 5, "truncated": False}
    return httpx.Response(200, json=body)


@pytest.mark.parametrize(
    ("wire", "member"),
    [("WorkerCrashed", ErrorType.WORKER_CRASHED), ("Timeout", ErrorType.TIMEOUT), ("ExitCode", ErrorType.EXIT_CODE)],
)
def test_the_executors_own_error_types_become_the_contracts(wire, member):
    error = {"type": wire, "message": "m", "traceback": None}
    result = call(result_with(error), lambda client: client.execute("1"))
    assert result.status is CallStatus.ERROR
    assert result.error is not None
    assert result.error.type is member


def test_a_python_exception_stays_its_name():
    error = {"type": "KeyError", "message": "'x'", "traceback": "Traceback (most recent call last): ..."}
    result = call(result_with(error), lambda client: client.execute("{}['x']"))
    assert result.error is not None
    assert result.error.type == "KeyError"
    assert result.error.traceback.startswith("Traceback")


def test_the_request_carries_the_specs_field_names():
    seen: list[httpx.Request] = []
    call(result_with(None, "ok"), lambda client: client.execute("ls", language=Language.BASH, timeout_seconds=5), seen)
    assert seen[0].url.path == f"/v1/sessions/{SID}/execute"
    assert json.loads(seen[0].content) == {"code": "ls", "language": "bash", "timeoutSeconds": 5}


def test_a_422_keeps_the_fields_it_names():
    body = {
        "error": "invalid request body: timeout: unknown field; did you mean timeoutSeconds?",
        "fields": [{"field": "timeout", "problem": "unknown field; did you mean timeoutSeconds?"}],
    }
    with pytest.raises(ExecutorError) as raised:
        call(httpx.Response(422, json=body), lambda client: client.execute("1"))
    assert raised.value.status == 422
    assert raised.value.body is not None
    assert raised.value.body.fields == (FieldProblem("timeout", "unknown field; did you mean timeoutSeconds?"),)
    assert "did you mean timeoutSeconds" in str(raised.value)


def test_an_answer_that_is_not_the_executors_error_body_is_reported_as_text():
    with pytest.raises(ExecutorError) as raised:
        call(httpx.Response(502, text="<html>Bad Gateway</html>"), lambda client: client.list_files())
    assert raised.value.status == 502
    assert raised.value.body is None
    assert "Bad Gateway" in str(raised.value)
