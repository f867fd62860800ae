"""gzip when the client asks for it, except for dumps.

/dumps/ responses carry strong ETags, Content-Length and byte ranges that on-the-fly
compression would break, and .gz variants of the dumps exist.

Responses to clients that do not accept gzip only gain ``Vary: Accept-Encoding`` (a cache
must not hand them a compressed copy). Starlette's identity responder does that by
parsing the response headers into objects, about 40 µs per request, more than a lookup
query costs; here it is one list append.

>>> _with_vary([(b"vary", b"Accept"), (b"etag", b"x")])
[(b'vary', b'Accept, Accept-Encoding'), (b'etag', b'x')]
>>> _with_vary([])
[(b'vary', b'Accept-Encoding')]
>>> _accepts_gzip({"headers": [(b"accept-encoding", b"br, gzip;q=0.8")]}), _accepts_gzip({"headers": []})
(True, False)
"""

from __future__ import annotations

import zlib

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import Message, Receive, Scope, Send

MINIMUM_SIZE = 1024  # bytes: smaller answers go out as they are
LEVEL = 9  # GZipMiddleware's default


def gzip_whole(body: bytes) -> bytes:
    """``body`` gzipped exactly as :class:`Compression` sends a one-part body (web/lane.py
    answers without the middleware).

    >>> import gzip; gzip.decompress(gzip_whole(b"abc" * 500)) == b"abc" * 500
    True
    """
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return compressor.compress(body) + compressor.flush()


def _accepts_gzip(scope: Scope) -> bool:
    return any(name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"])


def _with_vary(headers) -> list[tuple[bytes, bytes]]:
    out, found = [], False
    for name, value in headers:
        if name == b"vary" and not found:
            value, found = value + b", Accept-Encoding", True
        out.append((name, value))
    if not found:
        out.append((b"vary", b"Accept-Encoding"))
    return out


class Compression(GZipMiddleware):
    """Starlette's GZipMiddleware for the requests that accept gzip; see the module docstring."""

    def __init__(self, app, minimum_size: int = MINIMUM_SIZE):
        super().__init__(app, minimum_size=minimum_size, compresslevel=LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/dumps/"):
            await self.app(scope, receive, send)
        elif _accepts_gzip(scope):
            await super().__call__(scope, receive, send)
        else:
            async def send_identity(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": _with_vary(message.get("headers", ()))}
                await send(message)

            await self.app(scope, receive, send_identity)
