"""ETags, conditional requests and cache headers for read-only, versioned data.

>>> etag_for("v1", "SELECT 1", "json")
'W/"v1-1d8a32e116bfaf9c"'
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

# Data changes only when a new dataset version is published; clients revalidate with ETag.
CACHE_DYNAMIC = "public, max-age=300, must-revalidate"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"


def etag_for(version: str, *parts: str) -> str:
    """A weak ETag over the dataset version and what selects the representation."""
    digest = hashlib.blake2b("\x00".join(parts).encode("utf-8"), digest_size=8).hexdigest()
    return f'W/"{version}-{digest}"'


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
