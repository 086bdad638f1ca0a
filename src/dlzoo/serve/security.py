"""An optional API key: ``Authorization: Bearer <key>`` on every endpoint but ``/healthz`` (and the
playground page ``/``, static HTML whose API calls send the key typed into it).

The key comes from ``dlzoo serve --api-key`` or the environment variable ``DLZOO_API_KEY``; it is
compared with ``hmac.compare_digest`` (time independent of where the strings differ). ``dlzoo serve``
refuses to listen on a non-loopback address without a key unless told ``--insecure`` (see ``is_loopback``).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import JSONResponse

from dlzoo.serve.observe import request_id

OPEN_PATHS = frozenset({"/healthz", "/"})  # the playground page holds no data: its API calls need the key


class ApiKey:
    """ASGI middleware: 401 with a one-line reason unless the request carries the key."""

    def __init__(self, app: Callable[..., Awaitable[None]], *, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            return await self.app(scope, receive, send)
        header = dict(scope["headers"]).get(b"authorization")
        if header is None:
            problem = "this server needs an API key: send the header Authorization: Bearer <key>"
        else:
            scheme, _, token = header.partition(b" ")
            if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
                return await self.app(scope, receive, send)
            problem = "invalid API key: send the header Authorization: Bearer <key> with the server's key"
        response = JSONResponse(
            {"detail": problem, "request_id": request_id.get()},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: addresses only this machine can reach."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: may resolve to anything
        return False
