"""Faults in real server processes: killed workers, reloads that fail, shutdown, a killed server.

Each test starts its own `arkg serve` on 127.0.0.1 (LiveServer) and stops it by PID.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

import httpx
import pyoxigraph as ox
import pytest
from server.settings import Settings
from tests.conftest import ARKG, LiveServer
from tests.reliability_tools import (CHEAP, RUNAWAY, alive, copy_dataset, query_workers, read_output, uvicorn_workers,
                                     wait_until)

pytestmark = pytest.mark.slow

# Finishes on its own in a few seconds (12,575 x ~2,600 rows counted): an in-flight request.
SLOW = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d a ?f }"
COUNT = "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }"
NEW_TRIPLE = ('\n<https://w3id.org/arkg/id/test/reload-marker> '
              '<http://www.w3.org/2000/01/rdf-schema#label> "reload marker"@en .\n')


def own_dumps(tmp_path) -> dict[str, str]:
    """Nothing of its own: `arkg serve` builds into the session's build area (tests/conftest.py:
    LiveServer), never the checkout's var/build; a test that changes the data gets its own build there."""
    return {}


def sparql(server: LiveServer, query: str, timeout: float = 60) -> httpx.Response:
    return httpx.get(server.url + "/sparql", params={"query": query}, timeout=timeout,
                     headers={"Accept": "application/sparql-results+json"})


def count(server: LiveServer) -> int:
    response = sparql(server, COUNT)
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def health(server: LiveServer) -> dict:
    return httpx.get(server.url + "/health", timeout=10).json()


def in_thread(fn, *args):
    """Run ``fn`` in a thread; returns (thread, result list) — the result is appended when done."""
    out: list = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)), daemon=True)
    thread.start()
    return thread, out


def last_reload(server: LiveServer, before: dict | None, timeout: float = 120) -> dict:
    return wait_until(lambda: (r := health(server).get("last_reload")) and r != before and r, timeout, 0.2)


@pytest.fixture
def data_copy(tmp_path):
    return copy_dataset(tmp_path / "data")


def test_killing_a_worker_mid_query_fails_only_that_request(tmp_path):
    server = LiveServer("--query-timeout", "20", env=own_dumps(tmp_path))
    try:
        workers = query_workers(server.proc.pid)
        pool = health(server)["query_workers"]
        expected = pool["size"] + pool["spare"]  # the pool keeps spares loaded (none over a disk store)
        assert pool["size"] == Settings().query_workers
        assert len(workers) == expected
        thread, result = in_thread(sparql, server, RUNAWAY)
        busy = wait_until(lambda: [p for p in workers if _cpu_busy(p)], timeout=10)
        assert busy, "no worker started the runaway query"
        started = time.monotonic()
        os.kill(busy[0], signal.SIGKILL)
        thread.join(timeout=30)
        response = result[0]
        assert response.status_code == 503
        assert "worker stopped unexpectedly" in response.text and response.headers["Retry-After"]
        assert time.monotonic() - started < 5, "the request waited for its timeout instead of failing at once"
        replaced = wait_until(lambda: len(query_workers(server.proc.pid)) == expected and
                              busy[0] not in query_workers(server.proc.pid), timeout=30)
        assert replaced, "the pool did not replace the killed worker"
        for _ in range(10):  # later requests succeed, on both workers
            assert sparql(server, CHEAP).status_code == 200
    finally:
        server.stop()


def _cpu_busy(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).cpu_percent(interval=0.2) > 30
    except psutil.NoSuchProcess:
        return False


def test_sigterm_gives_in_flight_requests_a_grace_and_leaves_no_worker(tmp_path):
    """SIGTERM: a request in flight may finish within SHUTDOWN_GRACE seconds; then the whole
    tree stops (server/web/serving.py) and no worker is left."""
    from server.web.serving import SHUTDOWN_GRACE

    server = LiveServer("--query-timeout", "30", env=own_dumps(tmp_path))
    try:
        workers = query_workers(server.proc.pid)
        tree = [p.pid for p in __import__("psutil").Process(server.proc.pid).children(recursive=True)]
        assert len(workers) >= 2  # query_workers, plus the pool's spares if any
        thread, result = in_thread(_ignore_errors, sparql, server, SLOW)
        assert wait_until(lambda: any(_cpu_busy(p) for p in workers), timeout=10)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        thread.join(timeout=60)
        server.proc.wait(timeout=30)
        assert time.monotonic() - started < SHUTDOWN_GRACE + 10, "SIGTERM did not stop the server in seconds"
        answer = result[0]
        if isinstance(answer, httpx.Response) and answer.status_code != 503:  # finished within the grace: whole and correct
            assert answer.status_code == 200 and int(answer.json()["results"]["bindings"][0]["n"]["value"]) > 0
        elif isinstance(answer, httpx.Response):  # stopped when the grace ran out: told so, never a 500
            assert "shutting down" in answer.text and answer.headers["retry-after"]
        assert wait_until(lambda: not alive(tree), timeout=10), f"orphans: {alive(tree)}"
    finally:
        server.stop()


def test_a_killed_server_leaves_no_worker_running_its_query(tmp_path):
    """SIGKILL skips every cleanup: the worker sees its parent (the forkserver, which exits
    with the server) go, and exits mid-query (server/engine/worker.py)."""
    server = LiveServer("--query-timeout", "120", env=own_dumps(tmp_path))
    try:
        tree = [p.pid for p in __import__("psutil").Process(server.proc.pid).children(recursive=True)]
        workers = query_workers(server.proc.pid)
        in_thread(lambda: _ignore_errors(sparql, server, RUNAWAY, 10))
        assert wait_until(lambda: any(_cpu_busy(p) for p in workers), timeout=10)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        assert wait_until(lambda: not alive(tree), timeout=10), f"orphans after SIGKILL: {alive(tree)}"
    finally:
        for pid in alive(tree):
            os.kill(pid, signal.SIGKILL)
        server.stop()


def _ignore_errors(fn, *args):
    try:
        return fn(*args)
    except httpx.HTTPError as exc:
        return exc


def test_reload_swaps_in_new_data_and_keeps_in_flight_requests(data_copy, tmp_path):
    server = LiveServer("--data-dir", str(data_copy), "--query-timeout", "30", env=own_dumps(tmp_path))
    try:
        before_version, before_count = health(server)["version"], count(server)
        old_workers = query_workers(server.proc.pid)
        with open(data_copy / "graphs" / "entities" / "entities.ttl", "a") as f:
            f.write(NEW_TRIPLE)
        thread, slow = in_thread(sparql, server, SLOW)  # in flight across the swap
        seen: set[int] = set()
        stop = threading.Event()

        def poll():  # every answer during the reload is the old dataset or the new one
            while not stop.is_set():
                seen.add(count(server))

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        result = subprocess.run([*ARKG, "reload", str(server.proc.pid), "--url", server.url],
                                capture_output=True, text=True, timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        thread.join(timeout=60)
        stop.set()
        poller.join(timeout=30)
        assert slow[0].status_code == 200, slow[0].text
        record = health(server)["last_reload"]
        assert record["status"] == "ok" and record["previous"] == before_version
        assert health(server)["version"] == record["version"] != before_version
        assert count(server) == before_count + 1
        # a lookup is answered in the server process: from the new backend's own copy
        answered = health(server)["inline_lookups"]["answered"]
        marker = sparql(server, "SELECT ?o { <https://w3id.org/arkg/id/test/reload-marker> ?p ?o }")
        assert marker.json()["results"]["bindings"][0]["o"]["value"] == "reload marker"
        assert health(server)["inline_lookups"]["answered"] == answered + 1
        assert seen <= {before_count, before_count + 1}, f"half-loaded data served: {seen}"
        assert wait_until(lambda: not alive(old_workers), timeout=60), "old workers were not closed"
        pool = health(server)["query_workers"]
        assert len(query_workers(server.proc.pid)) == pool["size"] + pool["spare"]
    finally:
        server.stop()


@pytest.mark.parametrize("damage", ["invalid-turtle", "shacl-violation", "missing-files"])
def test_failed_reload_keeps_the_last_good_dataset(data_copy, damage, tmp_path):
    server = LiveServer("--data-dir", str(data_copy), "--query-timeout", "10", env=own_dumps(tmp_path))
    try:
        good_version, good_count = health(server)["version"], count(server)
        if damage == "invalid-turtle":
            with open(data_copy / "graphs" / "claims" / sorted(os.listdir(data_copy / "graphs" / "claims"))[0], "a") as f:
                f.write("\n<https://w3id.org/arkg/id/x> this is not Turtle .\n")
            expected = "does not load"
        elif damage == "shacl-violation":  # parses, but a claim has no stance, speaker or evidence
            with open(data_copy / "graphs" / "claims" / sorted(os.listdir(data_copy / "graphs" / "claims"))[0], "a") as f:
                f.write("\n<https://w3id.org/arkg/id/claim/zz-broken> a <https://w3id.org/arkg/ontology#Claim> .\n")
            expected = "must have exactly one arkg:stance"
        else:
            for part in ("ontology", "graphs", "shapes"):
                subprocess.run(["rm", "-rf", str(data_copy / part)], check=True)
            expected = "No RDF files found"
        os.kill(server.proc.pid, signal.SIGHUP)
        record = last_reload(server, None)
        assert record["status"] == "failed" and expected in record["error"], record
        assert record["serving"] == good_version
        assert health(server)["version"] == good_version
        assert count(server) == good_count
        assert sparql(server, CHEAP).status_code == 200
    finally:
        server.stop()


def test_failed_reload_of_a_store_that_cannot_open(tmp_path):
    store_dir = tmp_path / "store"
    from server.engine.dataset import dataset_files, load_store

    store = load_store(dataset_files(), ox.Store(str(store_dir)))
    store.flush()
    del store
    (store_dir / "ARKG_VERSION").write_text("test-store-1\n")
    # One worker: RocksDB opens a store's table files lazily, by path, so only a worker that has
    # already read them keeps answering once their directory is renamed away (a worker started
    # or first used after that aborts). Builds are therefore never renamed or replaced in
    # place: each version has its own directory (server/publish/build.py).
    env = {**own_dumps(tmp_path), "ARKG_QUERY_WORKERS": "1", "ARKG_QUERY_SPARE_WORKERS": "0"}
    server = LiveServer("--store", str(store_dir), "--query-timeout", "10", env=env)
    try:
        assert health(server)["version"] == "test-store-1"
        good_count = count(server)
        moved = tmp_path / "store-moved"
        store_dir.rename(moved)  # the open store keeps working on its open files
        store_dir.mkdir()
        (store_dir / "CURRENT").write_text("garbage\n")  # not a RocksDB store
        os.kill(server.proc.pid, signal.SIGHUP)
        record = last_reload(server, None)
        assert record["status"] == "failed" and "could not open" in record["error"], record
        assert health(server)["version"] == "test-store-1" and count(server) == good_count
        subprocess.run(["rm", "-rf", str(store_dir)], check=True)  # now missing entirely
        os.kill(server.proc.pid, signal.SIGHUP)
        second = last_reload(server, record)
        assert second["status"] == "failed" and "does not exist" in second["error"], second
        assert count(server) == good_count
    finally:
        server.stop()


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGUSR2], ids=["reload", "stacks"])
def test_requests_while_the_workers_start_kill_none_of_them(tmp_path, sig):
    """SIGHUP sent to the supervisor (a reload request, which it forwards), or SIGUSR2 to each
    worker (a request for its threads' stacks), every 0.1 s from its workers' start until it
    answers: a worker still starting used to get it with the signal's default action (end the
    process) and was replaced, "killed by SIGHUP" (the flaky reload test below, 2026-12-06)
    and "killed by SIGUSR2" (the flaky stacks test in tests/web/test_stalls.py, under load).
    Now every worker started stays, and the requests that reached it while it started are
    handled after."""
    from tests.conftest import _live_build_area, free_port

    port = free_port()
    env = {**os.environ, "ARKG_RATE_LIMIT": "false", "ARKG_BUILD_DIR": str(_live_build_area()),
           "ARKG_VALIDATE_ON_START": "false"}
    proc = subprocess.Popen([*ARKG, "serve", "--port", str(port), "--workers", "2", "--query-workers", "1"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines, reader = read_output(proc)  # each SIGUSR2 writes a worker's stacks
    signals = 0
    try:
        deadline = time.monotonic() + 180
        started: list[int] = []
        while time.monotonic() < deadline and proc.poll() is None:
            started = sorted({p.pid for p in uvicorn_workers(proc.pid)} | set(started))
            if not started:  # the supervisor has not started its workers yet (it may be building)
                time.sleep(0.05)
                continue
            for pid in [proc.pid] if sig == signal.SIGHUP else started:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:  # a worker that ended: the assertions below say so
                    pass
            signals += 1
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        assert proc.poll() is None, "the server ended"
        assert wait_until(lambda: len(uvicorn_workers(proc.pid)) == 2, timeout=60, step=0.2)
        time.sleep(6)  # past one health-check round of the supervisor (5 s)
        workers = sorted(p.pid for p in uvicorn_workers(proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        reader.join(timeout=10)
    out = "".join(lines)
    assert signals >= 3, "the server answered before any request could reach a starting worker"
    assert "replaced" not in out and sig.name not in out, out[-5000:]
    assert set(started) <= set(workers), (started, workers, out[-5000:])  # every worker seen starting is still there


def test_a_reload_request_during_the_first_build_does_not_end_the_server(data_copy, tmp_path):
    """`arkg serve` may build the data before it serves (minutes at scale); SIGHUP's default
    action used to end it during that build."""
    from tests.conftest import free_port

    with open(data_copy / "graphs" / "entities" / "entities.ttl", "a") as f:
        f.write(NEW_TRIPLE)  # a version no build area holds: it is built first
    port = free_port()
    env = {**os.environ, "ARKG_RATE_LIMIT": "false", "ARKG_BUILD_DIR": str(tmp_path / "builds"),
           "ARKG_VALIDATE_ON_START": "false"}
    proc = subprocess.Popen([*ARKG, "serve", "--port", str(port), "--data-dir", str(data_copy)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    lines, reader = read_output(proc)
    signals, answered = 0, False
    try:
        assert wait_until(lambda: any("building the data" in line for line in lines) or proc.poll() is not None,
                          timeout=120, step=0.02), "".join(lines)
        deadline = time.monotonic() + 180
        while not answered and proc.poll() is None and time.monotonic() < deadline:
            os.kill(proc.pid, signal.SIGHUP)
            signals += 1
            try:
                answered = httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                time.sleep(0.1)
        assert proc.poll() is None and answered, f"after {signals} SIGHUPs: {''.join(lines)}"
        assert signals >= 3, "the build ended before any request reached it"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        reader.join(timeout=10)


def test_sighup_to_the_supervisor_reloads_every_worker_process(data_copy, tmp_path):
    server = LiveServer("--data-dir", str(data_copy), "--workers", "2", "--query-workers", "1", env=own_dumps(tmp_path))
    try:
        before = health(server)["version"]
        processes = sorted(p.pid for p in uvicorn_workers(server.proc.pid))
        assert len(processes) == 2
        with open(data_copy / "graphs" / "entities" / "entities.ttl", "a") as f:
            f.write(NEW_TRIPLE)
        os.kill(server.proc.pid, signal.SIGHUP)

        def all_reloaded():
            records = [health(server) for _ in range(12)]
            return all(r.get("last_reload", {}).get("status") == "ok" and r["version"] != before for r in records)

        reloaded = wait_until(all_reloaded, timeout=120, step=0.5)
        after = sorted(p.pid for p in uvicorn_workers(server.proc.pid))
        if not reloaded or after != processes:
            pytest.fail(f"workers {processes} -> {after}, all reloaded: {reloaded}; server log:\n{server.log()}")
    finally:
        server.stop()
