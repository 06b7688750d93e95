"""``deep-insight run``: the whole job on this machine, nothing deployed (``ops.local``).

This module is the command's signature only: the workflow, the executor and the models load when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from deep_insight_contract.agents import DEFAULT_MODEL_ID

from ops.console import reports_errors
from ops.job_options import DataFiles, Model, ModelUrl, NoSandbox, Question, Region, ReportLanguage, Review, Scripted


@reports_errors
def command(
    *,
    question: Question,
    data: DataFiles = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for the artifacts (default: ./deep-insight-runs/<session id>/).",
            show_default=False,
        ),
    ] = None,
    language: ReportLanguage = None,
    model: Model = DEFAULT_MODEL_ID,
    model_url: ModelUrl = None,
    region: Region = None,
    review: Review = False,
    no_sandbox: NoSandbox = False,
    scripted: Scripted = None,
) -> None:
    """Run a job on this machine, nothing deployed: a local executor, the agents in this process.

    The model is Bedrock with your AWS credentials, or any server that speaks OpenAI's chat API
    (--model openai:<model> --model-url URL; its key, if it wants one, in OPENAI_API_KEY).
    The reports, charts and calculation records land in the --out folder, also when the job fails or you
    press Ctrl-C (exit 130). The model's code runs in a sandbox (Linux: bubblewrap) without network, home
    or keys; where none can be made the command says why and --no-sandbox goes on without.

    Example: deep-insight run "카테고리별 매출을 분석해줘" --data sales.csv
    """
    from ops.local.sandbox_choice import decide  # noqa: PLC0415
    from ops.local.terminal import run  # noqa: PLC0415 - the workflow and the models load when it runs

    decide(no_sandbox)  # before any model is asked: no sandbox here is one line
    run(
        question=question,
        data=data or [],
        out=out,
        language=None if language is None else language.value,
        model=model,
        model_url=model_url,
        region=region,
        review=review,
        scripted=scripted,
    )
