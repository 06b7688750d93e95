"""The ops commands against a real moto server on 127.0.0.1.

boto3 finds the server through ``AWS_ENDPOINT_URL`` (botocore's standard setting), so the commands run
unchanged: no test hook in the product code.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from ops.stack import aws_session
from tests.moto_server import moto_server


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty moto account for one test, reached by every boto3 client the code under test makes."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    # The CLI keeps one boto3 session per process (it caches credentials): each test starts without one.
    aws_session.cache_clear()
    yield moto_endpoint
    aws_session.cache_clear()
