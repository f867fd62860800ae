"""Pictures: the timeline, who says what and the web of meetings, as SVG, CSV or a page.

- ``/pictures/{name}.svg``, ``/pictures/{name}.csv``, ``/pictures/{name}``: one picture
  (``timeline``, ``who-says-what``, ``meetings``); ``/pictures/{name}.query`` redirects (303)
  to the query page running the SPARQL query behind it; ``about=IRI`` narrows it to one thing
  (its claims, the propositions about it, its neighbourhood), ``limit=N`` (1-200) how many
  lanes, propositions or links it shows. The three forms take the same parameters.
- ``/contested``: who says what about every contested proposition.

Every query is charged to the client that caused it (``get_metered_backend``), like any other page.
"""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from urllib.parse import urlencode

from starlette.responses import HTMLResponse, RedirectResponse, Response

from server.engine.backend import Backend
from server.model.namespaces import LICENCE
from server.model.urls import UrlMap
from server.views.pictures.common import MAX_LIMIT
from server.views.things import BadReference, of_iri
from server.web import pictures
from server.web.caching import conditional, etag_for
from server.web.deps import get_metered_backend, get_urls
from server.web.errors import ClientError
from server.web.templating import TEMPLATE_DIGEST, render

router = APIRouter(tags=["pictures"])
ENTITY_KINDS = ("person", "organization", "place", "event", "group", "agent")
SUFFIXES = {".svg": "image/svg+xml; charset=utf-8", ".csv": "text/csv; charset=utf-8", "": "text/html; charset=utf-8"}


def _about(urls: UrlMap, about: str | None) -> tuple[str | None, str | None]:
    """The IRI and kind of the thing a picture is about, or a 400 saying what to send."""
    if about is None:
        return None, None
    try:
        ref = of_iri(about, base=urls.base_iri)
    except BadReference as exc:
        raise ClientError(400, f"about: {exc}") from None
    if ref is None or ref.kind not in ENTITY_KINDS or "#" in about:
        raise ClientError(400, f"about must be the IRI of a person, organisation, place, event, group or agent, "
                               f"such as {urls.base_iri}id/person/ahmad-massoud")
    return ref.iri, ref.kind


@router.api_route("/pictures/{file}", methods=["GET", "HEAD"], summary="One picture as SVG, CSV or an HTML page")
async def picture(request: Request, file: str,
                  about: Optional[str] = Query(None, max_length=500, description="IRI of the thing the picture is about"),
                  limit: Optional[int] = Query(None, ge=1, le=MAX_LIMIT, description="lanes, propositions or links shown"),
                  backend: Backend = Depends(get_metered_backend), urls: UrlMap = Depends(get_urls)) -> Response:
    name, suffix = file, ""
    for s in (".svg", ".csv", ".query"):
        if file.endswith(s):
            name, suffix = file[: -len(s)], s
    if name not in pictures.NAMES:
        raise ClientError(404, f"There is no picture {name!r}. Pictures: {', '.join(pictures.NAMES)} "
                               "(add .svg or .csv for a download)")
    iri, kind = _about(urls, about)
    if suffix == ".query":  # the query page, running the query behind the picture
        text = pictures.query_of(name, about=iri, is_event=kind == "event", limit=limit)
        return RedirectResponse(f"{urls.public_url}query?{urlencode({'query': text})}", status_code=303)
    etag = etag_for(backend.info.version, "picture", TEMPLATE_DIGEST, urls.public_url, file, iri or "", str(limit))

    async def respond() -> Response:
        fig = await pictures.figure(backend, name, about=iri, is_event=kind == "event", limit=limit)
        headers = {}
        if suffix == ".svg":
            body = await pictures.render_svg(fig, urls)
            headers["Content-Disposition"] = f'inline; filename="arkg-{name}.svg"'
        elif suffix == ".csv":
            body = pictures.to_csv(fig)
            headers["Content-Disposition"] = f'attachment; filename="arkg-{name}.csv"'
        else:
            heading = pictures.TITLES[name] + (f": {kind} {iri.rsplit('/', 1)[-1]}" if iri else "")
            body = await render("pictures/page.html", urls=urls, version=backend.info.version, licence=LICENCE,
                                pictures=[fig], heading=heading, intro=None)
        return Response(body, media_type=SUFFIXES[suffix], headers=headers)

    return await conditional(request, etag, respond)


@router.api_route("/contested", methods=["GET", "HEAD"], summary="Who says what about every contested proposition")
async def contested(request: Request, limit: Optional[int] = Query(None, ge=1, le=MAX_LIMIT),
                    backend: Backend = Depends(get_metered_backend), urls: UrlMap = Depends(get_urls)) -> Response:
    async def respond() -> Response:
        fig = await pictures.figure(backend, "who-says-what", limit=limit or MAX_LIMIT)
        body = await render("pictures/page.html", urls=urls, version=backend.info.version, licence=LICENCE,
                            pictures=[fig], heading="Contested propositions",
                            intro="Every proposition that one speaker asserts or reports and another denies, in these "
                                  "five articles: who takes which side, with their words. Contested here says nothing "
                                  "about what is true.")
        return HTMLResponse(body)

    etag = etag_for(backend.info.version, "contested", TEMPLATE_DIGEST, urls.public_url, str(limit))
    return await conditional(request, etag, respond)
