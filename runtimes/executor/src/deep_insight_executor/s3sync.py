"""Copy between a session's workspace and the artifacts bucket (every page of a listing)."""

from __future__ import annotations

import mimetypes
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
from botocore.config import Config
from deep_insight_contract.executor import SyncResult

from deep_insight_executor.paths import PathError, resolve_inside

# botocore's own retry policy: exponential backoff with jitter and a client-side rate limiter.
S3_CONFIG = Config(
    retries={"mode": "adaptive", "max_attempts": 8}, connect_timeout=5, read_timeout=60, max_pool_connections=16
)
TRANSFER_THREADS = 8


class SyncError(ValueError):
    """A sync request that cannot be honoured (400), with ``status`` 403 for a foreign bucket."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_s3_uri(uri: str, allowed_bucket: str | None) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise SyncError(f"s3Uri {uri!r} is not an s3://bucket/prefix/ URI")
    if allowed_bucket is None:
        raise SyncError("this executor has no ARTIFACT_BUCKET; sync is disabled", status=403)
    if parsed.netloc != allowed_bucket:
        raise SyncError(f"bucket {parsed.netloc!r} is not this executor's artifacts bucket", status=403)
    prefix = parsed.path.lstrip("/")
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return parsed.netloc, prefix


class S3Sync:
    def __init__(self, bucket: str | None, client: Any = None, page_size: int = 1000) -> None:
        self.bucket = bucket
        self._client = client
        self.page_size = page_size

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("s3", config=S3_CONFIG)
        return self._client

    def download(self, uri: str, workspace: Path, path: str, owner: tuple[int, int] | None = None) -> SyncResult:
        bucket, prefix = parse_s3_uri(uri, self.bucket)
        target = path.strip("/") if path.strip("/") not in ("", ".") else "."
        planned: list[tuple[str, Path, int]] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": self.page_size}
        )
        for page in pages:
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :]
                if not relative or relative.endswith("/"):
                    continue
                try:
                    destination = resolve_inside(workspace, f"{target}/{relative}" if target != "." else relative)
                except PathError as error:
                    raise SyncError(f"object {item['Key']!r} would land outside the workspace: {error}") from None
                planned.append((item["Key"], destination, item["Size"]))
        for _, destination, _ in planned:
            destination.parent.mkdir(parents=True, exist_ok=True)

        def fetch(item: tuple[str, Path, int]) -> None:
            key, destination, _ = item
            self.client.download_file(bucket, key, str(destination))
            if owner is not None:
                os.chown(destination, *owner)

        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            list(pool.map(fetch, planned))
        if owner is not None:
            for folder in {d.parent for _, d, _ in planned}:
                for parent in [folder, *folder.parents]:
                    if parent == workspace or workspace not in parent.parents:
                        break
                    os.chown(parent, *owner)
        return SyncResult(files=len(planned), bytes=sum(size for *_, size in planned))

    def upload(self, uri: str, workspace: Path, path: str) -> SyncResult:
        bucket, prefix = parse_s3_uri(uri, self.bucket)
        relative = path.strip("/")
        source = resolve_inside(workspace, relative) if relative not in ("", ".") else workspace.resolve()
        files: list[tuple[Path, str]] = []
        if source.is_file():
            files.append((source, prefix + source.name))
        else:
            for folder, _, names in os.walk(source):
                for name in sorted(names):
                    file = Path(folder) / name
                    if file.is_symlink() or not file.is_file():
                        continue  # a symlink could point anywhere; only regular files leave the workspace
                    files.append((file, prefix + file.relative_to(source).as_posix()))

        def send(item: tuple[Path, str]) -> int:
            file, key = item
            content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
            self.client.upload_file(str(file), bucket, key, ExtraArgs={"ContentType": content_type})
            return file.stat().st_size

        with ThreadPoolExecutor(TRANSFER_THREADS) as pool:
            total = sum(pool.map(send, files))
        return SyncResult(files=len(files), bytes=total)
