"""Request guards that run before any route: a request-body size limit and bearer-token authentication.

The size limit is ASGI middleware rather than a route check because by the time a route runs, FastAPI has
already read (and for multipart, spooled to disk) the whole body.  It refuses a declared
`Content-Length` over the limit without reading anything, and stops a chunked body as soon as it passes
the limit.
"""

from __future__ import annotations

import hmac
import json

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from valle.serve.errors import ApiError


class BodySizeLimit:
    """ASGI middleware answering 413 (JSON error) to request bodies over `max_bytes`."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, int(declared))
            return
        seen = 0
        started = too_large = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request" and not started:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Stop the app's read as if the client left; its answer to that is replaced below.
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not too_large:
                raise
        if too_large:
            await self._refuse(send, seen)

    async def _refuse(self, send: Send, size: int) -> None:
        message = (f"the request body is {size:,} bytes or more; this server accepts at most "
                   f"{self.max_bytes:,} bytes")  # fmt: skip
        body = json.dumps({"error": {"message": message, "type": "request_too_large", "param": None,
                                     "code": 413}}).encode()  # fmt: skip
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]  # fmt: skip
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """FastAPI dependency: require `Authorization: Bearer <api_key>` when a key is configured."""

    def __init__(self, api_key: str | None) -> None:
        self.api_key = api_key

    async def __call__(self, request: Request) -> None:
        if self.api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        # compare_digest: the time taken must not reveal how much of a guessed key was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self.api_key.encode()):
            reason = "no bearer token was sent" if not header else "the bearer token is wrong"
            raise ApiError(401, f"{reason}; send the header 'Authorization: Bearer <api key>'",
                           headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
