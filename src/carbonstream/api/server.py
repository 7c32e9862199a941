"""Running the API under uvicorn so that open live streams end at shutdown.

uvicorn waits for open responses before it stops, and an event stream never
ends by itself: on the exit signal the app's :class:`~carbonstream.domain.live.LiveHub`
is closed first, every stream sends ``bye`` and returns, and uvicorn stops at
once. ``timeout_graceful_shutdown`` is the backstop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from types import FrameType

import uvicorn
from fastapi import FastAPI

GRACEFUL_S = 5


class ApiServer(uvicorn.Server):
    def __init__(self, app: FastAPI, config: uvicorn.Config, *, own_signals: bool = True) -> None:
        super().__init__(config)
        self.app = app
        self.own_signals = own_signals

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.app.state.live.close()
        super().handle_exit(sig, frame)

    def stop(self) -> None:
        """Stop from the serving loop (the demo's own signal handling)."""
        self.app.state.live.close()
        self.should_exit = True

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if self.own_signals:
            with super().capture_signals():
                yield
        else:
            yield


def config(app: FastAPI, host: str, port: int, log_level: str = "info") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        timeout_graceful_shutdown=GRACEFUL_S,
        lifespan="on",
        server_header=False,  # no "server: uvicorn": the stack is nobody's business
    )


def run(app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
    ApiServer(app, config(app, host, port, log_level)).run()
