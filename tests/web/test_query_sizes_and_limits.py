"""Queries up to the request limits reach a worker and are answered, never a killed worker;
the ``timeout`` parameter (a real server: uvloop's non-blocking pipes are where large
queries used to kill workers)."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlencode

import httpx
import pytest

from server.settings import Settings
from tests.conftest import LiveServer
from tests.reliability_tools import RUNAWAY, query_workers

MIB = 1024 * 1024


def values_query(size: int) -> tuple[str, int]:
    """A ``size``-byte query counting the rows of a VALUES block; returns it and the count."""
    head, tail = "SELECT (COUNT(*) AS ?n) WHERE { VALUES ?x { ", " } }"
    numbers, length, i = [], len(head) + len(tail), 0
    while length + len(str(i)) + 1 <= size:
        numbers.append(str(i))
        length += len(str(i)) + 1
        i += 1
    query = head + " ".join(numbers) + tail
    return query + " " * (size - len(query)), len(numbers)


@pytest.fixture(scope="module")
def server():
    s = LiveServer("--query-timeout", "20", startup=240)
    yield s
    s.stop()


def _count(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text[:500]
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


@pytest.mark.slow
@pytest.mark.parametrize("mib", [0.3, 0.6, 0.95])
def test_large_posted_queries_are_answered_by_the_same_workers(server, mib):
    before = query_workers(server.proc.pid)
    query, rows = values_query(int(mib * MIB))
    r = httpx.post(server.url + "/sparql", content=query.encode(), timeout=60,
                   headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"})
    assert _count(r) == rows
    form = httpx.post(server.url + "/sparql", data={"query": query}, timeout=60,
                      headers={"Accept": "application/sparql-results+json"})
    assert _count(form) == rows
    assert query_workers(server.proc.pid) == before, "a query worker was replaced"


# The longest request target uvicorn's httptools parser accepts: httptools.parse_url keeps
# offsets in 16 bits (llhttp's http_parser_url), so a longer URL is refused before the app,
# well under the head cap of server/web/protocol.py (max_body_bytes + 64 KiB).
LONGEST_TARGET = 65535


def _target_of_length(length: int) -> tuple[str, int]:
    size = length
    while True:
        query, rows = values_query(size)
        target = "/sparql?" + urlencode({"query": query})
        if len(target) == length:
            return target, rows
        size -= len(target) - length  # braces and parentheses are percent-encoded


@pytest.mark.slow
def test_the_longest_get_the_head_limit_allows_is_answered(server):
    before = query_workers(server.proc.pid)
    target, rows = _target_of_length(LONGEST_TARGET)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)  # httpx caps URLs at 64 KiB
    try:
        connection.request("GET", target, headers={"Accept": "application/sparql-results+json"})
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    assert response.status == 200, body[:500]
    assert int(json.loads(body)["results"]["bindings"][0]["n"]["value"]) == rows
    assert query_workers(server.proc.pid) == before, "a query worker was replaced"


@pytest.mark.slow
def test_a_query_over_the_body_limit_is_refused_with_413(server):
    query, _ = values_query(Settings().max_body_bytes + 10)
    r = httpx.post(server.url + "/sparql", content=query.encode(), timeout=60,
                   headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 413


@pytest.mark.parametrize("value", ["soon", "-1", "0", "1e3", "5 minutes", "ms"])
def test_a_bad_timeout_is_a_400_saying_what_fits(client, value):
    r = client.get("/sparql", params={"query": "ASK {}", "timeout": value})
    assert r.status_code == 400
    assert "'timeout'" in r.text and ("500ms" in r.text or "more than zero" in r.text)


@pytest.mark.parametrize("value", ["30", "2.5", "500ms", "30s", "1000"])
def test_a_good_timeout_answers(client, value):
    r = client.get("/sparql", params={"query": "ASK { ?s ?p ?o }", "timeout": value},
                   headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200 and r.json()["boolean"] is True


def test_timeout_lowers_the_limit_for_one_query(client):
    started = time.monotonic()
    r = client.get("/sparql", params={"query": RUNAWAY, "timeout": "700ms"})
    assert r.status_code == 503 and "time limit of 0.7 s" in r.text
    assert time.monotonic() - started < 4  # the server's own limit is 5 s (tests/conftest.py)


@pytest.mark.slow
def test_timeout_never_raises_the_servers_limit(client, settings):
    r = client.get("/sparql", params={"query": RUNAWAY, "timeout": "600"})
    assert r.status_code == 503 and f"time limit of {settings.query_timeout:g} s" in r.text


def test_the_timeout_parameter_is_documented(client, settings):
    sd = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert sd.status_code == 200
    assert "'timeout' parameter" in sd.text and f"at most {settings.query_timeout:g} s" in sd.text
    spec = client.get("/openapi.json").json()["paths"]["/sparql"]
    assert "timeout" in [p["name"] for p in spec["get"]["parameters"]]
    assert "timeout" in spec["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
