"""The HTTP API of SPEC §6 (Starlette, served by uvicorn): routes.py answers the calls, errors.py the
failures, middleware.py checks the token and logs; this module assembles them and runs the clocks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware

from deep_insight_executor.config import ExecutorConfig
from deep_insight_executor.errors import EXCEPTION_HANDLERS
from deep_insight_executor.middleware import AuthAndLogging
from deep_insight_executor.routes import ROUTES
from deep_insight_executor.state import ExecutorState

log = logging.getLogger("deep_insight_executor.http")
EXPIRY_INTERVAL_SECONDS = 5.0


def create_app(config: ExecutorConfig, request_exit: Callable[[], None] | None = None) -> Starlette:
    state = ExecutorState(config, request_exit)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        config.workdir.mkdir(parents=True, exist_ok=True)

        # Check often enough that no timeout is overshot by more than a quarter of itself.
        interval = max(
            0.25, min(EXPIRY_INTERVAL_SECONDS, config.idle_timeout_seconds / 4, config.session_timeout_seconds / 4)
        )

        async def expire_forever() -> None:
            while True:
                await asyncio.sleep(interval)
                await state.sessions.expire()
                pinned_unused = config.session_id is not None and config.session_id not in state.sessions.sessions
                if pinned_unused and time.monotonic() - state.started > config.session_timeout_seconds:
                    state.finish("session timeout before any call")

        expiry = asyncio.create_task(expire_forever())

        async def warm_up() -> None:
            await state.sessions.warm_font_cache()
            state.sessions.start_spare()

        font_cache = asyncio.create_task(warm_up())
        log.info(state.sessions.disk_summary, extra={"event": "disk_quota"})
        log.info("executor ready", extra={"event": "ready"})
        try:
            yield
        finally:
            state.shutting_down = True
            expiry.cancel()
            font_cache.cancel()
            await state.sessions.close_all()
            log.info("executor stopped", extra={"event": "stopped"})

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(AuthAndLogging)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.executor = state
    return app
