"""Moving a job's files: input data into the workspace, the artifacts out to S3 (SPEC §1, §7).

Files move through presigned URLs the agent signs for this session's own keys (``presign``); the executor
holds no cloud credentials."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from deep_insight_contract.executor import SyncDirection, Transfer
from deep_insight_contract.storage import artifacts_prefix, input_prefix

from deep_insight_agent.executor_client import ExecutorClient
from deep_insight_agent.local_inputs import read_local_input
from deep_insight_agent.presign import ForeignKeyError, SessionPresigner

ARTIFACT_FOLDER = "artifacts"
INPUT_FOLDER = "data"
# What every finished job leaves in artifacts/ (charts are any *.png beside them).
EXPECTED_ARTIFACTS = (
    "all_results.txt",
    "audit.json",
    "calculation_metadata.json",
    "citations.json",
    "final_report.docx",
    "final_report.md",
    "final_report.pdf",
    "final_report_with_citations.docx",
    "final_report_with_citations.pdf",
)


def artifacts_uri(bucket: str, session_id: str) -> str:
    return f"s3://{bucket}/{artifacts_prefix(session_id)}"


def input_transfers(presigner: SessionPresigner, data: tuple[str, ...]) -> tuple[Transfer, ...]:
    """A presigned GET per payload object, each landing at ``data/<its key under the session's input/>``.
    Only this session's own ``sessions/<id>/input/`` objects in the artifacts bucket (ForeignKeyError)."""
    prefix = input_prefix(presigner.session_id)
    transfers = []
    for uri in data:
        parsed = urlparse(uri)
        key = parsed.path.lstrip("/")
        if parsed.scheme != "s3" or parsed.netloc != presigner.bucket or not key.startswith(prefix):
            raise ForeignKeyError(
                f"data entry {uri!r} is not under s3://{presigner.bucket}/{prefix}; upload the session's inputs there"
            )
        transfers.append(Transfer(f"{INPUT_FOLDER}/{key.removeprefix(prefix)}", presigner.get(key)))
    return tuple(transfers)


async def fetch_inputs(
    executor: ExecutorClient,
    data: tuple[str, ...],
    presigner: SessionPresigner | None,
    data_dirs: tuple[Path, ...] = (),
) -> int:
    """Copy the payload's files into ``data/`` of the workspace; returns how many arrived. S3 objects move
    through presigned URLs; ``file://`` paths (a runtime without a bucket: local runs) are read here, only
    under ``data_dirs`` (``local_inputs``)."""
    if not data:
        return 0
    local = [uri for uri in data if urlparse(uri).scheme == "file"]
    if local:
        # Every file is read before any is sent: one refused input leaves nothing of the others behind.
        files = [await asyncio.to_thread(read_local_input, uri, data_dirs) for uri in local]
        for name, content in files:
            await executor.put_file(f"{INPUT_FOLDER}/{name}", content)
        return len(local)
    if presigner is None:
        raise ForeignKeyError("input data in S3 needs the artifacts bucket (DEEP_INSIGHT_ARTIFACT_BUCKET)")
    result = await executor.sync(SyncDirection.DOWNLOAD, input_transfers(presigner, data))
    return result.files


async def publish_artifacts(executor: ExecutorClient, presigner: SessionPresigner | None) -> list[dict[str, Any]]:
    """Upload ``artifacts/`` to the session's ``artifacts_prefix`` in the bucket (the workspace's files are
    listed first, then one presigned PUT is sent per file) and describe each file (``name``, ``s3Uri``,
    ``bytes``). Without a presigner (no bucket: local runs) they stay in the workspace and ``s3Uri`` is None."""
    files = [f for f in await executor.list_files() if f.path.startswith(f"{ARTIFACT_FOLDER}/")]
    if not files:
        return []
    names = [file.path.removeprefix(f"{ARTIFACT_FOLDER}/") for file in files]
    target = None
    if presigner is not None:
        target = artifacts_uri(presigner.bucket, presigner.session_id)
        prefix = artifacts_prefix(presigner.session_id)
        transfers = tuple(Transfer(f.path, presigner.put(prefix + name)) for f, name in zip(files, names, strict=True))
        await executor.sync(SyncDirection.UPLOAD, transfers)
    return [
        {"name": name, "s3Uri": f"{target}{name}" if target else None, "bytes": file.bytes}
        for file, name in zip(files, names, strict=True)
    ]
