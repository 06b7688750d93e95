"""The console against a deployed stack (``--stack dev``), as a person with AWS credentials uses it: the
real agent app with the real workflow (scripted models) behind AgentCore's data-plane path on 127.0.0.1
(tests/ops/local_agentcore.py, the same as invoke's tests) and moto's S3; boto3 in the console reaches them
through AWS_ENDPOINT_URL_BEDROCK_AGENTCORE and AWS_ENDPOINT_URL, so it runs unchanged."""

from __future__ import annotations

import json

import httpx
from selenium.webdriver.common.by import By

from ops.invoke.job import new_session_id
from tests.ops.test_console import TOKEN, Console, browser, find, start_job, state, wait  # noqa: F401 (browser)
from tests.ops.test_invoke import BUCKET, agentcore, executor, stack_outputs  # noqa: F401 (fixtures)
from tests.runtimes.conftest import s3_client

SOMEONE_ELSE = "arn:aws:sts::123456789012:assumed-role/Analyst/someone-else"


def test_a_stack_job_in_the_page_then_from_the_bucket_after_a_restart(browser, agentcore, aws, tmp_path):  # noqa: F811
    s3_client(aws).create_bucket(Bucket=BUCKET)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack_outputs()), encoding="utf-8")
    env = {
        "AWS_ENDPOINT_URL": aws, "AWS_ENDPOINT_URL_BEDROCK_AGENTCORE": agentcore[1],
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    console = Console(tmp_path / "runs", None, stack=outputs, env=env)
    try:
        session_id = start_job(browser, console)
        wait(browser, lambda: state(browser) in ("complete", "error"))
        assert state(browser) == "complete", find(browser, "timeline").text
        chart = find(browser, "chart")
        wait(browser, lambda: browser.execute_script("return arguments[0].naturalWidth", chart) > 0)
    finally:
        console.stop()
    keys = [
        o["Key"] for o in s3_client(aws).list_objects_v2(Bucket=BUCKET, Prefix=f"sessions/{session_id}/")["Contents"]
    ]
    assert f"sessions/{session_id}/artifacts/final_report.pdf" in keys

    elsewhere = Console(tmp_path / "other-runs", None, stack=outputs, env=env)  # another machine: an empty folder
    try:
        browser.get(f"{elsewhere.url}/?token={TOKEN}#/history")
        rows = wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid=history-row]"))
        assert session_id in rows[0].text
        assert "카테고리별 매출을 분석해줘" in rows[0].text
        rows[0].find_element(By.TAG_NAME, "a").click()
        wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "[data-testid=download]"))
        browser.switch_to.frame(find(browser, "report"))
        wait(browser, lambda: "157,685,452" in browser.find_element(By.TAG_NAME, "body").text)
        browser.switch_to.default_content()
    finally:
        elsewhere.stop()


def test_a_session_this_user_did_not_start_in_a_console_is_not_fetched(aws, tmp_path):
    """A report's link or image (or any page) asking for another session's id must not make the console
    pull that session from the bucket: only the sessions its history lists for this user."""
    s3 = s3_client(aws)
    s3.create_bucket(Bucket=BUCKET)
    invoked = new_session_id()  # started by `deep-insight invoke` or anything else: no console record
    theirs = new_session_id()  # started in a console by someone else with access to the same stack
    record = {"sessionId": theirs, "question": "누군가의 질문", "data": [], "startedBy": SOMEONE_ELSE}
    s3.put_object(Bucket=BUCKET, Key=f"sessions/{theirs}/console.json", Body=json.dumps(record).encode())
    for session_id in (invoked, theirs):
        s3.put_object(Bucket=BUCKET, Key=f"sessions/{session_id}/artifacts/final_report.md", Body=b"# not yours\n")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(stack_outputs()), encoding="utf-8")
    env = {
        "AWS_ENDPOINT_URL": aws, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    runs = tmp_path / "runs"
    console = Console(runs, None, stack=outputs, env=env)
    try:
        answers = [httpx.get(f"{console.url}/api/jobs/{sid}", params={"token": TOKEN}) for sid in (invoked, theirs)]
        listed = httpx.get(f"{console.url}/api/jobs", params={"token": TOKEN}).json()["jobs"]
    finally:
        console.stop()
    assert [answer.status_code for answer in answers] == [400, 400]
    assert not any(runs.rglob("final_report.md")), "a foreign session's files came down"
    assert {invoked, theirs}.isdisjoint(job["sessionId"] for job in listed)
