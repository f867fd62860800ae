"""FastAPI dependencies: the settings, the backend, the URL map. Override them in tests."""

from __future__ import annotations

from fastapi import Depends, Request

from server.settings import Settings, get_settings
from server.engine.backend import Backend
from server.model.urls import UrlMap


def get_backend(request: Request) -> Backend:
    """The backend the lifespan put on ``app.state``."""
    return request.app.state.backend


def get_urls(settings: Settings = Depends(get_settings)) -> UrlMap:
    return UrlMap(settings.public_url, settings.base_iri)
