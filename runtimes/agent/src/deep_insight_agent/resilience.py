"""The one retry layer of a model turn (SPEC §7). It handles the ways a turn goes wrong without failing
outright:

* throttling (and a request that never reached the service or met a 5xx): retried with exponential
  backoff and full jitter, each wait reported;
* a silent stream: no event for ``stall_seconds`` (5 minutes) cancels the request and retries it.
  The successor system lost whole jobs to a 15-minute stall that outlived AgentCore's idle timeout.

It is the only layer that retries: the Bedrock client makes one attempt per call and its read timeout
lies behind this stall timer (``bedrock.py``), and strands' own retry strategy is off (``workflow.py``).
So a turn makes at most ``attempts`` requests and gives up within ``total_seconds`` of its first.

A retry is only safe before the turn has produced anything (otherwise its text would be duplicated):
after the first event a failure is raised as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

from botocore.exceptions import ClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from strands.models.model import Model
from strands.types.exceptions import ModelThrottledException

STALL_SECONDS = 300.0
"""A model stream silent this long is cancelled (SPEC §7)."""
ATTEMPTS = 6
"""Requests one model turn may make, the first included."""
TOTAL_SECONDS = 900.0
"""From a turn's first request, the time within which it has an answer started or gives up."""
# What botocore's standard retry mode treats as transient server errors.
TRANSIENT_STATUS = frozenset({500, 502, 503, 504})


class ModelStalledError(RuntimeError):
    """The model stream stayed silent through every attempt."""


def retry_reason(error: BaseException) -> str | None:
    """Why a failed request may be sent again (a short phrase for the status event), or None."""
    if isinstance(error, ModelThrottledException):
        return "model throttled"
    if isinstance(error, BotocoreConnectionError):  # the request never reached the service
        return f"model unreachable ({type(error).__name__})"
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status in TRANSIENT_STATUS:
            return f"model unavailable ({error.response.get('Error', {}).get('Code') or status})"
    return None


class ResilientModel(Model):
    def __init__(
        self,
        inner: Model,
        *,
        notify: Callable[[str], None],
        attempts: int = ATTEMPTS,
        base_delay: float = 2.0,
        max_delay: float = 60.0,
        stall_seconds: float = STALL_SECONDS,
        total_seconds: float = TOTAL_SECONDS,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        for name, value in (("stall_seconds", stall_seconds), ("total_seconds", total_seconds)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, not {value:g}")
        self.inner = inner
        self.notify = notify
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stall_seconds = stall_seconds
        self.total_seconds = total_seconds

    def update_config(self, **model_config: Any) -> None:
        self.inner.update_config(**model_config)

    def get_config(self) -> Any:
        return self.inner.get_config()

    def structured_output(self, output_model: Any, prompt: Any, system_prompt: str | None = None, **kwargs: Any):  # type: ignore[override]
        return self.inner.structured_output(output_model, prompt, system_prompt, **kwargs)

    def _delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))  # full jitter

    async def stream(
        self, messages: Any, tool_specs: Any = None, system_prompt: str | None = None, **kwargs: Any
    ) -> AsyncIterator[Any]:  # type: ignore[override]
        clock = asyncio.get_running_loop().time
        deadline = clock() + self.total_seconds
        for attempt in range(1, self.attempts + 1):
            iterator = self.inner.stream(messages, tool_specs, system_prompt, **kwargs).__aiter__()
            started = False
            failure: BaseException
            try:
                while True:
                    # Before the first event the wait also ends at the deadline: the total stays bounded.
                    wait = self.stall_seconds if started else min(self.stall_seconds, max(0.0, deadline - clock()))
                    try:
                        event = await asyncio.wait_for(iterator.__anext__(), wait)
                    except StopAsyncIteration:
                        return
                    started = True
                    yield event
            except TimeoutError:
                if started:
                    raise ModelStalledError(
                        f"the model stream went silent for {self.stall_seconds:g} s mid-answer"
                    ) from None
                failure = ModelStalledError(
                    f"the model stream stayed silent for {self.stall_seconds:g} s on {attempt} attempts"
                    if attempt == self.attempts
                    else f"the model stream stayed silent through {attempt} attempts in {self.total_seconds:g} s"
                )
                reason, delay = f"model stream silent for {self.stall_seconds:g} s; cancelled", 0.0
            except Exception as error:
                reason = retry_reason(error)
                if started or reason is None:
                    raise
                failure, delay = error, self._delay(attempt - 1)
            finally:
                closer = getattr(iterator, "aclose", None)
                if closer is not None:
                    with contextlib.suppress(Exception):  # closing an abandoned request
                        await closer()
            if attempt == self.attempts:
                raise failure
            if clock() + delay >= deadline:
                if not isinstance(failure, ModelStalledError):
                    limit = f"a retry would pass {self.total_seconds:g} s"
                    self.notify(f"{reason}; giving up after {attempt} attempts ({limit})")
                raise failure
            if isinstance(failure, ModelStalledError):
                self.notify(f"{reason} and retrying")
            else:
                self.notify(f"{reason}; retrying in {delay:.1f} s (attempt {attempt + 1} of {self.attempts})")
            await asyncio.sleep(delay)
