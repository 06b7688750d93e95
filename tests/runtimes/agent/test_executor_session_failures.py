"""An executor session when AWS fails it, against a real moto server: a cleanup step that fails, a task that
never runs or stops, and AWS's eventual consistency (ELB's ResourceInUse, ECS's MISSING) up to a whole job."""

from __future__ import annotations

import asyncio
import json
import time
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import boto3
import botocore.session
import pandas as pd
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from deep_insight_agent.aws_calls import stopped_reason
from deep_insight_agent.events import guarded, validate_stream
from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.executor_session import (
    EcsExecutorSession,
    ExecutorSession,
    ExecutorStartError,
    Notify,
)
from deep_insight_agent.payload import Invocation
from deep_insight_agent.reaper import reap
from deep_insight_agent.report import ReportFontError, find_font
from deep_insight_agent.scripted import ScriptedModel
from deep_insight_agent.workflow import WorkflowDeps, run_job
from deep_insight_contract.executor import EXIT_UNWRITABLE
from deep_insight_contract.session import ROUTING_HEADER, routing_key

from tests.runtimes.agent.conftest import NOTHING, SESSION, FailingElb, leftovers, session
from tests.runtimes.agent.test_workflow import scripts  # the reference job's scripted turns
from tests.runtimes.conftest import DATA, TOKEN


def test_a_failing_cleanup_step_skips_none_of_the_others_and_is_reported_not_raised(clients, stack):
    async def upload_fails(executor) -> None:
        raise OSError("artifact upload failed")

    reported: list[str] = []
    backend = EcsExecutorSession(
        stack,
        SESSION,
        ecs=clients["ecs"],
        elbv2=FailingElb(clients["elbv2"], "delete_rule"),
        before_cleanup=upload_fails,
        report=reported.append,
        target_group_delete_deadline_seconds=1.0,
    )

    async def job() -> None:
        async with backend:
            pass

    asyncio.run(job())  # a finished job stays finished
    failures = backend.cleanup_failures
    assert failures[0] == "artifacts: artifact upload failed"
    assert failures[1].startswith("rule: ")
    assert "Throttling" in failures[1]
    # The target group is still referenced by the rule, so AWS refuses its deletion too (ResourceInUse,
    # retried until the deadline); the task, whose step comes last, is stopped all the same.
    assert failures[2].startswith("target group: ")
    assert "ResourceInUse" in failures[2]
    assert len(failures) == 3
    assert reported == [f"cleanup step failed, left for the reaper: {f}" for f in failures]
    left = leftovers(clients, stack)
    assert left["tasks"] == []
    assert (len(left["rules"]), len(left["target_groups"])) == (1, 1)
    # Both are found by their tags and removed by the reaper, rule first.
    reaped = reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=timedelta(seconds=-60))
    assert reaped.rules == left["rules"]
    assert len(reaped.target_groups) == 1
    assert leftovers(clients, stack) == NOTHING


def test_the_jobs_own_error_is_not_hidden_by_a_failing_cleanup(clients, stack):
    backend = EcsExecutorSession(
        stack, SESSION, ecs=clients["ecs"], elbv2=FailingElb(clients["elbv2"], "delete_rule"),
        target_group_delete_deadline_seconds=0,
    )  # fmt: skip

    async def job() -> None:
        async with backend:
            raise RuntimeError("the model gave up")

    with pytest.raises(RuntimeError, match="the model gave up"):
        asyncio.run(job())
    assert [f.split(":")[0] for f in backend.cleanup_failures] == ["rule", "target group"]
    reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=None)
    assert leftovers(clients, stack) == NOTHING


def test_a_task_that_never_runs_ends_in_a_clear_error_and_no_leftovers(clients, stack):
    backend = session(
        clients, replace(stack, task_definition_arn="arn:aws:ecs:us-east-1:123456789012:task-definition/missing:1")
    )

    async def job() -> None:
        async with backend:
            pass

    with pytest.raises((ExecutorStartError, ClientError)):
        asyncio.run(job())
    assert leftovers(clients, stack) == NOTHING


def test_a_stopped_task_is_explained_by_its_containers_exit_code() -> None:
    # Field names from botocore's ECS model (DescribeTasks: Task.stoppedReason, Container.exitCode/reason),
    # so the message reads what ECS really answers.
    ecs_model = botocore.session.get_session().get_service_model("ecs")
    assert {"stoppedReason", "containers", "lastStatus"} <= set(ecs_model.shape_for("Task").members)
    assert {"name", "exitCode", "reason"} <= set(ecs_model.shape_for("Container").members)
    task = {
        "lastStatus": "STOPPED",
        "stoppedReason": "Essential container in task exited",
        "containers": [{"name": "executor", "exitCode": EXIT_UNWRITABLE}],
    }
    message = stopped_reason(task)
    assert message.startswith("Essential container in task exited; container executor exit 73")
    assert "not writable" in message
    assert stopped_reason({"lastStatus": "STOPPED", "containers": [{"name": "executor", "reason": "OOM"}]}) == (
        "STOPPED; container executor: OOM"
    )


# --- AWS's eventual consistency, reproduced against moto through botocore's own event hooks -----------------


class EventuallyConsistent:
    """Fresh clients of the moto server whose first calls answer the way AWS does right after a change:
    ``DeleteTargetGroup`` right after ``DeleteRule`` is ``ResourceInUse`` (a 400, ``Sender`` fault, AWS's
    message) for the first ``in_use`` calls, and ``DescribeTasks`` right after ``RunTask`` lists the task
    under ``failures`` with reason ``MISSING`` and no ``tasks`` (ECS's eventual consistency), once."""

    def __init__(self, endpoint: str, *, in_use: int, missing: int = 1) -> None:
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1", "aws_access_key_id": "t",
                  "aws_secret_access_key": "t"}  # fmt: skip
        self.ecs, self.elbv2 = boto3.client("ecs", **kwargs), boto3.client("elbv2", **kwargs)
        self.in_use, self.missing = in_use, missing
        self.injected: list[str] = []
        self.elbv2.meta.events.register("before-call.elastic-load-balancing-v2.DeleteTargetGroup", self._in_use)
        self.ecs.meta.events.register("before-call.ecs.DescribeTasks", self._missing)

    def _in_use(self, params, **kwargs):
        if self.in_use <= 0:
            return None
        self.in_use -= 1
        arn = params["body"]["TargetGroupArn"]
        self.injected.append("ResourceInUse")
        error = {"Type": "Sender", "Code": "ResourceInUse",
                 "Message": f"Target group '{arn}' is currently in use by a listener or a rule"}  # fmt: skip
        return AWSResponse(params["url"], 400, {}, None), {
            "Error": error, "ResponseMetadata": {"HTTPStatusCode": 400}
        }  # fmt: skip

    def _missing(self, params, **kwargs):
        body = json.loads(params["body"])
        if self.missing <= 0 or "include" in body:  # the session's own polls, not the reaper's
            return None
        self.missing -= 1
        self.injected.append("MISSING")
        failures = [{"arn": arn, "reason": "MISSING"} for arn in body["tasks"]]
        return AWSResponse(params["url"], 200, {}, None), {
            "tasks": [], "failures": failures, "ResponseMetadata": {"HTTPStatusCode": 200}
        }  # fmt: skip


def test_elb_and_ecs_eventual_consistency_do_not_fail_a_session(endpoint, clients, stack):
    aws = EventuallyConsistent(endpoint, in_use=3)
    reported: list[str] = []
    backend = EcsExecutorSession(
        stack, SESSION, ecs=aws.ecs, elbv2=aws.elbv2, report=reported.append, target_group_delete_deadline_seconds=20
    )

    async def job() -> None:
        async with backend as executor:
            assert executor.headers[ROUTING_HEADER] == routing_key(SESSION)

    asyncio.run(job())
    assert aws.injected == ["MISSING", "ResourceInUse", "ResourceInUse", "ResourceInUse"]
    assert backend.calls.count("ecs:DescribeTasks") >= 2
    assert backend.calls.count("elasticloadbalancing:DeleteTargetGroup") == 4
    assert backend.cleanup_failures == []
    assert reported == []
    assert leftovers(clients, stack) == NOTHING


def test_a_target_group_in_use_past_the_deadline_is_reported_and_left_for_the_reaper(endpoint, clients, stack):
    aws = EventuallyConsistent(endpoint, in_use=1000, missing=0)
    reported: list[str] = []
    backend = EcsExecutorSession(
        stack, SESSION, ecs=aws.ecs, elbv2=aws.elbv2, report=reported.append, target_group_delete_deadline_seconds=2
    )

    async def job() -> None:
        async with backend:
            pass

    started = time.monotonic()
    asyncio.run(job())
    assert time.monotonic() - started < 10
    assert 2 <= backend.calls.count("elasticloadbalancing:DeleteTargetGroup") <= 5  # bounded, with backoff
    (failure,) = backend.cleanup_failures
    assert failure.startswith("target group: An error occurred (ResourceInUse)")
    assert "is currently in use by a listener or a rule" in failure
    assert reported == [f"cleanup step failed, left for the reaper: {failure}"]
    left = leftovers(clients, stack)
    assert (left["rules"], len(left["target_groups"]), left["tasks"]) == ([], 1, [])
    reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=None)
    assert leftovers(clients, stack) == NOTHING


@pytest.fixture
def report_font(monkeypatch) -> None:
    """The image's Korean font, or (on a machine without fonts-nanum) any TrueType font: the PDFs are not
    the subject here, the job reaching its end is."""
    try:
        find_font()
    except ReportFontError:
        fallback = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
        if not fallback.exists():
            pytest.skip("no TrueType font to render the reports with")
        monkeypatch.setenv("DEEP_INSIGHT_REPORT_FONT", str(fallback))


@pytest.mark.usefixtures("report_font")
def test_the_whole_job_completes_through_ecs_and_elb_eventual_consistency(endpoint, clients, stack, executor):
    """The real workflow (scripted models, a real executor) on the real EcsExecutorSession against moto.
    moto has no ALB data plane, so the job reaches the local executor with the session's routing header."""
    categories = list(pd.read_csv(DATA)["카테고리"].unique())
    models = {name: ScriptedModel(turns) for name, turns in scripts(categories).items()}
    aws = EventuallyConsistent(endpoint, in_use=2)
    sessions: list[EcsExecutorSession] = []

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        backend = EcsExecutorSession(
            stack, session_id, ecs=aws.ecs, elbv2=aws.elbv2, report=report, target_group_delete_deadline_seconds=20
        )
        sessions.append(backend)
        async with backend as routed:
            local = ExecutorSession(session_id, executor.url, {**routed.headers, "Authorization": f"Bearer {TOKEN}"})
            async with ExecutorClient(local) as client:
                await client.put_file("data/fresh-food-sales.csv", DATA.read_bytes())
            yield local

    deps = WorkflowDeps(model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=None)
    invocation = Invocation(prompt="카테고리별 매출을 분석해줘", data=(), language="ko")

    async def collect() -> list[dict]:
        return [e async for e in guarded(run_job(invocation, SESSION, deps), SESSION, keepalive_after=5)]

    events = asyncio.run(collect())
    assert validate_stream(events) == []
    assert events[-1]["type"] == "complete", events[-1]
    assert aws.injected == ["MISSING", "ResourceInUse", "ResourceInUse"]
    assert sessions[0].cleanup_failures == []
    assert leftovers(clients, stack) == NOTHING


def test_a_failed_cleanup_is_a_status_event_of_the_job_and_the_jobs_error_stays_the_error(
    endpoint, clients, stack, executor
):
    aws = EventuallyConsistent(endpoint, in_use=1000, missing=0)

    @asynccontextmanager
    async def open_executor(session_id: str, report: Notify):
        backend = EcsExecutorSession(
            stack, session_id, ecs=aws.ecs, elbv2=aws.elbv2, report=report, target_group_delete_deadline_seconds=0
        )
        async with backend:
            yield ExecutorSession(session_id, executor.url, {"Authorization": f"Bearer {TOKEN}"})

    def job(models: dict) -> list[dict]:
        deps = WorkflowDeps(model_for=models.__getitem__, open_executor=open_executor, artifact_bucket=None)
        invocation = Invocation(prompt="q", data=(), language="en")

        async def collect() -> list[dict]:
            return [e async for e in guarded(run_job(invocation, SESSION, deps), SESSION, keepalive_after=5)]

        return asyncio.run(collect())

    failing = job({"planner": ScriptedModel([])})  # the planner's model has nothing to say: the job fails
    assert validate_stream(failing) == []
    status, error = failing[-2:]
    assert status["type"] == "status"
    assert status["phase"].startswith("cleanup step failed, left for the reaper: target group: ")
    assert error["type"] == "error"
    assert "ResourceInUse" not in error["message"]
    reap(stack, ecs=clients["ecs"], elbv2=clients["elbv2"], older_than=None)
    assert leftovers(clients, stack) == NOTHING
