"""``deep-insight run``: the whole job on this machine, nothing deployed (``ops.local``).

This module is the command's signature only: the workflow, the executor and the models load when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from deep_insight_contract.agents import DEFAULT_MODEL_ID

from ops.console import reports_errors
from ops.invoke import Language


@reports_errors
def command(
    *,
    question: Annotated[
        str,
        typer.Argument(
            metavar="QUESTION", help="The question about the data, in Korean or English.", show_default=False
        ),
    ],
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data", "-d", metavar="FILE", help="CSV file to analyse; repeat for more files.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="DIR",
            help="Folder for the artifacts (default: ./deep-insight-runs/<session id>/).",
            show_default=False,
        ),
    ] = None,
    language: Annotated[
        Language | None,
        typer.Option("--language", help="Report language (default: Korean for a Korean question, else English)."),
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Bedrock model or inference-profile id, or openai:<model> for an OpenAI-compatible server.",
        ),
    ] = DEFAULT_MODEL_ID,
    model_url: Annotated[
        str | None,
        typer.Option(
            "--model-url", metavar="URL", help="That server's base URL, e.g. http://127.0.0.1:11434/v1 (Ollama)."
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="Bedrock's region (default: your AWS configuration's).")
    ] = None,
    review: Annotated[
        bool,
        typer.Option("--review", help="Approve or edit the planner's plan before the agents work on it."),
    ] = False,
    scripted: Annotated[Path | None, typer.Option("--scripted", hidden=True)] = None,
) -> None:
    """Run a job on this machine, nothing deployed: a local executor, the agents in this process.

    The model is Bedrock with your AWS credentials, or any server that speaks OpenAI's chat API
    (--model openai:<model> --model-url URL; its key, if it wants one, in OPENAI_API_KEY).
    The reports, charts and calculation records land in the --out folder, also when the job fails or you
    press Ctrl-C (exit 130).

    Example: deep-insight run "카테고리별 매출을 분석해줘" --data sales.csv
    """
    from ops.local.terminal import run  # noqa: PLC0415 - the workflow and the models load when it runs

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
