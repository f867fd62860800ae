"""A request cancelled before its answer began gets 503, not uvicorn's bare 500.

uvicorn cancels the requests still running when SIGTERM's grace runs out
(``timeout_graceful_shutdown``, server/web/serving.py) and answers a cancelled request with
500 "Internal Server Error". Nothing went wrong with the request: the server is stopping, so
the client is told that and when to try again (RFC 9110 §15.6.4).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY = b"The server is shutting down and stopped this request; retry in a few seconds.\n"


class CancelledIsUnavailable:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except asyncio.CancelledError:
            if not started:  # one cancellation is delivered once: these sends still run
                await send({"type": "http.response.start", "status": 503, "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"), (b"retry-after", b"5"),
                    (b"content-length", str(len(BODY)).encode()), (b"connection", b"close")]})
                await send({"type": "http.response.body", "body": BODY})
            raise
