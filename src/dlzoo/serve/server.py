"""``dlzoo serve``'s uvicorn glue: one or several worker processes, and a deadline on request headers.

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` seconds but waits forever
for the headers of a request (a client that connects and sends nothing, or half a request line, holds
its connection open). The protocol classes here close a connection whose request headers have not all
arrived ``header_timeout_s`` after it opened or after its last response. The body has a deadline of its
own (``guard.BodyGuard``, 408). Importing this module needs uvicorn (the ``[serve]`` extra).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from dlzoo.serve.settings import ENV, KEY_ENV, ServeSettings


class _HeaderDeadline:
    """Mixin for a uvicorn HTTP protocol: close the connection when no request is under way
    ``header_timeout_s`` after the connection opened or its last response was sent."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _deadline: asyncio.TimerHandle | None = None

    header_timeout_s: float | None = None  # read once from the settings in the environment

    def _timeout(self) -> float:
        cls = type(self)
        if cls.header_timeout_s is None:
            cls.header_timeout_s = ServeSettings.from_env().body_timeout_s
        return cls.header_timeout_s

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self._timeout(), self._expire)

    def _expire(self) -> None:
        idle = self.cycle is None or self.cycle.response_complete  # no request whose headers all came
        if idle and not self.transport.is_closing():
            self.transport.close()


class H11WithDeadline(_HeaderDeadline, H11Protocol):
    pass


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HttpToolsWithDeadline(_HeaderDeadline, HttpToolsProtocol):
        pass

    PROTOCOL: type = HttpToolsWithDeadline
except ImportError:  # httptools is optional in uvicorn: h11 then
    PROTOCOL = H11WithDeadline


def run(settings: ServeSettings, *, host: str, port: int, workers: int) -> None:
    """Serve with uvicorn: each worker builds the app from the settings in the environment."""
    import uvicorn

    os.environ[ENV] = settings.to_env()
    if settings.api_key:
        os.environ[KEY_ENV] = settings.api_key
    uvicorn.run(
        "dlzoo.serve.settings:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        http=PROTOCOL,
        timeout_keep_alive=5,
        access_log=False,  # the app logs one line per request, with its request id (observe.py)
    )
