"""A shorter ASGI stack for the busiest routes, with the same middleware and error handling.

FastAPI wraps every request in its own layers (telemetry, body-size limit, exit stacks,
router inclusion contexts, dependency solving) before and after the app's middleware. For
``/sparql``, where a lookup query costs the engine about 0.15 ms, those layers measured
about 0.1 ms of CPU per request in-process and more under load (bench/README.md). Routes
declared with ``route_class=RequestOnlyRoute`` take only the request, return a Response
and declare no dependencies, so none of those layers does anything for them.

:class:`FastPathApp` serves such routes through Starlette's plain stack built from the
*same* pieces the full app uses: ``ServerErrorMiddleware`` with the app's 500 handler,
the app's user middleware (CORS, gzip, ...) in the same order, ``ExceptionMiddleware``
with the app's exception handlers, and the same endpoint functions. Everything else
(other paths, other methods such as the CORS preflight ``OPTIONS``, lifespan) goes
through FastAPI's full stack, and the routes stay in FastAPI's router for OpenAPI.

>>> from fastapi import APIRouter
>>> from starlette.responses import PlainTextResponse
>>> from starlette.testclient import TestClient
>>> router = APIRouter(route_class=RequestOnlyRoute)
>>> @router.get("/hi")
... async def hi(request):
...     return PlainTextResponse("hi " + request.app.title)
>>> app = FastPathApp(title="t")
>>> app.include_router(router)
>>> TestClient(app).get("/hi").text, sorted(app.fast_paths())
('hi t', ['/hi'])
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send


# Private parts of FastAPI and Starlette this module relies on (build_middleware_stack's
# layers, iter_route_contexts, the exception-handler split): the versions it was written for,
# pinned in pyproject.toml and checked by tests/web/test_library_pins.py. What the short
# stack buys is measured in bench/README.md ("Private internals").
WRITTEN_FOR = {"fastapi": "0.165", "starlette": "1.10"}


class RequestOnlyRoute(APIRoute):
    """A route whose endpoint takes the request and returns a Response, called directly.

    FastAPI's own handler solves dependencies, parses the query string again and looks
    for a body to validate even for an endpoint that declares none. Exception handlers,
    middleware and the OpenAPI description are unchanged.
    """

    def get_route_handler(self):
        endpoint = self.endpoint

        async def handle(request: Request) -> Response:
            return await endpoint(request)

        return handle


class _Dispatch:
    """Sends requests for the fast routes' paths and methods to the short stack."""

    def __init__(self, full: ASGIApp, fast: ASGIApp, methods: dict[str, set[str]], app: "FastPathApp"):
        self.full, self.fast, self.methods, self.app = full, fast, methods, app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.app.lane is not None and await self.app.lane(scope, send):
            return
        if scope["type"] == "http" and scope["method"] in self.methods.get(scope["path"], ()):
            scope["app"] = self.app  # what Starlette.__call__ would have set
            await self.fast(scope, receive, send)
        else:
            await self.full(scope, receive, send)


class FastPathApp(FastAPI):
    """FastAPI whose :class:`RequestOnlyRoute` routes are served by a shorter stack.

    ``lane``, when set, is offered every HTTP request first: an ``async (scope, send) -> bool``
    that answers the request and returns True, or returns False having done nothing
    (web/lane.py answers bounded SPARQL lookups that way).
    """

    lane = None

    def fast_routes(self) -> list[tuple[str, RequestOnlyRoute]]:
        """(full path, route) of every RequestOnlyRoute, included routers' prefixes applied."""
        # FastAPI 0.165 keeps an included router as one wrapper with its prefix.
        found = [(c.path, c.original_route) for c in iter_route_contexts(self.router.routes)]
        return [(path, route) for path, route in found if isinstance(route, RequestOnlyRoute)]

    def fast_paths(self) -> set[str]:
        return {path for path, _ in self.fast_routes()}

    def build_middleware_stack(self) -> ASGIApp:
        full = super().build_middleware_stack()
        routes = self.fast_routes()
        if not routes and self.lane is None:
            return full
        methods: dict[str, set[str]] = {}
        for path, route in routes:
            if "{" in path:  # exact-path dispatch only
                raise ValueError(f"RequestOnlyRoute {path} has path parameters; declare it as a normal route")
            methods.setdefault(path, set()).update(route.methods or ())
        error_handler, handlers = None, {}
        for key, value in self.exception_handlers.items():  # as Starlette splits them
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        fast: ASGIApp = Router(routes=[Route(path, r.endpoint, methods=list(r.methods or ()), name=r.name)
                                       for path, r in routes])
        stack = ([Middleware(ServerErrorMiddleware, handler=error_handler, debug=self.debug)]
                 + self.user_middleware
                 + [Middleware(ExceptionMiddleware, handlers=handlers, debug=self.debug)])
        for cls, args, kwargs in reversed(stack):
            fast = cls(fast, *args, **kwargs)
        return _Dispatch(full, fast, methods, self)
