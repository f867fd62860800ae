"""The response head and the first body chunk leave in one write (server/web/protocol.py).

A real uvicorn server with ARKG's protocol on 127.0.0.1; the test's protocol only records
what the real transport is asked to write, and passes everything on.
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.routing import Route

from server.web.protocol import BoundedHttpToolsProtocol

from tests.conftest import free_port


class _Recording:
    """The real transport, with a log of every write."""

    def __init__(self, transport, log: list[bytes]):
        self._transport, self._log = transport, log

    def write(self, data: bytes) -> None:
        self._log.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name):
        return getattr(self._transport, name)


WRITES: list[bytes] = []


class RecordingProtocol(BoundedHttpToolsProtocol):
    def connection_made(self, transport) -> None:
        super().connection_made(_Recording(transport, WRITES))


async def small(request: Request):
    return PlainTextResponse("hello")


async def chunks(request: Request):
    async def parts():
        for part in (b"one", b"two", b"three"):
            yield part
    return StreamingResponse(parts(), media_type="text/plain")


async def echo(request: Request):
    return PlainTextResponse((await request.body()).decode())


APP = Starlette(routes=[Route("/small", small, methods=["GET", "HEAD"]), Route("/chunks", chunks),
                        Route("/echo", echo, methods=["POST"])])


@pytest.fixture(scope="module")
def server():
    port = free_port()
    config = uvicorn.Config(APP, host="127.0.0.1", port=port, http=RecordingProtocol, loop="asyncio",
                            log_level="warning", access_log=False, lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(100):  # bounded: 10 s
        if srv.started:
            break
        time.sleep(0.1)
    assert srv.started
    yield port
    srv.should_exit = True
    thread.join(timeout=10)


def _exchange(port: int, raw: bytes, done, *, pause_after: bytes | None = None) -> bytes:
    """Send ``raw`` (holding the rest after ``pause_after`` until 100 Continue comes) and read
    until ``done(received)``."""
    WRITES.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        received = b""
        if pause_after is not None:
            head, rest = raw.split(pause_after, 1)
            sock.sendall(head + pause_after)
            while b"100 Continue" not in received:
                received += sock.recv(65536)
            raw = rest
        sock.sendall(raw)
        while not done(received):
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    return received


def test_head_and_body_leave_in_one_write(server):
    received = _exchange(server, b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n", lambda r: r.endswith(b"hello"))
    assert received.startswith(b"HTTP/1.1 200")
    assert len(WRITES) == 1 and WRITES[0] == received


def test_keep_alive_responses_each_leave_in_one_write(server):
    request = b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n"
    received = _exchange(server, request * 2, lambda r: r.count(b"hello") == 2)
    assert received.count(b"HTTP/1.1 200") == 2
    assert len(WRITES) == 2 and all(w.startswith(b"HTTP/1.1 200") and w.endswith(b"hello") for w in WRITES)


def test_head_requests_still_get_their_head(server):
    received = _exchange(server, b"HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n", lambda r: r.endswith(b"\r\n\r\n"))
    assert received.startswith(b"HTTP/1.1 200") and b"content-length: 5" in received.lower()
    assert len(WRITES) == 1 and not WRITES[0].endswith(b"hello")


def test_streamed_bodies_carry_the_head_in_their_first_write(server):
    received = _exchange(server, b"GET /chunks HTTP/1.1\r\nHost: x\r\n\r\n", lambda r: r.endswith(b"0\r\n\r\n"))
    assert b"one" in received and b"three" in received
    assert WRITES[0].startswith(b"HTTP/1.1 200") and WRITES[0].endswith(b"3\r\none\r\n")
    assert b"".join(WRITES) == received


def test_100_continue_is_not_held_back(server):
    body = b"query"
    raw = (b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n"
           b"Content-Type: text/plain\r\n\r\n" + body)
    received = _exchange(server, raw, lambda r: r.endswith(b"query"), pause_after=b"\r\n\r\n")
    assert WRITES[0] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert len(WRITES) == 2 and WRITES[1].startswith(b"HTTP/1.1 200") and WRITES[1].endswith(b"query")
    assert received.endswith(b"query")
