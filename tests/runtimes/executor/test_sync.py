"""POST /sync against a real S3 API (moto's server on 127.0.0.1) through presigned URLs: the executor
follows the URLs it is given and holds no credentials of its own (it is started without any)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.runtimes.conftest import s3_client
from tests.runtimes.executor.conftest import Executor, StartExecutor, run

BUCKET = "deep-insight-test-artifacts"


@pytest.fixture(scope="module")
def s3(s3_endpoint):
    client = s3_client(s3_endpoint)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="module")
def synced(start_executor: StartExecutor) -> Executor:
    return start_executor()  # no bucket, no endpoint, no credentials


def get_url(s3, key: str) -> str:
    return s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=900)


def put_url(s3, key: str) -> str:
    return s3.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=900)


def test_download_fetches_every_url_into_its_path(synced, s3):
    def put(i: int) -> None:
        s3.put_object(Bucket=BUCKET, Key=f"sessions/dl/input/part-{i:04d}.csv", Body=f"{i}\n".encode())

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(30)))
    s3.put_object(Bucket=BUCKET, Key="sessions/dl/input/nested/deep/데이터.csv", Body="금액\n1\n".encode())
    files = [
        {"path": f"data/part-{i:04d}.csv", "url": get_url(s3, f"sessions/dl/input/part-{i:04d}.csv")} for i in range(30)
    ]
    files.append(
        {"path": "data/nested/deep/데이터.csv", "url": get_url(s3, "sessions/dl/input/nested/deep/데이터.csv")}
    )
    with synced.client() as client:
        response = client.post("/v1/sessions/dl/sync", json={"direction": "download", "files": files})
        assert response.status_code == 200, response.text
        assert response.json() == {
            "files": 31,
            "bytes": sum(len(f"{i}\n") for i in range(30)) + len("금액\n1\n".encode()),
        }
        result = run(
            client,
            "dl",
            "import glob\nprint(len(glob.glob('data/part-*.csv')), open('data/nested/deep/데이터.csv').read().split()[1])",
        )
        assert result["stdout"] == "30 1\n"


def test_upload_puts_each_file_with_its_content_type(synced, s3):
    with synced.client() as client:
        run(client, "ul", "import os\nos.makedirs('artifacts/charts', exist_ok=True)\n"
            "open('artifacts/report.pdf', 'wb').write(b'%PDF-1.7')\n"
            "open('artifacts/charts/a.png', 'wb').write(b'\\x89PNG')\n"
            "open('artifacts/citations.json', 'w').write('[]')")  # fmt: skip
        names = ("report.pdf", "charts/a.png", "citations.json")
        files = [{"path": f"artifacts/{n}", "url": put_url(s3, f"sessions/ul/artifacts/{n}")} for n in names]
        response = client.post("/v1/sessions/ul/sync", json={"direction": "upload", "files": files})
        assert response.status_code == 200, response.text
        assert response.json() == {"files": 3, "bytes": 8 + 4 + 2}
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="sessions/ul/artifacts/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [f"sessions/ul/artifacts/{n}" for n in sorted(names)]
    assert s3.get_object(Bucket=BUCKET, Key="sessions/ul/artifacts/report.pdf")["Body"].read() == b"%PDF-1.7"
    types = {n: s3.head_object(Bucket=BUCKET, Key=f"sessions/ul/artifacts/{n}")["ContentType"] for n in names}
    assert types == {"report.pdf": "application/pdf", "charts/a.png": "image/png", "citations.json": "application/json"}


def test_a_symlink_out_of_the_workspace_is_not_uploaded(synced, s3):
    with synced.client() as client:
        run(
            client,
            "leak",
            "import os\nos.makedirs('artifacts', exist_ok=True)\nos.symlink('/etc/passwd', 'artifacts/leak')",
        )
        files = [{"path": "artifacts/leak", "url": put_url(s3, "sessions/leak/artifacts/leak")}]
        response = client.post("/v1/sessions/leak/sync", json={"direction": "upload", "files": files})
        assert response.status_code == 400
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="sessions/leak/")


def test_paths_that_would_escape_the_workspace_are_refused(synced, s3):
    s3.put_object(Bucket=BUCKET, Key="sessions/evil/input/x.txt", Body=b"x")
    with synced.client() as client:
        for path in ("../../escape.txt", "/etc/evil"):
            files = [{"path": path, "url": get_url(s3, "sessions/evil/input/x.txt")}]
            response = client.post("/v1/sessions/evil/sync", json={"direction": "download", "files": files})
            assert response.status_code == 400, path
            assert "outside the workspace" in response.json()["error"]
        assert client.get("/v1/sessions/evil/files").json() == {"files": []}


def test_a_url_s3_refuses_is_a_502_that_does_not_echo_the_url(synced, s3):
    url = get_url(s3, "sessions/none/input/missing.csv")
    with synced.client() as client:
        files = [{"path": "data/missing.csv", "url": url}]
        response = client.post("/v1/sessions/none/sync", json={"direction": "download", "files": files})
        assert response.status_code == 502
        assert "HTTP 404" in response.json()["error"]
        assert "X-Amz-Signature" not in response.text
        assert client.get("/v1/sessions/none/files").json() == {"files": []}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"direction": "download", "s3Uri": "s3://b/sessions/x/"}, "s3Uri"),  # the old request: no longer
        ({"direction": "download"}, "files"),
        ({"direction": "upload", "files": [{"path": "a", "url": "s3://b/k"}]}, "files"),
        ({"direction": "upload", "files": [{"path": "a"}]}, "files"),
        ({"direction": "sideways", "files": []}, "direction"),
    ],
)
def test_bad_sync_bodies_are_422(synced, body, field):
    with synced.client() as client:
        response = client.post("/v1/sessions/bad/sync", json=body)
        assert response.status_code == 422, response.text
        assert field in {f["field"] for f in response.json()["fields"]}
