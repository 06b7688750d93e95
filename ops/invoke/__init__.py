"""``deep-insight invoke``: ask a deployed stack a question and watch the agents work (SPEC §7, §8).

The data goes to ``s3://<artifactBucket>/sessions/<id>/input/``; the runtime is invoked through its ``live``
endpoint and streams SPEC §7 events back as server-sent events; what the job publishes under
``sessions/<id>/artifacts/`` is downloaded at the end (also after a failed job: the runtime publishes
partial results).

Along its seams: `sse` (bytes → events), `view` (events → what the user sees), `screen` (the terminal),
`transfers` (S3 up and down), `job` (the run itself). This module is the command's signature only: boto3
and the components load when it runs, not for ``--help``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ops.console import reports_errors
from ops.job_options import DataFiles, OutputsFile, Question, ReportLanguage, Review


@reports_errors
def command(
    *,
    question: Question,
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack name (its outputs locate the runtime).")],
    data: DataFiles = None,
    download: Annotated[
        Path | None,
        typer.Option(
            "--download",
            metavar="DIR",
            help="Folder for the artifacts (default: ./deep-insight-<session id>/).",
            show_default=False,
        ),
    ] = None,
    language: ReportLanguage = None,
    outputs_file: OutputsFile = None,
    review: Review = False,
) -> None:
    """Ask a deployed stack a question: upload the data, watch the agents work, download the artifacts.

    The data goes to s3://<artifactBucket>/sessions/<session id>/input/.
    The report PDFs, charts, citations.json and the calculation records land in the --download folder.
    Ctrl-C stops waiting (exit 130) and says where the job's artifacts are.

    Example: deep-insight invoke --stack dev "총 매출은?" --data sales.csv --download out/
    """
    from ops.invoke.job import run  # noqa: PLC0415 - boto3 and the components load when the command runs

    run(
        question=question,
        stack=stack,
        data=data or [],
        download=download,
        language=None if language is None else language.value,
        outputs_file=outputs_file,
        review=review,
    )
