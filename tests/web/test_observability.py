"""/metrics (Prometheus text format, summed over uvicorn workers) and the query log (JSON lines)."""

from __future__ import annotations

import hashlib
import json
import os
import signal

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from server.settings import Settings
from server.web.app import create_app
from tests.conftest import LiveServer
from tests.reliability_tools import RUNAWAY, copy_dataset, logged_lines, wait_until

ASK = "ASK { ?s a ?t }"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, from the Prometheus text format."""
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def observed_client(tmp_path_factory):
    log = tmp_path_factory.mktemp("log") / "queries.jsonl"
    settings = Settings(query_timeout=5, query_workers=1, public_url="http://testserver/", rate_limit=True,
                        client_query_seconds_per_minute=60, max_result_bytes=2000, query_log_path=log,
                        query_log_salt="test-salt")
    with TestClient(create_app(settings)) as client:
        yield client, log


def test_metrics_count_requests_and_query_outcomes(observed_client):
    client, _ = observed_client
    before = samples(client.get("/metrics").text)
    assert client.get("/sparql", params={"query": ASK}).status_code == 200
    assert client.get("/sparql", params={"query": "SELECT nonsense"}).status_code == 400
    big = client.get("/sparql", params={"query": "SELECT ?s ?p ?o { ?s ?p ?o } LIMIT 1000"})
    assert big.status_code == 413
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    after = samples(r.text)
    for outcome, added in (("ok", 1), ("error", 1), ("too_large", 1)):
        grew = (value(after, "arkg_query_duration_seconds_count", outcome=outcome)
                - value(before, "arkg_query_duration_seconds_count", outcome=outcome))
        assert grew == added, outcome
    for status, added in (("200", 1), ("400", 1), ("413", 1)):
        grew = (value(after, "arkg_http_requests_total", route="/sparql", status=status)
                - value(before, "arkg_http_requests_total", route="/sparql", status=status))
        assert grew == added, status
    assert value(after, "arkg_query_workers", state="idle") + value(after, "arkg_query_workers", state="busy") == 1


def test_route_labels_are_templates_not_raw_paths(observed_client):
    client, _ = observed_client
    client.get("/no/such/page/12345")
    text = client.get("/metrics").text
    assert "12345" not in text and 'route="other"' in text


def test_query_log_lines(observed_client):
    client, log = observed_client
    query = "SELECT (1 AS ?one) {}  # logged"
    assert client.get("/sparql", params={"query": query}).status_code == 200
    digest = hashlib.sha256(query.encode()).hexdigest()
    lines = logged_lines(log, query)
    assert lines, "the query's line never reached the log"
    mine = [line for line in lines if line["query_sha256"] == digest]
    assert len(mine) == 1
    line = mine[0]
    assert set(line) == {"time", "route", "client", "query_sha256", "query_chars", "seconds", "outcome", "result_bytes"}
    assert line["route"] == "/sparql" and line["outcome"] == "ok" and line["query_chars"] == len(query)
    assert line["result_bytes"] > 0 and line["seconds"] >= 0
    assert "testclient" not in log.read_text() and "one" not in log.read_text()  # no address, no query text
    assert {row["client"] for row in lines} == {line["client"]}  # one client, one salted hash


def test_query_log_off_switch(tmp_path):
    log = tmp_path / "queries.jsonl"
    settings = Settings(query_workers=1, public_url="http://testserver/", rate_limit=False, query_log=False,
                        query_log_path=log)
    with TestClient(create_app(settings)) as client:
        assert client.get("/sparql", params={"query": ASK}).status_code == 200
    assert not log.exists()


def test_budget_refusals_are_counted_by_reason(tmp_path):
    settings = Settings(query_workers=1, public_url="http://testserver/", rate_limit=True,
                        client_query_seconds_per_minute=0.001, query_log_path=tmp_path / "q.jsonl")
    with TestClient(create_app(settings)) as client:
        before = value(samples(client.get("/metrics").text), "arkg_rate_limited_total", reason="budget")
        statuses = [client.get("/sparql", params={"query": "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"}).status_code
                    for _ in range(3)]
        assert 429 in statuses
        after = samples(client.get("/metrics").text)
    assert value(after, "arkg_rate_limited_total", reason="budget") - before == statuses.count(429)
    assert value(after, "arkg_query_duration_seconds_count", outcome="refused") >= statuses.count(429)


@pytest.mark.slow
def test_metrics_are_summed_over_uvicorn_workers(tmp_path):
    server = LiveServer("--workers", "2", env={"ARKG_QUERY_LOG_PATH": str(tmp_path / "queries.jsonl")})
    try:
        sent = 12
        for _ in range(sent):  # a new connection each: the kernel spreads them over both workers
            assert httpx.get(server.url + "/sparql", params={"query": ASK}, timeout=30).status_code == 200
        pids = set()
        for _ in range(6):
            r = httpx.get(server.url + "/metrics", timeout=30)
            found = samples(r.text)
            assert value(found, "arkg_http_requests_total", route="/sparql", status="200") == sent
            assert value(found, "arkg_query_duration_seconds_count", outcome="ok") == sent
        def logged() -> int:  # one file per worker process; lines are written within a second
            return sum(len(p.read_text().splitlines()) for p in tmp_path.glob("queries-*.jsonl"))

        wait_until(lambda: logged() >= sent, timeout=5)
        pids = {p.stem.rsplit("-", 1)[1] for p in tmp_path.glob("queries-*.jsonl")}
        assert logged() == sent and len(pids) >= 1
    finally:
        server.stop()


@pytest.mark.slow
def test_reloads_are_counted_by_result(tmp_path):
    data = copy_dataset(tmp_path / "data")
    server = LiveServer("--data-dir", str(data), env={"ARKG_QUERY_LOG": "false"})
    try:
        def reloads() -> dict[str, float]:
            found = samples(httpx.get(server.url + "/metrics", timeout=30).text)
            return {result: value(found, "arkg_reloads_total", result=result) for result in ("ok", "failed")}

        def last() -> dict | None:
            return httpx.get(server.url + "/health", timeout=30).json().get("last_reload")

        assert reloads() == {"ok": 0, "failed": 0}
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_until(lambda: (last() or {}).get("status") == "ok", 120, step=0.5)
        claims = sorted((data / "graphs" / "claims").iterdir())[0]
        with open(claims, "a") as f:
            f.write("\n<https://w3id.org/arkg/id/x> this is not Turtle .\n")
        os.kill(server.proc.pid, signal.SIGHUP)
        assert wait_until(lambda: (last() or {}).get("status") == "failed", 120, step=0.5)
        assert reloads() == {"ok": 1, "failed": 1}
    finally:
        server.stop()


@pytest.mark.slow
def test_busy_workers_and_timeouts_show_in_metrics(tmp_path):
    import threading

    server = LiveServer("--query-timeout", "3", "--query-workers", "2", env={"ARKG_QUERY_LOG": "false"})
    try:
        answers = []
        runaway = threading.Thread(target=lambda: answers.append(
            httpx.get(server.url + "/sparql", params={"query": RUNAWAY}, timeout=60).status_code))
        runaway.start()

        def busy() -> float:
            found = samples(httpx.get(server.url + "/metrics", timeout=30).text)
            return value(found, "arkg_query_workers", state="busy")

        assert wait_until(lambda: busy() == 1, 10, step=0.2)
        found = samples(httpx.get(server.url + "/metrics", timeout=30).text)
        assert value(found, "arkg_query_workers", state="idle") == 1
        runaway.join(60)
        assert answers == [503]
        found = samples(httpx.get(server.url + "/metrics", timeout=30).text)
        assert value(found, "arkg_query_duration_seconds_count", outcome="timeout") == 1
        assert value(found, "arkg_query_workers", state="busy") == 0
    finally:
        server.stop()
