"""ETags, conditional requests and cache headers for read-only, versioned data.

Every route that answers ``If-None-Match`` goes through :func:`conditional` (or
:func:`conditional_sync` in a sync route): it answers 304
when the client holds the ETag, and otherwise builds the response and stamps it with the
ETag and cache headers (the same headers on both, as RFC 9110 §15.4.5 asks).

>>> etag_for("v1", "SELECT 1", "json")
'W/"v1-1d8a32e116bfaf9c"'
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

# Data changes only when a new dataset version is published; clients revalidate with ETag.
CACHE_DYNAMIC = "public, max-age=300, must-revalidate"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"


def etag_for(version: str, *parts: str) -> str:
    """A weak ETag over the dataset version and what selects the representation."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=8).hexdigest()
    return f'W/"{version}-{digest}"'


def query_etag(version: str, query: str, request) -> str:
    """The ETag of a SPARQL query's answer: the query, its formats and its dataset (a
    ``QueryRequest``'s fields)."""
    return etag_for(version, query, request.solutions_format, request.graph_format, *request.default_graphs, "|",
                    *request.named_graphs)


def not_modified(request: Request, etag: str, headers: dict[str, str]) -> Response | None:
    """A 304 when the client already holds ``etag`` (GET and HEAD only)."""
    if request.method not in ("GET", "HEAD"):
        return None
    candidates = request.headers.get("if-none-match")
    if not candidates:
        return None
    tags = {t.strip() for t in candidates.split(",")}
    if "*" in tags or etag in tags or etag.removeprefix("W/") in tags:
        return Response(status_code=304, headers={**headers, "ETag": etag})
    return None


async def conditional(request: Request, etag: str, respond: Callable[[], Response | Awaitable[Response]], *,
                      headers: dict[str, str] | None = None, cache_control: str = CACHE_DYNAMIC) -> Response:
    """304 if the client holds ``etag``; else ``respond()``'s response with the ETag and ``headers``.

    ``respond`` runs only when needed (it is where the queries are), sync or async; headers it
    sets itself (a ``Link`` known only once the data is read) win over ``headers``.
    """
    common = {"Cache-Control": cache_control, **(headers or {})}
    cached = not_modified(request, etag, common)
    if cached is not None:
        return cached
    response = respond()
    if inspect.isawaitable(response):
        response = await response
    return _stamped(response, etag, common)


def conditional_sync(request: Request, etag: str, respond: Callable[[], Response], *,
                     headers: dict[str, str] | None = None, cache_control: str = CACHE_DYNAMIC) -> Response:
    """:func:`conditional` for a sync route (one that runs in the threadpool)."""
    common = {"Cache-Control": cache_control, **(headers or {})}
    cached = not_modified(request, etag, common)
    if cached is not None:
        return cached
    return _stamped(respond(), etag, common)


def _stamped(response: Response, etag: str, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers.setdefault(name, value)
    response.headers["ETag"] = etag
    return response
