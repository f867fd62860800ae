"""web/lane.py: bounded lookups answered in front of the middleware stack, exactly as the
full app answers them; everything else handed to the full app untouched."""

from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from server.settings import Settings
from server.web.app import create_app
from tests.reliability_tools import logged_lines

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
