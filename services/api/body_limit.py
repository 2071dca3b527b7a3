"""Refuse request bodies larger than a limit, whether or not they declare their length.

A declared ``Content-Length`` over the limit is refused before anything is read; a chunked body
is read up to the limit and refused as soon as it passes it. Either way the client gets a 413
problem and the application never sees the request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from services.api.problems import PROBLEM_JSON, problem_document

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Every request's limit but the few paths given a larger one: a JSON command is far smaller.
MAX_BODY_BYTES = 1_000_000


def too_large(limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The 413 problem of a body over ``limit`` bytes."""
    return problem_document(413, "body_too_large", f"The body is larger than {limit} bytes.")


class BodyLimit:
    """``max_bytes`` for every request, except the paths in ``larger`` (a POST's exact path →
    its own limit): a payer's remittance file is larger than any JSON command."""

    def __init__(self, app: ASGIApp, max_bytes: int, larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        if scope.get("method") == "POST":
            limit = self.larger.get(str(scope.get("path", "")).rstrip("/"), limit)
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        body = json.dumps(too_large(limit)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
