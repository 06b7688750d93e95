"""S3 transfers of ``invoke``: the data files up to the session's input prefix, its artifacts down (SPEC §7)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from deep_insight_contract.storage import artifacts_prefix, input_prefix

from ops.console import OpsError
from ops.invoke.text import human_size, plural

LISTED_FILES = 20


def check_data_files(paths: Iterable[Path]) -> list[Path]:
    """Every --data file readable, names distinct (they share the session's input folder); else exit 2
    before anything is created."""
    files: list[Path] = []
    for path in paths:
        if not path.exists():
            raise OpsError(f"--data {path}: no such file")
        if not path.is_file():
            raise OpsError(f"--data {path}: not a file (give a CSV file)")
        try:
            with path.open("rb") as handle:
                handle.read(1)
        except OSError as error:
            raise OpsError(f"--data {path}: cannot read it ({error.strerror})") from None
        files.append(path)
    names = [path.name for path in files]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise OpsError(f"--data files share the name {', '.join(duplicates)}; rename one (inputs share a folder)")
    return files


def upload_inputs(s3: Any, bucket: str, session_id: str, files: list[Path]) -> list[str]:
    uris = []
    for path in files:
        key = input_prefix(session_id) + path.name
        with path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv")
        uris.append(f"s3://{bucket}/{key}")
    return uris


def download_artifacts(
    s3: Any, bucket: str, session_id: str, target: Path, done: list[Path], *, warn: Callable[[str], None]
) -> None:
    """Every object under the session's artifacts prefix (all pages) into ``target``, keeping subfolders.

    ``done`` grows as files land, so an interrupted download can say what it got. Each file is written
    beside its name and renamed when whole: a half-written file never carries the real name.
    """
    prefix = artifacts_prefix(session_id)
    root = target.resolve()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = PurePosixPath(item["Key"][len(prefix) :])
            if not relative.parts or item["Key"].endswith("/"):
                continue
            destination = root.joinpath(*relative.parts).resolve()
            if ".." in relative.parts or not destination.is_relative_to(root):
                warn(f"skipped {item['Key']}: it points outside {target}")
                continue
            download_object(s3, bucket, item["Key"], destination)
            done.append(destination)


def download_object(s3: Any, bucket: str, key: str, destination: Path) -> None:
    """One object to ``destination``, written beside it and renamed when whole: a half-written file never
    carries the real name."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".part")
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    try:
        with partial.open("wb") as handle:
            for chunk in body.iter_chunks(1024 * 1024):
                handle.write(chunk)
        partial.replace(destination)
    except BaseException:  # Ctrl-C included: leave no half file behind
        partial.unlink(missing_ok=True)
        raise
    finally:
        body.close()


def download_summary(files: list[Path], target: Path, bucket: str, session_id: str) -> list[str]:
    """What was downloaded from where: a total, then the files (the first `LISTED_FILES`)."""
    source = f"s3://{bucket}/{artifacts_prefix(session_id)}"
    if not files:
        return [f"No artifacts under {source}"]
    total = sum(path.stat().st_size for path in files)
    lines = [f"Downloaded {plural(len(files), 'artifact')} ({human_size(total)}) to {target}/ from {source}"]
    root = target.resolve()
    lines += [f"  {path.relative_to(root)}  {human_size(path.stat().st_size)}" for path in sorted(files)[:LISTED_FILES]]
    if len(files) > LISTED_FILES:
        lines.append(f"  … and {len(files) - LISTED_FILES} more")
    return lines
