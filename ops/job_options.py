"""The options that ``invoke``, ``run`` and ``console`` share, declared once (typer's Annotated types)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class Language(StrEnum):
    ko = "ko"
    en = "en"


Question = Annotated[
    str,
    typer.Argument(metavar="QUESTION", help="The question about the data, in Korean or English.", show_default=False),
]
DataFiles = Annotated[
    list[Path] | None,
    typer.Option(
        "--data", "-d", metavar="FILE", help="CSV file to analyse; repeat for more files.", show_default=False
    ),
]
ReportLanguage = Annotated[
    Language | None,
    typer.Option("--language", help="Report language (default: Korean for a Korean question, else English)."),
]
Review = Annotated[
    bool, typer.Option("--review", help="Approve or edit the planner's plan before the agents work on it.")
]
Model = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Bedrock model or inference-profile id, or openai:<model> for an OpenAI-compatible server.",
    ),
]
ModelUrl = Annotated[
    str | None,
    typer.Option("--model-url", metavar="URL", help="That server's base URL, e.g. http://127.0.0.1:11434/v1 (Ollama)."),
]
Region = Annotated[str | None, typer.Option("--region", help="Bedrock's region (default: your AWS configuration's).")]
OutputsFile = Annotated[
    Path | None,
    typer.Option("--outputs", metavar="FILE", help="Stack outputs JSON (default: pulumi stack output --json)."),
]
NoSandbox = Annotated[
    bool,
    typer.Option(
        "--no-sandbox",
        help="Run the model's code without the sandbox (Linux: bubblewrap), as you, with your files, keys and "
        "network. Needed where no sandbox can be made (macOS, no bubblewrap, no user namespaces).",
    ),
]
Scripted = Annotated[Path | None, typer.Option("--scripted", hidden=True)]
"""Replay scripted model turns from a JSON file: the tests' stand-in for the LLM, not for people."""
