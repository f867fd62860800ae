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

The dumps are made by ``arkg build`` into the build of each dataset version
(``<build_dir>/<version>/dumps/<version>/``, server/model/build_layout.py); this router only
reads them. When the served version has no build (a server started over files without
``arkg serve``, or a remote engine), ``/dumps/`` says so and the files are 404s naming the
command that makes them.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from server.publish import build, dumps
from server.model import formats
from server.settings import Settings, get_settings
from server.engine.backend import Backend
from server.model.namespaces import LICENCE
from server.model.urls import UrlMap
from server.web.caching import CACHE_DYNAMIC, CACHE_IMMUTABLE, conditional, conditional_sync, etag_for
from server.web.deps import get_backend, get_urls
from server.web.errors import ClientError
from server.web.templating import TEMPLATE_DIGEST, render

INDEX_JSON = formats.Format("json", "application/json")
INDEX_FORMATS = [INDEX_JSON, formats.HTML]  # JSON unless the client prefers HTML (browsers do)
NOT_BUILT = ("No dumps of the served dataset version {version} have been built; run `arkg build` "
             "(`arkg serve` does it before starting).")


def served_build(backend: Backend, settings: Settings) -> dumps.Build | None:
    """The dumps of the served version, as ``arkg build`` left them, or None."""
    return build.served_dumps(settings.build_dir, backend.info.version)


def all_builds(settings: Settings) -> list[dumps.Build]:
    """The dumps of every complete build in the build area, newest first."""
    found = [b for layout in build.builds(settings.build_dir)
             if (b := dumps.read_build(layout.dumps, layout.root.name)) is not None]
    return sorted(found, key=lambda b: (-b.built_at, b.version))


def _version_build(settings: Settings, version: str) -> dumps.Build | None:
    return build.served_dumps(settings.build_dir, version)


router = APIRouter(tags=["dumps"])


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


async def _index(request: Request, builds: list[dumps.Build], backend: Backend, urls: UrlMap,
                 missing: str | None = None) -> Response:
    fmt = formats.negotiate(request.headers.get("accept"), INDEX_FORMATS)
    current = backend.info.version
    etag = etag_for(current, "dumps-index", fmt.name, TEMPLATE_DIGEST, urls.public_url,
                    *(f"{b.version}:{b.file(dumps.SUMS_FILE).sha256}" for b in builds))

    async def respond() -> Response:
        listing = _listing(builds, current, urls)
        if fmt is formats.HTML:
            html = await render("dumps.html", urls=urls, version=current, licence=LICENCE, builds=listing,
                                current=current, not_built=missing)
            return HTMLResponse(html)
        body = {"current_version": current, "latest": f"{urls.public_url}dumps/latest/", "license": LICENCE,
                "description": f"{urls.public_url}.well-known/void", "versions": listing}
        if missing:
            body["not_built"] = missing
        return JSONResponse(body)

    return await conditional(request, etag, respond, headers={"Vary": "Accept"})


@router.api_route("/dumps/", methods=["GET", "HEAD"], summary="Index of the dumps (HTML or JSON)")
async def index(request: Request, backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
                urls: UrlMap = Depends(get_urls)) -> Response:
    builds = await run_in_threadpool(all_builds, settings)
    missing = None if any(b.version == backend.info.version for b in builds) else \
        NOT_BUILT.format(version=backend.info.version)
    return await _index(request, builds, backend, urls, missing)


async def _current_build(backend: Backend, settings: Settings) -> dumps.Build:
    found = await run_in_threadpool(served_build, backend, settings)
    if found is None:
        raise ClientError(404, NOT_BUILT.format(version=backend.info.version) + " See /dumps/ for the versions that exist.")
    return found


@router.api_route("/dumps/latest/", methods=["GET", "HEAD"], summary="Redirect (302) to the current version's dumps")
async def latest_index(backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
                 urls: UrlMap = Depends(get_urls)) -> Response:
    found = await _current_build(backend, settings)
    return RedirectResponse(f"{urls.public_url}dumps/{found.version}/", status_code=302,
                            headers={"Cache-Control": CACHE_DYNAMIC})


@router.api_route("/dumps/latest/{name}", methods=["GET", "HEAD"], summary="Redirect (302) to a file of the current version")
async def latest_file(name: str, backend: Backend = Depends(get_backend), settings: Settings = Depends(get_settings),
                urls: UrlMap = Depends(get_urls)) -> Response:
    found = await _current_build(backend, settings)
    if found.file(name) is None:
        raise ClientError(404, f"No dump file named {name[:100]!r}; the files are: "
                               + ", ".join(f.name for f in found.files) + ".")
    return RedirectResponse(f"{urls.public_url}dumps/{found.version}/{name}", status_code=302,
                            headers={"Cache-Control": CACHE_DYNAMIC})


@router.api_route("/dumps/{version}/", methods=["GET", "HEAD"], summary="The files of one version (HTML or JSON)")
async def version_index(request: Request, version: str, backend: Backend = Depends(get_backend),
                        settings: Settings = Depends(get_settings), urls: UrlMap = Depends(get_urls)) -> Response:
    found = await run_in_threadpool(_version_build, settings, version)
    if found is None:
        raise ClientError(404, f"No dumps of version {version[:100]!r}; see /dumps/ for the versions that exist.")
    return await _index(request, [found], backend, urls)


@router.api_route("/dumps/{version}/{name}", methods=["GET", "HEAD"], summary="One dump file (byte ranges supported)")
def dump_file(request: Request, version: str, name: str, settings: Settings = Depends(get_settings)) -> Response:
    version_build = _version_build(settings, version)
    found = version_build.file(name) if version_build is not None else None
    if found is None:
        raise ClientError(404, f"No dump file {name[:100]!r} in version {version[:100]!r}; see /dumps/ for what exists.")
    root = os.path.realpath(settings.build_dir)
    path = os.path.realpath(found.path)
    if os.path.commonpath([root, path]) != root:  # defence in depth: read_build already refuses such names
        raise ClientError(404, "No such dump file; see /dumps/ for what exists.")
    etag = f'"{found.sha256}"'  # strong: the bytes' own hash, usable in If-Range
    return conditional_sync(request, etag, lambda: FileResponse(path, media_type=found.media_type, headers={"ETag": etag},
                                                                stat_result=os.stat(path)),
                            cache_control=CACHE_IMMUTABLE)
