"""Moving a job's files: input data into the workspace, the artifacts out to S3 (SPEC §1, §7)."""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import urlparse

from deep_insight_contract.executor import SyncDirection
from deep_insight_contract.storage import artifacts_prefix

from deep_insight_agent.executor_client import ExecutorClient

ARTIFACT_FOLDER = "artifacts"
INPUT_FOLDER = "data"
# What every finished job leaves in artifacts/ (charts are any *.png beside them).
EXPECTED_ARTIFACTS = (
    "all_results.txt",
    "calculation_metadata.json",
    "citations.json",
    "final_report.pdf",
    "final_report_with_citations.pdf",
)


def artifacts_uri(bucket: str, session_id: str) -> str:
    return f"s3://{bucket}/{artifacts_prefix(session_id)}"


async def fetch_inputs(executor: ExecutorClient, data: tuple[str, ...]) -> int:
    """Copy the payload's S3 objects into ``data/`` of the workspace; returns how many files arrived.

    The executor syncs prefixes, so each object's folder is synced and only the named files are kept
    in the count: name inputs in their own folder (``deep_insight_contract.storage.input_prefix``) as the CLI does.
    """
    folders = sorted({posixpath.dirname(urlparse(uri).path.lstrip("/")) for uri in data})
    buckets = {urlparse(uri).netloc for uri in data}
    files = 0
    for bucket in sorted(buckets):
        for folder in folders:
            result = await executor.sync(SyncDirection.DOWNLOAD, f"s3://{bucket}/{folder}/", INPUT_FOLDER)
            files += result.files
    return files


async def publish_artifacts(executor: ExecutorClient, *, session_id: str, bucket: str | None) -> list[dict[str, Any]]:
    """Upload ``artifacts/`` to the session's ``artifacts_prefix`` in the bucket and describe each file
    (``name``, ``s3Uri``, ``bytes``). Without a bucket (local runs) they stay in the workspace and
    ``s3Uri`` is None."""
    files = [f for f in await executor.list_files() if f.path.startswith(f"{ARTIFACT_FOLDER}/")]
    if not files:
        return []
    target = artifacts_uri(bucket, session_id) if bucket else None
    if target is not None:
        await executor.sync(SyncDirection.UPLOAD, target, ARTIFACT_FOLDER)
    described = []
    for file in files:
        name = file.path.removeprefix(f"{ARTIFACT_FOLDER}/")
        described.append({"name": name, "s3Uri": f"{target}{name}" if target else None, "bytes": file.bytes})
    return described
