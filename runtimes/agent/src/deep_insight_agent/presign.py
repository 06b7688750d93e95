"""Presigned S3 URLs for one session's own keys: how the executor moves files without credentials.

The executor task has no role (issue 12): whatever user code does there, it holds no AWS credentials. The
agent signs, with its own role, one short-lived URL per file of *this* session - a GET per input object, a
PUT per artifact - and the executor only follows the URLs. Signing makes no request; S3 authorizes the
request made with the URL as the signer (the agent's role: s3:GetObject / s3:PutObject on the key).

IAM cannot scope the agent's grant to the runtime session id (it is not a request context key), so the
role may reach every ``sessions/*`` key; this module is where one session is kept to its own prefix.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any

import boto3
from botocore.config import Config
from deep_insight_contract.storage import session_prefix

URL_EXPIRY_SECONDS = 900
"""15 minutes: a sync starts at once, and one URL moves one file."""


class ForeignKeyError(ValueError):
    """A key outside this session's prefix: the agent signs no URL for it."""


REGIONAL_HOST = {"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"}
"""URLs on ``<bucket>.s3.<region>.amazonaws.com``. Without ``addressing_style`` botocore presigns for the legacy
global host ``<bucket>.s3.amazonaws.com`` in the aws partition (botocore/signers.py ``_should_use_global_endpoint``;
boto/boto3#3015), which outside us-east-1 may resolve to us-east-1 for a new bucket and is not the host the
region's S3 gateway endpoint serves: the executor, with no NAT, times out, and with NAT gets a 307 it refuses.
In us-east-1 the global host is also botocore's default for ordinary requests (``us_east_1_regional_endpoint``
legacy, botocore/args.py ``_should_force_s3_global``); regional keeps the host's region the bucket's in every
region. Region and partition come from botocore's endpoint rules, not from a host written here."""


def s3_client(region: str | None = None, **options: Any) -> Any:
    """A SigV4 S3 client for the agent's own role (region from AWS_REGION) whose URLs name the regional host;
    ``options`` go to boto3.client."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    config = Config(signature_version="s3v4", s3=dict(REGIONAL_HOST))
    return boto3.client("s3", region_name=region, config=config, **options)


class SessionPresigner:
    """Presigned URLs for keys under ``sessions/<session id>/`` of ``bucket``, and nothing else."""

    def __init__(self, s3: Any, bucket: str, session_id: str, expires: int = URL_EXPIRY_SECONDS) -> None:
        self.s3, self.bucket, self.session_id, self.expires = s3, bucket, session_id, expires
        self.prefix = session_prefix(session_id)

    def check(self, key: str) -> str:
        """``key`` if it is this session's own, else ForeignKeyError."""
        normal = posixpath.normpath(key)
        if normal != key or not key.startswith(self.prefix) or key == self.prefix or "\x00" in key:
            raise ForeignKeyError(f"{key!r} is not a key of session {self.session_id} (under {self.prefix})")
        return key

    def _sign(self, method: str, key: str) -> str:
        params = {"Bucket": self.bucket, "Key": self.check(key)}
        return self.s3.generate_presigned_url(method, Params=params, ExpiresIn=self.expires)

    def get(self, key: str) -> str:
        return self._sign("get_object", key)

    def put(self, key: str) -> str:
        return self._sign("put_object", key)
