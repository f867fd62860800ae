"""`arkg serve --workers N`: one listening socket per worker (server/web/serving.py).

Checked in a real server: each worker has its own listener on the shared port, new
connections reach both workers, and a worker that dies is replaced by one that serves the
socket its predecessor left (otherwise connections hashed to that socket would wait forever).
"""

from __future__ import annotations

import os
import signal
import socket

import httpx
import psutil
import pytest

from tests.conftest import LiveServer
from tests.reliability_tools import uvicorn_workers, wait_until


def _workers(server: LiveServer) -> list[psutil.Process]:
    return uvicorn_workers(server.proc.pid)


def _listener(proc: psutil.Process, port: int) -> str | None:
    """The inode of the socket ``proc`` listens on at ``port`` (None while it does not listen)."""
    try:
        for conn in proc.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.fd != -1:
                return os.readlink(f"/proc/{proc.pid}/fd/{conn.fd}")
    except (psutil.NoSuchProcess, FileNotFoundError):
        return None
    return None


def _listeners(server: LiveServer) -> dict[int, str | None]:
    return {p.pid: _listener(p, server.port) for p in _workers(server)}


def _both_listening(server: LiveServer) -> bool:
    found = _listeners(server)
    return len(found) == 2 and all(found.values())


def _established(proc: psutil.Process, port: int) -> int:
    return sum(1 for c in proc.net_connections(kind="tcp")
               if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == port)


@pytest.fixture
def two_workers(tmp_path):
    server = LiveServer("--workers", "2", "--query-workers", "1",
                        env={"ARKG_DUMPS_DIR": str(tmp_path / "dumps"), "ARKG_VALIDATE_ON_START": "false"})
    try:
        assert wait_until(lambda: _both_listening(server), timeout=120, step=0.5)
        yield server
    finally:
        server.stop()


def _open_connections(server: LiveServer, count: int) -> list[socket.socket]:
    """``count`` keep-alive connections, each having had one request answered."""
    conns = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        conns.append(sock)
    return conns


def test_each_worker_listens_on_its_own_socket_and_gets_connections(two_workers):
    listeners = _listeners(two_workers)
    assert len(set(listeners.values())) == 2, listeners
    conns = _open_connections(two_workers, 16)
    try:
        per_worker = {p.pid: _established(p, two_workers.port) for p in _workers(two_workers)}
        # The kernel spreads connections by a hash of their addresses: all 16 on one of two
        # sockets has a probability of 2 in 65,536.
        assert sum(per_worker.values()) == 16 and min(per_worker.values()) >= 1, per_worker
    finally:
        for sock in conns:
            sock.close()


def test_a_replaced_worker_serves_the_socket_its_predecessor_left(two_workers):
    before = _listeners(two_workers)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)

    def replaced():
        now = _listeners(two_workers)
        return victim not in now and len(now) == 2 and all(now.values())

    assert wait_until(replaced, timeout=120, step=0.5)
    after = _listeners(two_workers)
    assert set(after.values()) == set(before.values()), (before, after)
    # Every new connection is answered, whichever socket the kernel hashes it to.
    for _ in range(24):
        assert httpx.get(two_workers.url + "/health", timeout=30).status_code == 200


def test_a_worker_that_stops_answering_is_replaced_and_the_log_says_where_it_was(two_workers):
    """A stopped worker (SIGSTOP) misses the supervisor's health checks; it cannot write its
    stacks (a stopped process runs no signal handler), so the replacement's log line carries
    what the kernel says its threads were doing (serving.kernel_state). Connections that
    reached it meanwhile are answered by its replacement."""
    victim = min(p.pid for p in _workers(two_workers))
    os.kill(victim, signal.SIGSTOP)
    try:
        # Connections the kernel gives the stopped worker's socket wait for its replacement.
        waiting = [socket.create_connection(("127.0.0.1", two_workers.port), timeout=90) for _ in range(6)]
        for sock in waiting:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for sock in waiting:
            with sock:
                assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert wait_until(lambda: victim not in {p.pid for p in _workers(two_workers)} and _both_listening(two_workers),
                          timeout=120, step=0.5)
    finally:
        try:
            os.kill(victim, signal.SIGKILL)  # not left stopped if the supervisor did not act
        except ProcessLookupError:
            pass
    for _ in range(12):
        assert httpx.get(two_workers.url + "/health", timeout=30).status_code == 200
    log = two_workers.log()
    line = next(line for line in log.splitlines() if f"[pid {victim}] replaced" in line)
    assert "did not answer the supervisor's health check" in line and "T (do_signal_stop)" in line, line
