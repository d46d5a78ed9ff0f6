"""Request body size limits: an ASGI middleware that answers 413 before a large body is read into memory."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _human(n: int) -> str:
    return f"{n // 1_048_576} MB" if n % 1_048_576 == 0 else f"{n} bytes"


class BodySizeLimit:
    """Refuse request bodies above `json_limit` bytes (`upload_limit` for multipart file uploads) with 413.

    A declared Content-Length above the limit is refused at once; a chunked body is counted as it arrives and
    refused as soon as it passes the limit, so an oversized body is never held in memory whole.

    (FastAPI's own `max_body_size` does the counting too, but answers a declared oversize body with a plain-text
    "Content Too Large" that replaces any JSON answer, which would break the error envelope of the contract.)
    """

    def __init__(self, app: ASGIApp, *, json_limit: int, upload_limit: int) -> None:
        self.app, self.json_limit, self.upload_limit = app, json_limit, upload_limit

    def _limit(self, scope: Scope) -> int:
        for name, value in scope.get("headers", ()):
            if name == b"content-type" and value.lower().startswith(b"multipart/"):
                return self.upload_limit
        return self.json_limit

    @staticmethod
    def _message(limit: int, size: int | None) -> str:
        got = f" ({size} bytes)" if size is not None else ""
        return (f"the request body{got} is larger than this path accepts ({_human(limit)}); send less per request, "
                "e.g. split a bulk request")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None
        if declared is not None and declared > limit:
            body = json.dumps({"error": {"code": "request.too_large", "message": self._message(limit, declared),
                                         "details": {"limit_bytes": limit}}}).encode()
            await send({"type": "http.response.start", "status": 413,
                        "headers": [(b"content-type", b"application/json"), (b"connection", b"close"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, detail=self._message(limit, None))
            return message

        await self.app(scope, counted, send)
