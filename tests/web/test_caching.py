"""caching.conditional: the one ETag/304 path (a small Starlette app, real requests)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from server.web.caching import CACHE_IMMUTABLE, conditional, conditional_sync, etag_for

ETAG = etag_for("v1", "thing")
built: list[str] = []


async def async_route(request):
    async def respond() -> Response:
        built.append("async")
        response = PlainTextResponse("data")
        response.headers["Link"] = "<next>; rel=next"  # set by the builder: wins over the common headers
        return response

    return await conditional(request, ETAG, respond, headers={"Vary": "Accept", "Link": "<alt>; rel=alternate"})


def sync_route(request):
    def respond() -> Response:
        built.append("sync")
        return PlainTextResponse("file")

    return conditional_sync(request, '"abc"', respond, cache_control=CACHE_IMMUTABLE)


client = TestClient(Starlette(routes=[Route("/a", async_route), Route("/s", sync_route)]))


def test_full_answer_carries_etag_and_headers():
    built.clear()
    r = client.get("/a")
    assert r.status_code == 200 and r.text == "data" and built == ["async"]
    assert r.headers["etag"] == ETAG and r.headers["vary"] == "Accept"
    assert r.headers["cache-control"].startswith("public")
    assert r.headers["link"] == "<next>; rel=next"


def test_304_builds_nothing_and_keeps_the_headers():
    built.clear()
    for tag in (ETAG, ETAG.removeprefix("W/"), "*", f'"x", {ETAG}'):
        r = client.get("/a", headers={"If-None-Match": tag})
        assert r.status_code == 304 and r.content == b"", tag
        assert r.headers["etag"] == ETAG and r.headers["vary"] == "Accept"
    assert built == []
    assert client.get("/a", headers={"If-None-Match": 'W/"other"'}).status_code == 200


def test_sync_variant_and_cache_control():
    built.clear()
    r = client.get("/s")
    assert r.headers["etag"] == '"abc"' and r.headers["cache-control"] == CACHE_IMMUTABLE and built == ["sync"]
    assert client.get("/s", headers={"If-None-Match": '"abc"'}).status_code == 304 and built == ["sync"]
