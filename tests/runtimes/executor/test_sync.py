"""POST /sync against a real S3 API (moto's server on 127.0.0.1): all pages, one bucket only."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.runtimes.conftest import s3_client
from tests.runtimes.executor.conftest import Executor, StartExecutor, run

BUCKET = "deep-insight-test-artifacts"
OTHER = "someone-elses-bucket"


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = s3_client(s3_endpoint)
    for bucket in (BUCKET, OTHER):
        client.create_bucket(Bucket=bucket)
    return client


@pytest.fixture(scope="module")
def synced(start_executor: StartExecutor, s3_endpoint: str, s3) -> Executor:
    return start_executor(
        ARTIFACT_BUCKET=BUCKET,
        AWS_ENDPOINT_URL=s3_endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        EXECUTOR_S3_PAGE_SIZE="50",
    )


def test_download_reads_every_page(synced, s3):
    def put(i: int) -> None:
        s3.put_object(Bucket=BUCKET, Key=f"sessions/dl/input/part-{i:04d}.csv", Body=f"{i}\n".encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(125)))  # three pages of EXECUTOR_S3_PAGE_SIZE=50
    s3.put_object(Bucket=BUCKET, Key="sessions/dl/input/nested/deep/데이터.csv", Body="금액\n1\n".encode())
    with synced.client() as client:
        response = client.post(
            "/v1/sessions/dl/sync",
            json={"direction": "download", "s3Uri": f"s3://{BUCKET}/sessions/dl/input/", "path": "data/"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["files"] == 126
        result = run(
            client,
            "dl",
            "import glob\nprint(len(glob.glob('data/part-*.csv')), open('data/nested/deep/데이터.csv').read().split()[1])",
        )
        assert result["stdout"] == "125 1\n"


def test_upload_sends_every_file_with_its_content_type(synced, s3):
    with synced.client() as client:
        run(client, "ul", "import os\nos.makedirs('artifacts/charts', exist_ok=True)\n"
            "open('artifacts/report.pdf', 'wb').write(b'%PDF-1.7')\n"
            "open('artifacts/charts/a.png', 'wb').write(b'\\x89PNG')\n"
            "open('artifacts/citations.json', 'w').write('[]')\n"
            "os.symlink('/etc/passwd', 'artifacts/leak')")  # fmt: skip
        response = client.post(
            "/v1/sessions/ul/sync",
            json={"direction": "upload", "s3Uri": f"s3://{BUCKET}/sessions/ul/artifacts/", "path": "artifacts"},
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"files": 3, "bytes": 8 + 4 + 2}
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="sessions/ul/artifacts/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "sessions/ul/artifacts/charts/a.png",
        "sessions/ul/artifacts/citations.json",
        "sessions/ul/artifacts/report.pdf",
    ]
    types = {
        key: s3.head_object(Bucket=BUCKET, Key=f"sessions/ul/artifacts/{key}")["ContentType"]
        for key in ("report.pdf", "charts/a.png", "citations.json")
    }
    assert types == {"report.pdf": "application/pdf", "charts/a.png": "image/png", "citations.json": "application/json"}


@pytest.mark.parametrize(
    ("uri", "status"),
    [(f"s3://{OTHER}/sessions/x/", 403), ("https://example.com/x", 400), ("s3://", 400)],
)
def test_only_the_artifacts_bucket(synced, uri, status):
    with synced.client() as client:
        response = client.post("/v1/sessions/other/sync", json={"direction": "download", "s3Uri": uri, "path": "x"})
        assert response.status_code == status
        assert response.json()["error"]


def test_keys_that_would_escape_the_workspace_are_refused(synced, s3):
    s3.put_object(Bucket=BUCKET, Key="sessions/evil/in/../../../../escape.txt", Body=b"x")
    with synced.client() as client:
        response = client.post(
            "/v1/sessions/evil/sync",
            json={"direction": "download", "s3Uri": f"s3://{BUCKET}/sessions/evil/in/", "path": "d"},
        )
        assert response.status_code == 400
        assert "outside the workspace" in response.json()["error"]
        assert client.get("/v1/sessions/evil/files").json() == {"files": []}


def test_without_a_bucket_sync_is_refused(executor):
    with executor.client() as client:
        response = client.post("/v1/sessions/nb/sync", json={"direction": "upload", "s3Uri": "s3://any/x/"})
        assert response.status_code == 403
