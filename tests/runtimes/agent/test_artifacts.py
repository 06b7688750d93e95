"""The agent's executor client and artifact handling, against a real local executor and moto's S3."""

from __future__ import annotations

import asyncio
from urllib.parse import unquote, urlparse

import pytest
from deep_insight_agent.artifacts import artifacts_uri, fetch_inputs, input_transfers, publish_artifacts
from deep_insight_agent.executor_client import ExecutorClient, ExecutorError
from deep_insight_agent.executor_local import LocalExecutorSession
from deep_insight_agent.presign import ForeignKeyError, SessionPresigner
from deep_insight_agent.presign import s3_client as s3_client_of_agent
from deep_insight_contract.executor import Language

from tests.runtimes.conftest import DATA, TOKEN, s3_client

BUCKET = "agent-test-artifacts"
SID = "agent-session-0123456789abcdef0123456789"


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def signer(s3_endpoint, s3):
    """The agent's own kind of client (SigV4), as it signs in AWS."""
    return s3_client_of_agent("us-east-1", endpoint_url=s3_endpoint, aws_access_key_id="t", aws_secret_access_key="t")


@pytest.fixture(scope="module")
def executor_with_s3(start_executor):
    return start_executor()  # no credentials, no bucket: files move through the agent's presigned URLs


async def with_client(executor, action, sid=SID, token=TOKEN):
    async with LocalExecutorSession(executor.url, sid, token) as session, ExecutorClient(session) as client:
        return await action(client)


def test_execute_files_and_errors_through_the_client(executor):
    async def action(client: ExecutorClient):
        assert (await client.execute("x = 2\nprint(x * 21)")).stdout == "42\n"
        assert (await client.execute("echo $((6*7))", language=Language.BASH)).stdout == "42\n"
        await client.put_file("data/a.txt", "한글".encode())
        assert await client.get_file("data/a.txt") == "한글".encode()
        assert [f.path for f in await client.list_files()] == ["data/a.txt"]
        with pytest.raises(ExecutorError) as missing:
            await client.get_file("data/none.txt")
        assert missing.value.status == 404
        await client.end()
        assert await client.list_files() == []

    asyncio.run(with_client(executor, action))


def test_a_wrong_token_is_an_executor_error(executor):
    async def action(client: ExecutorClient):
        with pytest.raises(ExecutorError) as refused:
            await client.execute("1")
        assert refused.value.status == 401

    asyncio.run(with_client(executor, action, token="wrong"))


def test_inputs_in_and_artifacts_out(signer, executor_with_s3, s3):
    s3.put_object(Bucket=BUCKET, Key=f"sessions/{SID}/input/fresh-food-sales.csv", Body=DATA.read_bytes())

    async def action(client: ExecutorClient):
        arrived = await fetch_inputs(
            client, (f"s3://{BUCKET}/sessions/{SID}/input/fresh-food-sales.csv",), SessionPresigner(signer, BUCKET, SID)
        )
        assert arrived == 1
        total = await client.execute(
            "import os, pandas as pd\n"
            "os.makedirs('artifacts', exist_ok=True)\n"
            "total = int(pd.read_csv('data/fresh-food-sales.csv')['금액'].sum())\n"
            "open('artifacts/all_results.txt', 'w').write(f'총 금액: {total:,}\\n')\n"
            "print(total)"
        )
        assert total.stdout == "157685452\n"
        return await publish_artifacts(client, SessionPresigner(signer, BUCKET, SID))

    described = asyncio.run(with_client(executor_with_s3, action))
    size = len("총 금액: 157,685,452\n".encode())
    assert described == [
        {"name": "all_results.txt", "s3Uri": f"s3://{BUCKET}/sessions/{SID}/artifacts/all_results.txt", "bytes": size}
    ]
    body = s3.get_object(Bucket=BUCKET, Key=f"sessions/{SID}/artifacts/all_results.txt")["Body"].read().decode()
    assert body == "총 금액: 157,685,452\n"


def test_without_a_bucket_artifacts_stay_in_the_workspace(executor):
    async def action(client: ExecutorClient):
        await client.put_file("artifacts/chart.png", b"\x89PNG")
        await client.put_file("scratch.txt", b"not an artifact")
        return await publish_artifacts(client, None)

    described = asyncio.run(with_client(executor, action, sid="local-" + "x" * 30))
    assert described == [{"name": "chart.png", "s3Uri": None, "bytes": 4}]


def test_artifacts_land_where_spec_7_says() -> None:
    # SPEC §7: "Artifacts land in s3://<artifactBucket>/sessions/<sessionId>/artifacts/".
    assert artifacts_uri("my-bucket", SID) == f"s3://my-bucket/sessions/{SID}/artifacts/"


# --- the agent signs URLs for its own session's keys only ---

OTHER = "other-session-0123456789abcdef0123456789"


def _key_of(url: str) -> str:
    """The object key a presigned URL of moto's path-style endpoint reaches."""
    path = unquote(urlparse(url).path)
    assert path.startswith(f"/{BUCKET}/"), url
    return path.removeprefix(f"/{BUCKET}/")


def test_every_url_the_agent_signs_is_under_its_own_session(signer, s3):
    presigner = SessionPresigner(signer, BUCKET, SID)
    data = (f"s3://{BUCKET}/sessions/{SID}/input/a.csv", f"s3://{BUCKET}/sessions/{SID}/input/sub/b.csv")
    transfers = input_transfers(presigner, data)
    assert [t.path for t in transfers] == ["data/a.csv", "data/sub/b.csv"]
    urls = [t.url for t in transfers] + [presigner.put(f"sessions/{SID}/artifacts/r.pdf")]
    assert all(_key_of(url).startswith(f"sessions/{SID}/") for url in urls)
    assert all("X-Amz-Signature=" in url and "X-Amz-Expires=900" in url for url in urls)


@pytest.mark.parametrize(
    "key",
    [
        f"sessions/{OTHER}/input/a.csv",
        f"sessions/{SID}/../{OTHER}/input/a.csv",
        f"sessions/{SID}/input/../../{OTHER}/artifacts/x",
        f"sessions/{SID}",
        f"sessions/{SID}/",
        f"sessions/{SID}x/input/a.csv",
        "other/a.csv",
        f"/sessions/{SID}/input/a.csv",
    ],
)
def test_no_url_for_a_key_of_another_session(signer, s3, key):
    presigner = SessionPresigner(signer, BUCKET, SID)
    for sign in (presigner.get, presigner.put):
        with pytest.raises(ForeignKeyError):
            sign(key)


@pytest.mark.parametrize(
    "uri",
    [
        f"s3://{BUCKET}/sessions/{OTHER}/input/a.csv",  # another session's input
        f"s3://{BUCKET}/sessions/{SID}/artifacts/a.csv",  # this session, but not its input
        f"s3://another-bucket/sessions/{SID}/input/a.csv",
    ],
)
def test_inputs_outside_the_sessions_input_folder_are_refused(signer, s3, uri):
    with pytest.raises(ForeignKeyError):
        input_transfers(SessionPresigner(signer, BUCKET, SID), (uri,))


def test_an_input_of_another_session_never_reaches_the_executor(signer, executor_with_s3, s3):
    s3.put_object(Bucket=BUCKET, Key=f"sessions/{OTHER}/input/secret.csv", Body=b"theirs")

    async def action(client: ExecutorClient):
        with pytest.raises(ForeignKeyError):
            await fetch_inputs(
                client, (f"s3://{BUCKET}/sessions/{OTHER}/input/secret.csv",), SessionPresigner(signer, BUCKET, SID)
            )
        return await client.list_files()

    assert asyncio.run(with_client(executor_with_s3, action, sid="nosy-" + "x" * 30)) == []
