"""What every request body meets before the app parses it, and the one shape of an error answer.

``BodyGuard`` refuses bodies over the size limit (413), bodies not received in full in time (408) and
the NaN/Infinity literals that Python's json accepts but JSON does not (422); ``error_response`` is
``{"detail": ..., "request_id": ...}``, the body of every error the server gives.
"""

from __future__ import annotations

import re
from typing import Any
from collections.abc import Awaitable, Callable

import anyio
from fastapi.responses import JSONResponse

from dlzoo.serve.messages import nonfinite_literal
from dlzoo.serve.observe import request_id


class APIError(Exception):
    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def error_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"detail": ..., "request_id": ...}``: every error body names the request it answers."""
    return JSONResponse({"detail": detail, "request_id": request_id.get()}, status_code=status, headers=headers)


_NONFINITE = re.compile(rb"NaN|Infinity")


class BodyGuard:
    """ASGI middleware: refuse bodies over ``max_bytes`` (413), bodies not received in full within
    ``timeout_s`` (408: a slow or half-sent body no longer holds a connection open) and NaN/Infinity
    literals (422).

    Python's json module (and so FastAPI) accepts ``NaN``, ``Infinity`` and ``-Infinity``, which are
    not JSON. The body is read here in full, before anything parses it (stopping as soon as it is too
    large: a declared Content-Length over the limit is refused before reading), checked, and handed on
    to the app unchanged.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], *, max_bytes: int, timeout_s: float = 10.0) -> None:
        self.app, self.max_bytes, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _reply(scope, receive, send, 400, f"invalid Content-Length {declared.decode()!r}")
            if int(declared) > self.max_bytes:
                return await _reply(scope, receive, send, 413, self._too_large(int(declared)))
        chunks, size = [], 0
        with anyio.move_on_after(self.timeout_s) as reading:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    return await _reply(scope, receive, send, 413, self._too_large(size, at_least=True))
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        if reading.cancelled_caught:
            detail = (
                f"request body not received in full within {self.timeout_s:g} s ({size} bytes came); "
                f"send the whole body at once"
            )
            return await _reply(scope, receive, send, 408, detail, headers={"Connection": "close"})
        body = b"".join(chunks)
        if _NONFINITE.search(body):
            problem = nonfinite_literal(body)
            if problem:
                return await _reply(scope, receive, send, 422, problem)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self, size: int, *, at_least: bool = False) -> str:
        got = f"{'more than ' if at_least else ''}{size - 1 if at_least else size} bytes"
        return f"request body of {got} is over the limit of {self.max_bytes} bytes; send fewer examples per request"


async def _reply(
    scope: dict[str, Any],
    receive: Callable,
    send: Callable,
    status: int,
    detail: str,
    headers: dict[str, str] | None = None,
) -> None:
    await error_response(status, detail, headers)(scope, receive, send)
