"""The FastAPI application: routers by audience, the backend on app.state via lifespan.

``create_app`` is the uvicorn factory (``uvicorn --factory server.web.app:create_app``).
"""

from __future__ import annotations

import warnings
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from server import __version__
from server.settings import Settings, get_settings
from server.engine.backend import open_backend
from server.web import errors, heap, templating
from server.web.compression import MINIMUM_SIZE, Compression
from server.web.fastpath import FastPathApp
from server.web.lane import LookupLane
from server.web.limits import ClientLimiter
from server.web.metrics import RequestMetrics
from server.web.querylog import open_query_log
from server.web.reload import InFlightMiddleware, reloading
from server.web.shutdown import CancelledIsUnavailable
from server.web.stalls import StallWatch, dump_on_signal
from server.web.routers import documents
from server.web.routers import dumps
from server.web.routers import meta
from server.web.routers import metrics as metrics_routes
from server.web.routers import pages
from server.web.routers import pictures
from server.web.routers import search
from server.web.routers import sparql
from server.web.routers import wellknown

def _openapi_with_unique_ids(app: FastAPI) -> dict:
    """FastAPI's OpenAPI, with one operationId per method: our GET routes also answer HEAD,
    and FastAPI would give both operations the same id."""
    if app.openapi_schema is None:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Duplicate Operation ID")
            schema = FastAPI.openapi(app)
        for operations in schema["paths"].values():
            for method, operation in operations.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    base = operation["operationId"].rsplit("_", 1)[0]
                    operation["operationId"] = f"{base}_{method}"
    return app.openapi_schema


# FastAPI's native OpenTelemetry asks the global providers on every request whether it is
# on (measured ~10 µs per lookup); ARKG does not use it.
_NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}

CORS = {"allow_origins": ["*"], "allow_credentials": False, "allow_methods": ["GET", "HEAD", "POST", "OPTIONS"],
        "allow_headers": ["*"], "expose_headers": ["ETag", "Content-Location", "Location", "Retry-After"],
        "max_age": 86400}

DESCRIPTION = """ARKG, the Afghan Resistance Knowledge Graph: attributed, possibly contested claims
from five news articles (2021-2022) as linked data. A read-only SPARQL 1.1 endpoint,
dereferenceable entity URIs and dumps. Data licence: CC BY 4.0."""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; ``settings`` default to the process's (flags and ARKG_* variables)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        with StallWatch(after=settings.stall_report_after):  # a loop held for seconds leaves its stack in the log
            dump_on_signal()  # and `kill -USR2` asks for them (web/stalls.py)
            backend = open_backend(settings)
            await backend.start()
            app.state.backend = backend
            templating.compile_all()  # the first page of each kind does not wait for Jinja
            heap.settle()  # start-up's objects out of the collector's sight (web/heap.py)
            try:
                async with reloading(app, settings):  # SIGHUP: validate, start, swap (server/web/reload.py)
                    yield
            finally:
                await app.state.backend.close()
                if app.state.query_log is not None:
                    app.state.query_log.close()  # the lines still held (web/querylog.py)

    app = FastPathApp(title="ARKG", version=__version__, description=DESCRIPTION, lifespan=lifespan, telemetry=_NO_TELEMETRY,
                  license_info={"name": "Data: CC BY 4.0; code: MIT"})
    app.state.settings = settings
    app.dependency_overrides[get_settings] = lambda: settings
    errors.install(app)
    app.state.limiter = ClientLimiter.from_settings(settings) if settings.rate_limit else None
    app.state.query_log = open_query_log(settings)  # web/querylog.py; None when switched off
    app.add_middleware(InFlightMiddleware)
    app.add_middleware(CancelledIsUnavailable)  # SIGTERM's grace ran out: 503, not uvicorn's 500
    app.add_middleware(Compression)
    app.add_middleware(CORSMiddleware, **CORS)
    app.add_middleware(RequestMetrics)  # outermost: counts every answer as the client gets it
    app.openapi = lambda: _openapi_with_unique_ids(app)
    # bounded lookups skip the layers above (web/lane.py), with the same headers
    app.lane = LookupLane(app, cors_headers=CORSMiddleware(None, **CORS).simple_headers, gzip_minimum=MINIMUM_SIZE)
    for router in (sparql.router, meta.router, documents.router, pages.router, dumps.router, wellknown.router, search.router):
        app.include_router(router)
    app.include_router(metrics_routes.router)  # /metrics
    app.include_router(pictures.router)  # /pictures/..., /contested
    return app
