"""Terminal output and error handling shared by every ``deep-insight`` command.

Rich writes colours, spinners and tables to a terminal and plain text to a pipe or file (and honours
``NO_COLOR``), so the same command works in a shell and in CI logs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)
from botocore.parsers import ResponseParserError
from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)

# Exit codes: 1 = the command ran and found a failure (a red check, a failed job); 2 = bad input
# (typer uses 2 for usage errors too); 130 = interrupted with Ctrl-C, as shells report SIGINT.
FAILED, BAD_INPUT, INTERRUPTED = 1, 2, 130


class OpsError(Exception):
    """A user-facing failure: printed as one line, no traceback."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def aws_error_line(error: Exception) -> str:
    """One line for the AWS errors a user can fix (credentials, region, permissions, endpoint)."""
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials found: set AWS_PROFILE or run `aws configure` / `aws sso login`"
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach AWS: {error}"
    if isinstance(error, ResponseParserError):
        # Not AWS answering: a proxy, or AWS_ENDPOINT_URL pointing at something else.
        return f"unexpected response (not an AWS API answer; check proxies and AWS_ENDPOINT_URL): {error}"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "Error")
        message = error.response.get("Error", {}).get("Message", "")
        operation = getattr(error, "operation_name", "the call")
        hint = " (check the caller's IAM permissions)" if "AccessDenied" in code or "Unauthorized" in code else ""
        return f"AWS refused {operation}: {code}: {message}{hint}"
    return f"AWS error: {error}"


P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn user-facing failures into ``error: <one line>`` on stderr and the matching exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except OpsError as error:
            errors.print(f"[red]error:[/red] {escape(str(error))}", soft_wrap=True)
            raise typer.Exit(error.exit_code) from None
        except (BotoCoreError, ClientError, ResponseParserError) as error:
            errors.print(f"[red]error:[/red] {escape(aws_error_line(error))}", soft_wrap=True)
            raise typer.Exit(FAILED) from None

    return wrapper
