"""web/lane.py: bounded lookups answered in front of the middleware stack, exactly as the
full app answers them; everything else handed to the full app untouched."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from server.settings import Settings
from server.web.app import create_app
from tests.reliability_tools import logged_lines, wait_until

E = "https://w3id.org/arkg/id/person/ahmad-massoud"
LOOKUP = f"SELECT ?p ?o WHERE {{ <{E}> ?p ?o }}"
INBOUND = "SELECT ?s ?p WHERE { ?s ?p <https://w3id.org/arkg/id/claim/amu-massoud-regional-trips-c034> }"
ASK = f"ASK {{ <{E}> ?p ?o }}"
DESCRIBE = f"DESCRIBE <{E}>"


class Recorder:
    """The app's lane, recording whether it answered each request."""

    def __init__(self, lane):
        self.lane, self.answered = lane, []

    async def __call__(self, scope, send) -> bool:
        done = await self.lane(scope, send)
        self.answered.append(done)
        return done


@pytest.fixture(scope="module")
def lane_app(build_dir, tmp_path_factory):
    log = tmp_path_factory.mktemp("lane") / "queries.jsonl"
    settings = Settings(query_timeout=5, query_workers=1, public_url="http://testserver/", rate_limit=True,
                        client_query_seconds_per_minute=60, build_dir=build_dir, query_log_path=log,
                        query_log_salt="lane-salt")
    app = create_app(settings)
    with TestClient(app) as client:
        recorder = Recorder(app.lane)
        app.lane = recorder
        yield app, client, recorder, log


def both(app, client, recorder, method: str, params: dict | None = None, headers: dict | None = None):
    """(did the lane answer, its response, the full app's response) for one request."""
    recorder.answered.clear()
    through_lane = client.request(method, "/sparql", params=params, headers=headers)
    answered = recorder.answered == [True]
    saved, app.lane = app.lane, None
    try:
        full = client.request(method, "/sparql", params=params, headers=headers)
    finally:
        app.lane = saved
    return answered, through_lane, full


def same(a, b) -> bool:
    return (a.status_code, sorted(a.headers.multi_items()), a.content) == \
        (b.status_code, sorted(b.headers.multi_items()), b.content)


@pytest.mark.parametrize("query", [LOOKUP, INBOUND, ASK, DESCRIBE])
@pytest.mark.parametrize("headers", [
    {},  # httpx's own Accept-Encoding: gzip, deflate
    {"Accept-Encoding": "identity"},
    {"Accept-Encoding": "identity", "Origin": "https://yasgui.example"},
    {"Accept": "text/csv, text/turtle;q=0.9", "Accept-Encoding": "gzip", "Origin": "https://yasgui.example"},
    {"Accept": "application/sparql-results+xml, text/turtle;q=0.5, application/n-triples;q=0.1"},
])
def test_the_lane_answers_bounded_lookups_as_the_full_app_does(lane_app, query, headers):
    app, client, recorder, _ = lane_app
    answered, lane, full = both(app, client, recorder, "GET", {"query": query}, headers)
    assert answered, "a bounded lookup with a plain 200 answer must be the lane's"
    assert lane.status_code == 200 and same(lane, full), (lane.headers, full.headers)


def test_a_large_answer_is_gzipped_by_the_lane_as_by_the_middleware(lane_app):
    app, client, recorder, _ = lane_app
    answered, lane, full = both(app, client, recorder, "GET", {"query": LOOKUP}, {"Accept-Encoding": "gzip"})
    assert answered and lane.headers["content-encoding"] == "gzip" and len(lane.content) >= 1024
    assert same(lane, full)


@pytest.mark.parametrize("method, params, headers, status", [
    ("HEAD", {"query": LOOKUP}, {}, 200),
    ("GET", {"query": LOOKUP}, {"If-None-Match": "*"}, 304),
    ("GET", {"query": f"SELECT * {{ <{E}> ?p ?o . ?o ?q ?r }}"}, {}, 200),  # not bounded: a query worker
    ("GET", {"query": f"SELECT ?p {{ <{E}> ?p }}"}, {}, 400),  # malformed
    ("GET", {"query": LOOKUP, "format": "nonsense/type"}, {"Accept": "image/png"}, 406),
    ("GET", {"update": "DROP ALL"}, {}, 403),
    ("GET", {}, {"Accept": "text/turtle"}, 200),  # the service description
    ("GET", {"query": LOOKUP, "default-graph-uri": "https://example.org/nowhere"}, {}, 400),
])
def test_everything_else_goes_to_the_full_app(lane_app, method, params, headers, status):
    app, client, recorder, _ = lane_app
    answered, lane, full = both(app, client, recorder, method, params, headers)
    assert not answered
    assert lane.status_code == full.status_code == status
    assert lane.content == full.content


def test_the_lane_records_what_the_full_app_records(lane_app):
    app, client, recorder, log = lane_app
    query = f"SELECT ?laneLogged WHERE {{ <{E}> <http://www.w3.org/2000/01/rdf-schema#label> ?laneLogged }}"
    before = client.get("/metrics").text
    recorder.answered.clear()
    assert client.get("/sparql", params={"query": query}).status_code == 200
    assert recorder.answered == [True]
    after = client.get("/metrics").text

    def count(text: str, needle: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(needle))

    assert count(after, 'arkg_http_requests_total{route="/sparql",status="200"}') - \
        count(before, 'arkg_http_requests_total{route="/sparql",status="200"}') == 1
    assert count(after, 'arkg_query_duration_seconds_count{outcome="ok"}') - \
        count(before, 'arkg_query_duration_seconds_count{outcome="ok"}') == 1
    assert count(after, "arkg_inline_lookups_total") - count(before, "arkg_inline_lookups_total") == 1
    digest = hashlib.sha256(query.encode()).hexdigest()
    mine = [line for line in logged_lines(log, query) if line["query_sha256"] == digest]
    assert len(mine) == 1 and mine[0]["route"] == "/sparql" and mine[0]["outcome"] == "ok"
    assert mine[0]["result_bytes"] > 0


@contextmanager
def small_app(build_dir, tmp_path, **settings):
    """A TestClient over an app of its own with ``settings``, its lane recorded: (app, client, recorder)."""
    settings = Settings(query_workers=1, public_url="http://testserver/", build_dir=build_dir,
                        query_log_path=tmp_path / "q.jsonl", **{"rate_limit": False, **settings})
    app = create_app(settings)
    with TestClient(app) as client:
        recorder = app.lane = Recorder(app.lane)
        yield app, client, recorder


def test_a_spent_budget_is_refused_by_the_full_app(build_dir, tmp_path):
    with small_app(build_dir, tmp_path, rate_limit=True, client_query_seconds_per_minute=0.001) as (_, client, recorder):
        statuses = [client.get("/sparql", params={"query": LOOKUP}).status_code for _ in range(60)]
    assert 429 in statuses  # each lookup is charged, so the budget runs out
    refused = [answered for answered, status in zip(recorder.answered, statuses) if status == 429]
    assert refused and not any(refused)


def test_an_answer_over_the_cap_goes_to_a_worker_once(build_dir, tmp_path):
    with small_app(build_dir, tmp_path, inline_max_bytes=200) as (app, client, recorder):
        inline = app.state.backend.inline
        response = client.get("/sparql", params={"query": LOOKUP})
        assert response.status_code == 200 and len(response.content) > 200
        assert recorder.answered == [False]
        assert inline.too_large == 1  # tried in the lane, not again in the route
        assert len(json.loads(response.content)["results"]["bindings"]) > 1


def test_without_an_in_process_store_the_lane_stands_aside(build_dir, tmp_path):
    with small_app(build_dir, tmp_path, inline_max_bytes=0) as (_, client, recorder):
        response = client.get("/sparql", params={"query": ASK})
    assert response.status_code == 200 and json.loads(response.content)["boolean"] is True
    assert recorder.answered == [False]


# --- delivered by the HTTP protocol (web/protocol.py), in a real uvicorn server


class Deliveries:
    """The app's lane, recording which delivery sent each request's answer: ``protocol``
    (web/protocol.py asked for the answer) or ``asgi`` (the app offered it the request)."""

    def __init__(self, lane):
        self.lane, self.sent = lane, []

    def answer(self, scope):
        answer = None
        try:
            answer = self.lane.answer(scope)
            return answer
        finally:  # recorded even when it raises
            self.sent.append(("protocol", answer is not None))

    async def __call__(self, scope, send) -> bool:
        done = await self.lane(scope, send)
        self.sent.append(("asgi", done))
        return done


@pytest.fixture(scope="module")
def served(build_dir, tmp_path_factory):
    """(app, base URL, deliveries) of an app served by uvicorn with ARKG's protocol, on a thread."""
    import threading

    import uvicorn

    from server.web.serving import config
    from tests.conftest import free_port

    settings = Settings(query_workers=1, public_url="http://testserver/", build_dir=build_dir, rate_limit=False,
                        query_log_path=tmp_path_factory.mktemp("served") / "q.jsonl")
    app = create_app(settings)
    deliveries = app.lane = Deliveries(app.lane)
    cfg = config(settings)  # what `arkg serve` runs, with this app instead of the factory
    cfg.app, cfg.factory, cfg.port, cfg.workers = app, False, free_port(), 1
    server = uvicorn.Server(cfg)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert wait_until(lambda: server.started, timeout=120, step=0.1), "uvicorn did not start"
        yield app, f"http://127.0.0.1:{cfg.port}", deliveries
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def without_date(response) -> list:
    return sorted((k, v) for k, v in response.headers.multi_items() if k != "date")


@pytest.mark.parametrize("query", [LOOKUP, ASK, DESCRIBE])
@pytest.mark.parametrize("headers", [
    {"Accept-Encoding": "identity"},
    {"Accept-Encoding": "gzip", "Origin": "https://yasgui.example"},
    {"Accept": "text/csv, text/turtle;q=0.9"},
])
def test_the_protocol_sends_the_lanes_answer_as_the_full_app_does(served, query, headers):
    app, url, deliveries = served
    deliveries.sent.clear()
    lane = httpx.get(url + "/sparql", params={"query": query}, headers=headers)
    assert deliveries.sent == [("protocol", True)]
    saved, app.lane = app.lane, None
    try:
        full = httpx.get(url + "/sparql", params={"query": query}, headers=headers)
    finally:
        app.lane = saved
    assert lane.status_code == full.status_code == 200
    assert (without_date(lane), lane.content) == (without_date(full), full.content)
    assert "date" in lane.headers


def _responses(sock, count: int) -> list[tuple[bytes, bytes]]:
    """``count`` HTTP/1.1 responses read from ``sock``, each as (head, body); bodies by Content-Length."""
    buffer, out = b"", []
    while len(out) < count:
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            chunk = sock.recv(1 << 16)
            assert chunk, f"the connection closed after {len(out)} of {count} responses"
            buffer += chunk
            continue
        head = buffer[:end]
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")))
        while len(buffer) < end + 4 + length:
            chunk = sock.recv(1 << 16)
            assert chunk, "the connection closed inside a body"
            buffer += chunk
        out.append((head, buffer[end + 4:end + 4 + length]))
        buffer = buffer[end + 4 + length:]
    return out


def _get(path_and_query: str, extra: str = "") -> bytes:
    return f"GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n{extra}\r\n".encode()


def test_pipelined_lookups_behind_a_slower_request_are_all_answered_in_order(served):
    """Requests queued behind one the app answers start one by one as answers complete, some
    answered in the protocol, some through the app (web/protocol.py says why): every one is
    answered, in the order asked."""
    import socket

    from urllib.parse import quote

    app, url, deliveries = served
    port = int(url.rsplit(":", 1)[1])
    queries = [ASK, LOOKUP]
    expected = [httpx.get(url + "/sparql", params={"query": q}, headers={"Accept-Encoding": "identity"}).content
                for q in queries]
    count = 1200
    batch = _get("/health") + b"".join(_get("/sparql?query=" + quote(queries[i % 2])) for i in range(count))
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(batch)
        answers = _responses(sock, count + 1)
    assert answers[0][0].startswith(b"HTTP/1.1 200")
    for i, (head, body) in enumerate(answers[1:]):
        assert head.startswith(b"HTTP/1.1 200") and body == expected[i % 2], i


def test_an_http_1_0_lookup_is_answered_and_the_connection_closed(served):
    import socket

    from urllib.parse import quote

    app, url, deliveries = served
    deliveries.sent.clear()
    with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30) as sock:
        sock.sendall(f"GET /sparql?query={quote(ASK)} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(1 << 16):  # ends when the server closes the connection
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"\r\nconnection: close" in head.lower()
    assert json.loads(body)["boolean"] is True
    assert deliveries.sent == [("protocol", True)]


def test_a_lane_that_fails_leaves_the_request_to_the_app(served, monkeypatch):
    """An error inside the lane, raised in the protocol, would reach httptools and come back
    as a 400 "Invalid HTTP request"; instead the app answers the request, as without a lane."""
    import server.web.lane as lane_module

    app, url, deliveries = served
    expected = httpx.get(url + "/sparql", params={"query": ASK}, headers={"Accept-Encoding": "identity"})

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the lane")

    monkeypatch.setattr(lane_module, "query_etag", broken)
    deliveries.sent.clear()
    response = httpx.get(url + "/sparql", params={"query": ASK}, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200 and response.content == expected.content
    assert response.headers["etag"] == expected.headers["etag"]  # the route's own ETag
    assert deliveries.sent == [("protocol", False), ("asgi", False)]  # looked at once, then the app's
