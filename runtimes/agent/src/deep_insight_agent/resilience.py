"""A model wrapper for the two ways a model turn goes wrong without failing outright (SPEC §7):

* throttling: retried with exponential backoff and full jitter, each wait reported;
* a silent stream: no event for ``stall_seconds`` (5 minutes) cancels the request and retries it.
  The successor system lost whole jobs to a 15-minute stall that outlived AgentCore's idle timeout.

A retry is only safe before the turn has produced anything (otherwise its text would be duplicated):
after the first event a failure is raised as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable
from typing import Any

from strands.models.model import Model
from strands.types.exceptions import ModelThrottledException

STALL_SECONDS = 300.0


class ModelStalledError(RuntimeError):
    """The model stream stayed silent through every attempt."""


class ResilientModel(Model):
    def __init__(
        self,
        inner: Model,
        *,
        notify: Callable[[str], None],
        attempts: int = 6,
        base_delay: float = 2.0,
        max_delay: float = 60.0,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self.inner = inner
        self.notify = notify
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.stall_seconds = stall_seconds

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
        for attempt in range(self.attempts):
            iterator = self.inner.stream(messages, tool_specs, system_prompt, **kwargs).__aiter__()
            started = False
            try:
                while True:
                    try:
                        event = await asyncio.wait_for(iterator.__anext__(), self.stall_seconds)
                    except StopAsyncIteration:
                        return
                    started = True
                    yield event
            except ModelThrottledException:
                if started or attempt == self.attempts - 1:
                    raise
                delay = self._delay(attempt)
                self.notify(f"model throttled; retrying in {delay:.1f} s (attempt {attempt + 2} of {self.attempts})")
                await asyncio.sleep(delay)
            except TimeoutError:
                if started:
                    raise ModelStalledError(
                        f"the model stream went silent for {self.stall_seconds:g} s mid-answer"
                    ) from None
                if attempt == self.attempts - 1:
                    raise ModelStalledError(
                        f"the model stream stayed silent for {self.stall_seconds:g} s on {self.attempts} attempts"
                    ) from None
                self.notify(f"model stream silent for {self.stall_seconds:g} s; cancelled and retrying")
            finally:
                closer = getattr(iterator, "aclose", None)
                if closer is not None:
                    with contextlib.suppress(Exception):  # closing an abandoned request
                        await closer()
