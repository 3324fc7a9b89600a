"""Request bodies over ``LEADSCORE_MAX_REQUEST_BYTES`` get a 413 in the API's error shape.

A declared length over the limit is refused before a byte of the body is read; a body sent
without one (chunked) is counted as it arrives and stopped where it passes the limit. Without
this, an oversized batch was read whole before its 422.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.schemas.responses import ErrorOut


class BodyLimit:
    """Pure ASGI (nothing read ahead)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # answered here: this middleware sits outside the app's exception handlers
            body = ErrorOut(error="content_too_large", detail=self._detail(f"{int(declared):,}"))
            await JSONResponse(body.model_dump(), status_code=413)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:  # raised in the endpoint: the 413 handler answers
                raise HTTPException(413, self._detail(f"more than {self.max_bytes:,}"))
            return message

        await self.app(scope, counted, send)

    def _detail(self, size: str) -> str:
        return (
            f"the request body is {size} bytes; the API reads at most {self.max_bytes:,} "
            "(LEADSCORE_MAX_REQUEST_BYTES): send fewer leads per request"
        )
