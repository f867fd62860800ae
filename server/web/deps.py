"""FastAPI dependencies: the settings, the backend, the URL map. Override them in tests.

Routes that run queries for a client take :func:`get_metered_backend` (or call
:func:`metered_backend` on the lean SPARQL routes): the backend wrapped so that every query
is charged to the client that caused it (server/web/limits.py: ``MeteredBackend``). New
routes (search, pictures...) use it too; the bare :func:`get_backend` is for what the
server does for itself (health, statistics computed once per dataset version).
"""

from __future__ import annotations

from typing import AsyncIterator

from fastapi import Depends, Request

from server.settings import Settings, get_settings
from server.engine.backend import Backend
from server.model.urls import UrlMap
from server.web.limits import MeteredBackend, client_key


def get_backend(request: Request) -> Backend:
    """The backend the lifespan put on ``app.state``."""
    return request.app.state.backend


def metered_backend(request: Request) -> MeteredBackend:
    """The backend as the client of ``request`` sees it; call ``release()`` when done."""
    return MeteredBackend(request.app.state.backend, getattr(request.app.state, "limiter", None), client_key(request))


async def get_metered_backend(request: Request) -> AsyncIterator[MeteredBackend]:
    """:func:`metered_backend` for one request; its concurrency slot is held until the route returns."""
    metered = metered_backend(request)
    try:
        yield metered
    finally:
        await metered.release()


def get_urls(settings: Settings = Depends(get_settings)) -> UrlMap:
    return UrlMap(settings.public_url, settings.base_iri)
