"""Refuse a JSON body in which one object names the same key twice.

RFC 8259 leaves a repeated key to the parser, and Python's (so FastAPI's) keeps the last one in
silence: a payment sent as ``{"amount": "1.00", ..., "amount": "1000.00"}`` would be recorded
as 1000.00, while a proxy, a log or the client's own code may well have read 1.00. So the body
of a POST, PUT or PATCH that FastAPI would read as JSON is parsed once more here, with a hook
that stops at the first key repeated within one object, at any depth: the request is answered
422 ``duplicate_json_key`` naming the key, and the application never sees it. Otherwise the
same bytes go on unchanged; a body that is not JSON at all is left for FastAPI to refuse in
its usual words.

It runs inside ``BodyLimit``, so the body it reads is already bounded, and it costs one parse
of bodies that are small by design.
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

DUPLICATE_JSON_KEY = "duplicate_json_key"
_METHODS = frozenset({"POST", "PUT", "PATCH"})


class _RepeatedKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_repeats(pairs: list[tuple[str, Any]]) -> None:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen.add(key)
    # Only the check matters: nothing is built from the parse.


def repeated_key(body: bytes) -> str | None:
    """The first key an object of ``body`` repeats; ``None`` when none does or it is not JSON."""
    try:
        json.loads(body, object_pairs_hook=_no_repeats)
    except _RepeatedKey as repeated:
        return repeated.key
    except (ValueError, RecursionError):
        return None
    return None


def _read_as_json(scope: Scope) -> bool:
    # FastAPI reads a body as JSON when it has no content type, or a JSON one (``+json`` too).
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            media_type: bytes = value.split(b";", 1)[0].strip().lower()
            return media_type == b"application/json" or media_type.endswith(b"+json")
    return True


class RefuseDuplicateKeys:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS or not _read_as_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        key = repeated_key(body)
        if key is not None:
            await self._refuse(send, key)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, key: str) -> None:
        detail = (
            f"The key {key!r} appears more than once in one object of the body; send each key once."
        )
        body = json.dumps(problem_document(422, DUPLICATE_JSON_KEY, detail, key)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
