"""Dump downloads: ``/dumps/`` (index), ``/dumps/{version}/{file}``, ``/dumps/latest/{file}``.

Thin over :mod:`server.publish.dumps`, which builds and reads the version directories.

- ``/dumps/`` and ``/dumps/{version}/``: the builds and their files with sizes and
  checksums; HTML for browsers, JSON otherwise (``formats.negotiate``).
- ``/dumps/{version}/{file}``: the file, with its media type (``.gz`` files as
  ``application/gzip``, without ``Content-Encoding``: they are downloads to keep
  compressed), ``Content-Length``, a strong ``ETag`` (its SHA-256), ``Cache-Control:
  immutable``, ``304`` on ``If-None-Match``, and byte ranges (``206``; ``416`` past the end;
  ``If-Range``) by Starlette's ``FileResponse``.
- ``/dumps/latest/{file}``: ``302`` to the file in the version being served.

Only files that a build lists in its ``SHA256SUMS`` are ever served: a request naming
anything else (``..``, encoded slashes, other files) is a 404, whatever the path.

Over the embedded store, the dumps of the served version are built when missing: at
startup (this router's lifespan) and, after a dataset reload, on the first request that
needs them (about a second and a half for this dataset).
"""

from __future__ import annotations

import logging
import os
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from server.publish import dumps
from server.model import formats
from server.settings import Settings, get_settings
from server.engine.backend import Backend
from server.model.namespaces import LICENCE
from server.model.urls import UrlMap
from server.web.caching import CACHE_DYNAMIC, CACHE_IMMUTABLE, etag_for, not_modified
from server.web.deps import get_backend, get_urls
from server.web.errors import ClientError
from server.web.templating import TEMPLATE_DIGEST, render

log = logging.getLogger("arkg.dumps")

INDEX_JSON = formats.Format("json", "application/json")
INDEX_FORMATS = [INDEX_JSON, formats.HTML]  # JSON unless the client prefers HTML (browsers do)


async def served_build(backend: Backend, settings: Settings) -> dumps.Build | None:
    """The dumps of the served version (built on first need over the embedded store), or None."""
    started = time.monotonic()
    try:
        build = await run_in_threadpool(dumps.served_build, backend, settings)
    except Exception as exc:  # e.g. an unwritable dumps_dir: the endpoint keeps serving, without dumps
        log.warning("could not build the dumps in %s: %s", settings.dumps_dir, exc)
        return None
    if time.monotonic() - started > 0.5:
        log.info("dumps of %s built in %.2f s", backend.info.version, time.monotonic() - started)
    return build


@asynccontextmanager
async def build_missing_dumps(app):
    """At startup, build the dumps of the served version if there are none (embedded store only)."""
    backend = getattr(app.state, "backend", None)
    if backend is not None:
        await served_build(backend, app.state.settings)
    yield


router = APIRouter(tags=["dumps"], lifespan=build_missing_dumps)


def _listing(builds: list[dumps.Build], current: str, urls: UrlMap) -> list[dict]:
    out = []
    for b in builds:
        files = [{"name": f.name, "url": f"{urls.public_url}dumps/{b.version}/{f.name}", "size": f.size,
                  "sha256": f.sha256, "media_type": f.media_type,
                  "description": f.kind.title if f.kind else _DESCRIPTIONS.get(f.name, "")} for f in b.files]
        out.append({"version": b.version, "current": b.version == current,
                    "built_at": datetime.fromtimestamp(b.built_at, timezone.utc).isoformat(timespec="seconds"),
                    "url": f"{urls.public_url}dumps/{b.version}/", "files": files})
    return out


_DESCRIPTIONS = {dumps.VOID_FILE: "VoID and DCAT description of this version (canonical URLs)",
                 dumps.SUMS_FILE: "SHA-256 checksums of the files above"}


async def _index(request: Request, builds: list[dumps.Build], backend: Backend, urls: UrlMap) -> Response:
    fmt = formats.negotiate(request.headers.get("accept"), INDEX_FORMATS)
    headers = {"Vary": "Accept", "Cache-Control": CACHE_DYNAMIC}
    current = backend.info.version
    etag = etag_for(current, "dumps-index", fmt.name, TEMPLATE_DIGEST, urls.public_url,
                    *(f"{b.version}:{b.file(dumps.SUMS_FILE).sha256}" for b in builds))
    cached = not_modified(request, etag, headers)
    if cached is not None:
        return cached
    headers["ETag"] = etag
    listing = _listing(builds, current, urls)
    if fmt is formats.HTML:
        html = await render("dumps.html", urls=urls, version=current, licence=LICENCE, builds=listing, current=current)
        return HTMLResponse(html, headers=headers)
    body = {"current_version": current, "latest": f"{urls.public_url}dumps/latest/", "license": LICENCE,
            "description": f"{urls.public_url}.well-known/void", "versions": listing}
    return JSONResponse(body, headers=headers)


@router.api_route("/dumps/", methods=["GET", "HEAD"], summary="Index of the dumps (HTML or JSON)")
async def index(request: Request, backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
                urls: UrlMap = Depends(get_urls)) -> Response:
    await served_build(backend, settings)
    builds = await run_in_threadpool(dumps.list_builds, settings.dumps_dir)
    return await _index(request, builds, backend, urls)


async def _current_build(backend: Backend, settings: Settings) -> dumps.Build:
    build = await served_build(backend, settings)
    if build is None:
        raise ClientError(404, f"No dumps of the served dataset version {backend.info.version} have been built; "
                               "run `arkg build` (see /dumps/ for the versions that exist).")
    return build


@router.api_route("/dumps/latest/", methods=["GET", "HEAD"], summary="Redirect (302) to the current version's dumps")
async def latest_index(backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
                 urls: UrlMap = Depends(get_urls)) -> Response:
    build = await _current_build(backend, settings)
    return RedirectResponse(f"{urls.public_url}dumps/{build.version}/", status_code=302,
                            headers={"Cache-Control": CACHE_DYNAMIC})


@router.api_route("/dumps/latest/{name}", methods=["GET", "HEAD"], summary="Redirect (302) to a file of the current version")
async def latest_file(name: str, backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
                urls: UrlMap = Depends(get_urls)) -> Response:
    build = await _current_build(backend, settings)
    if build.file(name) is None:
        raise ClientError(404, f"No dump file named {name[:100]!r}; the files are: "
                               + ", ".join(f.name for f in build.files) + ".")
    return RedirectResponse(f"{urls.public_url}dumps/{build.version}/{name}", status_code=302,
                            headers={"Cache-Control": CACHE_DYNAMIC})


@router.api_route("/dumps/{version}/", methods=["GET", "HEAD"], summary="The files of one version (HTML or JSON)")
async def version_index(request: Request, version: str, backend: Backend = Depends(get_backend),
                        settings: Settings = Depends(get_settings), urls: UrlMap = Depends(get_urls)) -> Response:
    build = await run_in_threadpool(dumps.read_build, settings.dumps_dir, version)
    if build is None:
        raise ClientError(404, f"No dumps of version {version[:100]!r}; see /dumps/ for the versions that exist.")
    return await _index(request, [build], backend, urls)


@router.api_route("/dumps/{version}/{name}", methods=["GET", "HEAD"], summary="One dump file (byte ranges supported)")
def dump_file(request: Request, version: str, name: str, settings: Settings = Depends(get_settings)) -> Response:
    build = dumps.read_build(settings.dumps_dir, version)
    found = build.file(name) if build is not None else None
    if found is None:
        raise ClientError(404, f"No dump file {name[:100]!r} in version {version[:100]!r}; see /dumps/ for what exists.")
    root = os.path.realpath(settings.dumps_dir)
    path = os.path.realpath(found.path)
    if os.path.commonpath([root, path]) != root:  # defence in depth: read_build already refuses such names
        raise ClientError(404, "No such dump file; see /dumps/ for what exists.")
    etag = f'"{found.sha256}"'  # strong: the bytes' own hash, usable in If-Range
    headers = {"ETag": etag, "Cache-Control": CACHE_IMMUTABLE}
    cached = not_modified(request, etag, headers)
    if cached is not None:
        return cached
    return FileResponse(path, media_type=found.media_type, headers=headers, stat_result=os.stat(path))
