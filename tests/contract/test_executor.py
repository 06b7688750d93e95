"""The executor's request and answer types against SPEC §6's literals: what a body may carry, what an answer
looks like on the wire, and that every problem of a body is named at once."""

from __future__ import annotations

import pytest
from deep_insight_contract.executor import (
    MAX_SYNC_FILES,
    CallError,
    CallStatus,
    ErrorBody,
    ErrorType,
    ExecuteRequest,
    ExecuteResult,
    FieldProblem,
    InvalidBody,
    Language,
    SyncDirection,
    SyncRequest,
    Transfer,
)

# SPEC §6, as a person reads it there.
SPEC_RESULT = {
    "status": "error",
    "stdout": "a\n",
    "stderr": "",
    "error": {"type": "WorkerCrashed", "message": "the worker died", "traceback": None},
    "durationMs": 12,
    "truncated": False,
}


def problems(body: dict, kind: type = ExecuteRequest) -> dict[str, str]:
    with pytest.raises(InvalidBody) as raised:
        kind.from_json(body)
    return {p.field: p.problem for p in raised.value.problems}


def test_the_wire_names_are_the_specs():
    assert {str(s) for s in CallStatus} == {"ok", "error", "timeout"}
    assert {str(lang) for lang in Language} == {"python", "bash"}
    assert {str(d) for d in SyncDirection} == {"download", "upload"}
    assert {"WorkerCrashed", "Timeout"} <= {str(t) for t in ErrorType}


def test_a_result_reads_and_writes_the_specs_shape():
    result = ExecuteResult.from_json(SPEC_RESULT)
    assert result.status is CallStatus.ERROR
    assert result.error is not None
    assert result.error.type is ErrorType.WORKER_CRASHED
    assert result.to_json() == SPEC_RESULT


def test_a_python_exception_keeps_its_own_name():
    error = CallError.from_json({"type": "KeyError", "message": "'x'", "traceback": "Traceback ..."})
    assert error.type == "KeyError"
    assert not isinstance(error.type, ErrorType)


def test_a_request_with_defaults():
    request = ExecuteRequest.from_json({"code": "print(1)"})
    assert request == ExecuteRequest("print(1)", Language.PYTHON, None)
    assert ExecuteRequest.from_json({"code": "ls", "language": "bash", "timeoutSeconds": 900}).timeout_seconds == 900


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "code"),
        ({"code": 5}, "code"),
        ({"code": "1", "language": "ruby"}, "language"),
        ({"code": "1", "timeoutSeconds": "10"}, "timeoutSeconds"),
        ({"code": "1", "timeoutSeconds": 900.5}, "timeoutSeconds"),
        ({"code": "1", "timeoutSeconds": 0}, "timeoutSeconds"),
        ({"code": "1", "timeoutSeconds": float("nan")}, "timeoutSeconds"),
        ({"code": "1", "timeoutSeconds": True}, "timeoutSeconds"),
        ({"code": "1", "timeout": 5}, "timeout"),
    ],
)
def test_each_bad_field_is_named(body, field):
    assert list(problems(body)) == [field]


def test_an_unknown_field_suggests_the_one_it_resembles():
    assert problems({"code": "1", "timeout": 5}) == {"timeout": "unknown field; did you mean timeoutSeconds?"}
    assert problems({"code": "1", "zzz": 5}) == {"zzz": "unknown field; known fields: code, language, timeoutSeconds"}


def test_every_problem_at_once_in_one_line():
    with pytest.raises(InvalidBody) as raised:
        ExecuteRequest.from_json({"code": 5, "language": "ruby", "extra": 1})
    assert {p.field for p in raised.value.problems} == {"code", "language", "extra"}
    assert "\n" not in str(raised.value)
    assert str(raised.value).startswith("invalid request body: code: wrong type")


def test_sync_requests():
    url = "https://b.s3.us-east-1.amazonaws.com/sessions/x/artifacts/r.pdf?X-Amz-Signature=abc"
    body = {"direction": "upload", "files": [{"path": "artifacts/r.pdf", "url": url}]}
    assert SyncRequest.from_json(body) == SyncRequest(SyncDirection.UPLOAD, (Transfer("artifacts/r.pdf", url),))
    assert SyncRequest.from_json(body).to_json() == body
    assert SyncRequest.from_json({"direction": "download", "files": []}).files == ()
    assert problems({"direction": "sideways", "files": []}, SyncRequest) == {"direction": "must be download or upload"}
    assert set(problems({"direction": "upload"}, SyncRequest)) == {"files"}
    # The old shape (the executor listing and signing with its own role) is gone: it names what to use instead.
    old = problems({"direction": "upload", "s3Uri": "s3://b/sessions/x/", "path": "artifacts"}, SyncRequest)
    assert set(old) == {"files", "s3Uri", "path"}
    for files, problem in [
        ([{"path": "a", "url": "s3://b/k"}], "http(s) URL"),
        ([{"path": "a"}], "exactly path and url"),
        ([{"path": "", "url": url}], "non-empty"),
        (["a"], "exactly path and url"),
        ([{"path": "a", "url": url}] * (MAX_SYNC_FILES + 1), f"at most {MAX_SYNC_FILES}"),
    ]:
        assert problem in problems({"direction": "download", "files": files}, SyncRequest)["files"]


def test_a_request_round_trips():
    request = ExecuteRequest("echo 1", Language.BASH, 30.0)
    assert request.to_json() == {"code": "echo 1", "language": "bash", "timeoutSeconds": 30.0}
    assert ExecuteRequest.from_json(request.to_json()) == request


def test_the_error_body_leaves_out_what_it_does_not_carry():
    assert ErrorBody("no such route").to_json() == {"error": "no such route"}
    body = {"error": "invalid request body", "fields": [{"field": "code", "problem": "required"}]}
    assert ErrorBody.from_json(body) == ErrorBody("invalid request body", (FieldProblem("code", "required"),))
    assert ErrorBody.from_json(body).to_json() == body
