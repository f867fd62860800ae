"""A real `arkg serve --workers 2`: a worker that dies is replaced and logged at warning level
saying which and why; SIGTERM stops the whole process tree (uvicorn workers, query workers)
within seconds, leaving no process behind."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.reliability_tools import uvicorn_workers

ASK = {"query": "ASK { ?s a <https://w3id.org/arkg/ontology#Claim> }"}
JSON = {"Accept": "application/sparql-results+json"}


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc: parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def workers(server: LiveServer) -> set[int]:
    return {p.pid for p in uvicorn_workers(server.proc.pid)}


def _answers(server: LiveServer, times: int = 6) -> None:
    for _ in range(times):  # connections spread over both workers
        r = httpx.get(server.url + "/sparql", params=ASK, headers=JSON, timeout=30)
        assert r.status_code == 200 and r.json()["boolean"] is True


@pytest.mark.slow
def test_a_dead_worker_is_replaced_and_logged_then_sigterm_stops_everything(build_dir):
    server = LiveServer("--workers", "2", env={"ARKG_BUILD_DIR": str(build_dir), "ARKG_VALIDATE_ON_START": "false"})
    try:
        _answers(server)
        before = workers(server)
        assert len(before) == 2, before
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(workers(server)) < 2 or victim in workers(server)):
            time.sleep(0.2)
        if victim in workers(server) or len(workers(server)) != 2:  # seen once in CI (2026-12-06): say why
            pytest.fail(f"the dead worker {victim} was not replaced: workers {workers(server)}; server log:\n{server.log()}")
        deadline = time.monotonic() + 60
        while True:  # the replacement has opened the build and serves
            try:
                _answers(server)
                break
            except (httpx.HTTPError, AssertionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

        tree = descendants(server.proc.pid)
        assert len(tree) >= 4, tree  # two uvicorn workers and their query workers at least
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=30)
        took = time.monotonic() - started
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(alive(p) for p in tree):
            time.sleep(0.1)
        left = {p for p in tree if alive(p)}
    finally:
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.stop()
    output = server.log()
    assert f"[pid {victim}] replaced" in output and "killed by SIGKILL" in output, output[-3000:]
    assert took < 10, f"SIGTERM took {took:.1f} s"
    assert not left, f"processes left after SIGTERM: {sorted(left)}"
