"""The one mapping from errors to HTTP responses.

Every refusal carries a message that says what to fix. Errors are plain text unless the
client prefers HTML (browsers), in which case they are a short escaped page.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import PlainTextResponse, Response, HTMLResponse

from server.model import formats
from server.sparql.guard import GuardError, ReadOnlyError
from server.sparql.protocol import ProtocolError
from server.engine.errors import (EngineUnavailable, QueryCrashedWorker, QueryError, QueryEvaluationError,
                                  QueryRejected, QueryStopped, QuerySyntaxError, ResultTooLarge)


class ClientError(Exception):
    """A request this server refuses; ``status`` is the 4xx to answer with."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def error_response(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Render one error; HTML for clients that prefer it, plain text otherwise."""
    headers = dict(headers or {})
    headers.setdefault("Cache-Control", "no-store")
    wants_html = False
    try:
        wants_html = formats.negotiate(request.headers.get("accept"), [formats.TURTLE, formats.HTML]) is formats.HTML \
            and "text/html" in (request.headers.get("accept") or "")
    except formats.NotAcceptable:
        pass
    if wants_html:
        page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{status} · ARKG</title></head>"
                f"<body><h1>{status}</h1><p>{escape(message)}</p><p><a href=\"/\">ARKG home</a></p></body></html>")
        return HTMLResponse(page, status_code=status, headers=headers)
    return PlainTextResponse(message + "\n", status_code=status, headers=headers)


# The one table from errors to statuses, most specific first (ProtocolError and ClientError
# carry their own 4xx: they are this layer's).
STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (ReadOnlyError, 403),
    (GuardError, 400),
    (formats.NotAcceptable, 406),
    (formats.UnknownFormat, 400),
    (ResultTooLarge, 413),
    (QuerySyntaxError, 400),
    (QueryEvaluationError, 400),
    (QueryCrashedWorker, 400),
    (QueryRejected, 400),
    (QueryStopped, 503),  # time limit, preempted: the service is busy, not the query wrong
    (EngineUnavailable, 503),
    (QueryError, 500),
)
RETRY_LATER = (QueryStopped, EngineUnavailable)  # answered with Retry-After


def status_of(exc: Exception) -> int:
    """The HTTP status for ``exc``."""
    if isinstance(exc, (ClientError, ProtocolError)):
        return exc.status
    return next((status for cls, status in STATUSES if isinstance(exc, cls)), 500)


def message_of(exc: Exception) -> str:
    """What to tell the client about ``exc``."""
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, QueryRejected) and status_of(exc) == 400 and not message.startswith("SPARQL"):
        message = f"SPARQL query error: {message}"  # the engine's message alone names no culprit
    return message


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    async def known(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ClientError):
            return error_response(request, exc.status, exc.message, exc.headers)
        headers = None
        if isinstance(exc, RETRY_LATER):
            headers = {"Retry-After": "5"}
        elif isinstance(exc, formats.NotAcceptable):
            headers = {"Vary": "Accept"}
        return error_response(request, status_of(exc), message_of(exc), headers)

    for cls in (ClientError, ProtocolError, GuardError, formats.NotAcceptable, formats.UnknownFormat, QueryError):
        app.add_exception_handler(cls, known)

    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors())
        return error_response(request, 400, f"Invalid request parameters: {problems}")

    async def unexpected(request: Request, exc: Exception) -> Response:
        return error_response(request, 500, "Internal error; it has been logged. Please report it (see SECURITY.md).")

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, unexpected)
