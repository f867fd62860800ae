"""Per-client limits (server/web/limits.py) in a real server: time budget, concurrency, fairness.

Clients are told apart by X-Forwarded-For, trusted here because the test lists 127.0.0.1
in ARKG_FORWARDED_ALLOW_IPS (the default trusts no one; see test_forwarded_for_is_not_trusted_by_default).
"""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from server.web.errors import ClientError
from server.web.limits import ClientLimiter
from server.settings import Settings

from tests.conftest import LiveServer
from tests.reliability_tools import CHEAP, RUNAWAY


def ask(server: LiveServer, query: str, client: str | None, timeout: float = 60) -> httpx.Response:
    headers = {"Accept": "application/sparql-results+json"}
    if client:
        headers["X-Forwarded-For"] = client
    return httpx.get(server.url + "/sparql", params={"query": query}, headers=headers, timeout=timeout)


def runaways(server: LiveServer, client: str, count: int) -> tuple[list[threading.Thread], list[httpx.Response]]:
    """``count`` runaway queries of ``client`` in flight (started, given 0.5 s to be admitted)."""
    results: list[httpx.Response] = []
    threads = [threading.Thread(target=lambda: results.append(ask(server, RUNAWAY, client))) for _ in range(count)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    return threads, results


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    server = LiveServer("--query-timeout", "3", "--query-workers", "3", env={
        "ARKG_RATE_LIMIT": "true", "ARKG_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "ARKG_CLIENT_QUERY_SECONDS_PER_MINUTE": "5", "ARKG_CLIENT_QUEUE_SECONDS": "1",
        "ARKG_DUMPS_DIR": str(tmp_path_factory.mktemp("dumps"))})
    yield server
    server.stop()


@pytest.mark.slow
def test_a_greedy_client_gets_429_and_others_are_unaffected(limited_server):
    server = limited_server
    greedy, other = "192.0.2.10", "198.51.100.20"
    threads, results = runaways(server, greedy, 3)
    # While the greedy client holds its two slots (query_workers - 1), another client is served at once.
    started = time.monotonic()
    assert ask(server, CHEAP, other).status_code == 200
    assert time.monotonic() - started < 2
    for t in threads:
        t.join(timeout=30)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [429, 503, 503], statuses  # two stopped at the time limit, one refused
    refused = next(r for r in results if r.status_code == 429)
    assert "queries running" in refused.text and int(refused.headers["Retry-After"]) >= 1
    # 2 x 3 s used of a 5 s/min budget: the greedy client waits, the other does not.
    over = ask(server, CHEAP, greedy)
    assert over.status_code == 429, over.text
    assert "share of query time" in over.text
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    assert ask(server, CHEAP, other).status_code == 200


@pytest.mark.slow
def test_many_small_lookups_are_never_throttled_by_count(limited_server):
    lookups = [ask(limited_server, CHEAP, "203.0.113.30") for _ in range(300)]
    assert {r.status_code for r in lookups} == {200}


@pytest.mark.slow
def test_parallel_small_lookups_are_queued_not_refused(limited_server):
    async def burst():
        async with httpx.AsyncClient(base_url=limited_server.url, timeout=30) as client:
            return await asyncio.gather(*(client.get("/sparql", params={"query": CHEAP},
                                                     headers={"X-Forwarded-For": "203.0.113.40"})
                                          for _ in range(32)))

    assert {r.status_code for r in asyncio.run(burst())} == {200}


@pytest.mark.slow
def test_lookups_need_no_slot_but_spend_the_budget(limited_server):
    """A client whose slots are held by long queries still dereferences lookups at once
    (answered in the server process, they hold no worker); once its time budget is spent,
    lookups are refused like any query."""
    server, busy = limited_server, "192.0.2.77"
    lookup = "SELECT ?p ?o WHERE { <https://w3id.org/arkg/id/person/ahmad-massoud> ?p ?o }"
    threads, results = runaways(server, busy, 2)
    started = time.monotonic()
    answered = ask(server, lookup, busy)
    assert answered.status_code == 200 and answered.json()["results"]["bindings"]
    assert time.monotonic() - started < 1
    held = ask(server, CHEAP, busy)  # needs a slot: waits 1 s for one, then refused
    assert held.status_code == 429 and "queries running" in held.text
    for t in threads:
        t.join(timeout=30)
    assert sorted(r.status_code for r in results) == [503, 503]
    spent = ask(server, lookup, busy)  # 2 x 3 s of a 5 s/min budget
    assert spent.status_code == 429 and "share of query time" in spent.text


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/doc/person/ahmad-massoud.html", "/doc/person/imran-khan.ttl", "/",
                                  "/query?query=ASK%20%7B%20%3Fs%20%3Fp%20%3Fo%20%7D"])
def test_pages_are_charged_like_queries(limited_server, path):
    """Pages run queries through the metered backend (server/web/deps.py): a client whose
    budget is spent gets 429 with Retry-After there too; another client is unaffected.
    (Each path is asked first by the spender: a document already memoised costs no query.)"""
    server = limited_server
    spender, other = f"192.0.2.{100 + len(path) % 100}", "198.51.100.99"
    for _ in range(2):  # 2 x 3 s of a 5 s/min budget
        assert ask(server, RUNAWAY, spender).status_code == 503
    page = httpx.get(server.url + path, headers={"X-Forwarded-For": spender, "Accept": "text/html"}, timeout=30)
    assert page.status_code == 429, (page.status_code, page.text[:300])
    assert "share of query time" in page.text and 1 <= int(page.headers["Retry-After"]) <= 60
    fine = httpx.get(server.url + path, headers={"X-Forwarded-For": other, "Accept": "text/html"}, timeout=30)
    assert fine.status_code == 200, fine.text[:300]


@pytest.mark.slow
def test_forwarded_for_is_not_trusted_by_default(tmp_path):
    server = LiveServer("--query-timeout", "2", "--query-workers", "2", env={
        "ARKG_RATE_LIMIT": "true", "ARKG_CLIENT_QUERY_SECONDS_PER_MINUTE": "1",
        "ARKG_DUMPS_DIR": str(tmp_path / "dumps")})
    try:
        assert ask(server, RUNAWAY, "192.0.2.1").status_code == 503  # spends 2 s of a 1 s budget
        # A new X-Forwarded-For does not make a new client: the TCP peer is the client.
        response = ask(server, CHEAP, "192.0.2.2")
        assert response.status_code == 429 and response.headers["Retry-After"]
    finally:
        server.stop()


def test_switched_off_means_no_limiter():
    from server.web.app import create_app

    assert create_app(Settings(rate_limit=False)).state.limiter is None
    assert isinstance(create_app(Settings(rate_limit=True)).state.limiter, ClientLimiter)


def test_one_client_never_holds_every_local_worker():
    assert ClientLimiter.from_settings(Settings(query_workers=2, client_max_concurrent=4)).max_concurrent == 1
    assert ClientLimiter.from_settings(Settings(query_workers=8, client_max_concurrent=4)).max_concurrent == 4
    assert ClientLimiter.from_settings(Settings(query_workers=1)).max_concurrent == 1


def test_budget_refills_and_idle_clients_are_forgotten():
    limiter = ClientLimiter(seconds_per_minute=60, max_concurrent=1, queue_seconds=0)

    async def scenario():
        limiter.charge("a", 61)
        with pytest.raises(ClientError) as refused:
            async with limiter.acquire("a"):
                pass
        assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "2"
        limiter.clients["a"].updated -= 2  # two seconds later: 2 s refilled, budget positive again
        async with limiter.acquire("a"):
            pass
        limiter.clients["a"].updated -= 120
        limiter._sweep(time.monotonic())
        assert "a" not in limiter.clients  # back at its initial state: nothing to remember

    asyncio.run(scenario())
