"""The lookup lane: bounded SPARQL queries answered in front of the middleware stack.

A bounded query (sparql/bounded.py: one triple pattern with a constant subject or object,
which covers researchers' ``SELECT ?p ?o { <E> ?p ?o }``, ``DESCRIBE <E>`` and
``ASK { <E> ?p ?o }``) costs the engine about 0.1 ms. Through Starlette's stack (six
middleware layers, each wrapping ``send``, then the router, the route and the conditional
response) the same request cost about 0.5 ms of CPU, and ARKG served a fifth of Oxigraph's
lookups per second (bench/README.md, "The lookup lane"). The lane answers those requests
with the same parts: the protocol parser, :func:`~server.sparql.service.prepare` (guard and
negotiation), the client's time budget, the in-process store, the metrics and the query
log, the same ETag, cache, CORS and gzip headers; only the layers are left out.

:meth:`LookupLane.answer` makes the answer; two places deliver it. Under ``arkg serve`` the
HTTP protocol does (web/protocol.py: no ASGI task, one write); wherever the request reaches
the app as ASGI instead (behind uvicorn's proxy-headers middleware, in tests, a pipelined
request), :class:`~server.web.fastpath.FastPathApp` offers it to the lane first.

It answers only a plain 200: ``GET /sparql`` with a bounded query, no ``If-None-Match``, a
result within the in-process cap. Anything else it hands to the full app untouched, before
doing any work, and the app answers as it always has: errors keep their one mapping
(web/errors.py), 304s their one helper (web/caching.py). The one case handed over after
evaluating is a result over the cap; the request is then marked (:data:`DECLINED`) so that
the app sends it straight to a query worker. A spent time budget or a query error is
handed over too, and answered (and charged, and logged) by the app. A request is looked at
once: one the lane declined is marked (:data:`TRIED`) and not parsed again on its way on.

tests/web/test_lane.py compares the lane's answers with the full app's, header by header,
through both deliveries.
"""

from __future__ import annotations

import time

from server.model import formats
from server.sparql import protocol
from server.sparql.service import prepare
from server.web import metrics
from server.web.caching import CACHE_DYNAMIC, query_etag
from server.web.compression import gzip_whole
from server.web.deps import get_urls
from server.web.limits import key_of
from server.web.observe import finished

PATH = "/sparql"
DECLINED = "arkg.inline_declined"  # scope key: the in-process store declined this query (too large)
TRIED = "arkg.lane_tried"  # scope key: the lane has looked at this request and declined it
_VARY = b"Accept, Accept-Encoding, Origin"  # the route's, then web/compression.py's, then CORS's
_VARY_SMALL_GZIP = b"Accept, Origin"


class LookupLane:
    """Answers what it can of ``GET /sparql`` for ``app``; see the module docstring."""

    def __init__(self, app, *, cors_headers: dict[str, str], gzip_minimum: int):
        self.app = app  # the FastAPI app: its state holds the backend, settings, limiter, query log
        self.cors = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in cors_headers.items()]
        self.gzip_minimum = gzip_minimum
        self._ok = metrics.REQUESTS.labels(PATH, "200")

    async def __call__(self, scope, send) -> bool:
        """Answer the request and return True, or return False having done nothing."""
        answer = self.answer(scope)
        if answer is None:
            return False
        headers, body = answer
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return True

    def answer(self, scope) -> tuple[list[tuple[bytes, bytes]], bytes] | None:
        """The headers and body of the 200 answer to an ASGI HTTP ``scope``, counted as sent;
        or None, and the request marked as :data:`TRIED`."""
        if scope["method"] != "GET" or scope["path"] != PATH or TRIED in scope:
            return None
        scope[TRIED] = True
        accept, origin, gzip = None, False, False
        for name, value in scope["headers"]:
            if name == b"accept":
                if accept is None:
                    accept = value.decode("latin-1")
            elif name == b"accept-encoding":
                gzip = gzip or b"gzip" in value
            elif name == b"origin":
                origin = True
            elif name == b"if-none-match":
                return None
        state = self.app.state
        backend = getattr(state, "backend", None)
        if getattr(backend, "inline", None) is None:  # a remote engine, or in-process answers switched off
            return None
        settings = state.settings
        try:
            pq = protocol.parse_params(protocol.parse_query_string(scope["query_string"]))
            if pq.query is None:
                return None
            prepared = prepare(pq, accept, backend.info, get_urls(settings), settings.allowed_service_endpoints)
        except Exception:  # noqa: BLE001 (the full app answers it, with its one error mapping)
            return None
        if not prepared.bounded:
            return None
        request = prepared.request
        client = key_of(scope["client"][0] if scope.get("client") else None)
        limiter = getattr(state, "limiter", None)
        started = time.perf_counter()
        try:
            if limiter is None:
                result = backend.run_inline(request)
            else:
                result = limiter.run_cheap(client, lambda: backend.run_inline(request))
        except Exception:  # noqa: BLE001 (a spent budget, a query error: the full app answers it)
            return None
        if result is None:
            scope[DECLINED] = True
            return None
        finished(state, route=PATH, client=client, query=pq.query, seconds=time.perf_counter() - started,
                 outcome="ok", result_bytes=len(result.body))
        etag = query_etag(backend.info.version, pq.query, request)
        body = result.body
        headers = [(b"content-type", formats.by_name(result.format).content_type.encode("latin-1")),
                   (b"cache-control", CACHE_DYNAMIC.encode("latin-1")), (b"etag", etag.encode("latin-1"))]
        if not gzip:
            headers.append((b"vary", _VARY))
        elif len(body) >= self.gzip_minimum:
            body = gzip_whole(body)
            headers += [(b"vary", _VARY), (b"content-encoding", b"gzip")]
        else:  # Starlette's gzip responder leaves a small answer's Vary as it is
            headers.append((b"vary", _VARY_SMALL_GZIP))
        headers.append((b"content-length", str(len(body)).encode("latin-1")))
        if origin:
            headers.extend(self.cors)
        self._ok.inc()
        return headers, body
