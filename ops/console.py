"""Terminal output and error handling shared by every ``deep-insight`` command.

Rich writes colours, spinners and tables to a terminal and plain text to a pipe or file (and honours
``NO_COLOR``), so the same command works in a shell and in CI logs. Rich and botocore load on first use:
``deep-insight --help`` needs neither.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import typer

if TYPE_CHECKING:
    from rich.console import Console

# Exit codes (README "Operations"): 1 = the command ran and found a failure (a red check, a failed job);
# 2 = bad input, usage errors included; 130 = interrupted with Ctrl-C, as shells report SIGINT.
FAILED, BAD_INPUT, INTERRUPTED = 1, 2, 130


class _LazyConsole:
    """A rich `Console` made at its first use (importing rich costs a fifth of a second)."""

    def __init__(self, *, stderr: bool) -> None:
        object.__setattr__(self, "_stderr", stderr)
        object.__setattr__(self, "_console", None)

    def _real(self) -> Console:
        real = object.__getattribute__(self, "_console")
        if real is None:
            from rich.console import Console  # noqa: PLC0415 - see the class docstring

            real = Console(stderr=object.__getattribute__(self, "_stderr"), highlight=False)
            object.__setattr__(self, "_console", real)
        return real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._real(), name, value)


console = cast("Console", _LazyConsole(stderr=False))
errors = cast("Console", _LazyConsole(stderr=True))


class OpsError(Exception):
    """A user-facing failure: printed as one line, no traceback."""

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def print_error(message: str) -> None:
    """The one error style of every command: ``error: <one line>`` on stderr."""
    from rich.markup import escape  # noqa: PLC0415 - rich loads on first use

    errors.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)


def aws_error_line(error: Exception) -> str:
    """One line for the AWS errors a user can fix (credentials, region, permissions, endpoint)."""
    from botocore.exceptions import (  # noqa: PLC0415 - botocore loads when a command talks to AWS
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )
    from botocore.parsers import ResponseParserError  # noqa: PLC0415

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


def _is_aws_error(error: Exception) -> bool:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - only on the error path
    from botocore.parsers import ResponseParserError  # noqa: PLC0415

    return isinstance(error, BotoCoreError | ClientError | ResponseParserError)


P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn user-facing failures into ``error: <one line>`` on stderr and the matching exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except OpsError as error:
            print_error(str(error))
            raise typer.Exit(error.exit_code) from None
        except Exception as error:
            if not _is_aws_error(error):
                raise
            print_error(aws_error_line(error))
            raise typer.Exit(FAILED) from None

    return wrapper
