"""Running the app under uvicorn: one process, or a supervisor with N worker processes.

Why not plain ``uvicorn.run``: two behaviours must differ from uvicorn's defaults.

- SIGHUP. uvicorn's multiprocess supervisor answers it by restarting every worker, and a
  restarted worker would load the new data without the checks of a reload and without
  any record of a failure in /health. Here the supervisor forwards SIGHUP to each worker
  process, which reloads in place (server/http/reload.py) and keeps its last good dataset
  if the new one fails. With one process, the lifespan handles SIGHUP itself.
- Request heads. uvicorn's httptools protocol buffers the request line and headers without
  any limit (a client sending a 200 MiB header grew the server by 260 MB); here a head
  larger than ``max_body_bytes`` + 64 KiB is answered 431 and the connection closed.
- Connections spread over the workers. uvicorn's workers share one listening socket, and
  the first to wake accepts every pending connection: 8 connections opened together
  landed all on one worker in 3 of 4 trials, leaving the other core idle (lookups at
  2,000 req/s instead of 2,900). Here each worker gets its own listening socket on the
  same port (``SO_REUSEPORT``) and the kernel spreads new connections across them.
- X-Forwarded-For. uvicorn trusts it from 127.0.0.1 by default; the per-client limits
  need the real client address, so it is trusted only from the proxies listed in
  ``forwarded_allow_ips`` (default: none).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.supervisors.multiprocess import Multiprocess

from ..settings import Settings

logger = logging.getLogger("uvicorn.error")


class _Collect:
    """Stands in for the transport while uvicorn formats one response message."""
    __slots__ = ("parts", "closed")

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.parts.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request/response cycle, except that the response head goes out together
    with the first body chunk: one ``send()`` per response instead of two.

    uvicorn writes the head as soon as the app starts the response; on a small response
    the two writes, each a system call and a TCP segment, took a quarter of a lookup's
    CPU (bench/README.md). The head is held only until the next message of the same
    response, which the app sends at once.
    """

    _holding = False
    _head = b""

    async def send(self, message) -> None:
        if self.response_started and not self._holding:
            await super().send(message)
            return
        transport, collect = self.transport, _Collect()
        self.transport = collect
        try:
            await super().send(message)
        finally:
            self.transport = transport
        data = b"".join(collect.parts)
        if not self._holding:  # the start message: hold its head
            self._holding, self._head = True, data
            return
        self._holding, data = False, self._head + data
        if data:
            transport.write(data)
        if collect.closed:
            transport.close()


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on the bytes of a request line and headers,
    answering through :class:`OneWriteCycle`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from ..settings import get_settings

        # A GET query may be as long as a POST body; headers get 64 KiB beside it.
        self.max_head_bytes = get_settings().max_body_bytes + 64 * 1024
        self._in_head, self._head_bytes = True, 0

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()
        # uvicorn names its cycle class inside this method; its task has not run yet.
        if type(self.cycle) is RequestResponseCycle:
            self.cycle.__class__ = OneWriteCycle

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self.max_head_bytes:
                message = (f"The request line and headers exceed {self.max_head_bytes} bytes; "
                           "send a long query as a POST body (Content-Type: application/sparql-query).\n").encode()
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
                                     b"content-length: " + str(len(message)).encode() + b"\r\n\r\n" + message)
                self.transport.close()
                self._in_head = False
                return
        super().data_received(data)


def listeners(cfg: uvicorn.Config, count: int) -> list[socket.socket]:
    """``count`` sockets bound to the host and port with ``SO_REUSEPORT`` (one per worker), or
    uvicorn's one shared socket where that option does not exist."""
    if count < 2 or not hasattr(socket, "SO_REUSEPORT") or cfg.uds or cfg.fd is not None:
        return [cfg.bind_socket()]
    family = socket.AF_INET6 if cfg.host and ":" in cfg.host else socket.AF_INET
    port, out = cfg.port, []
    try:
        for _ in range(count):
            sock = socket.socket(family=family)
            out.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((cfg.host, port))
            port = sock.getsockname()[1]  # port 0: the others join the one the first was given
            sock.set_inheritable(True)
    except OSError as exc:
        for sock in out:
            sock.close()
        logger.error("cannot listen on %s:%s: %s", cfg.host, cfg.port, exc)
        sys.exit(STARTUP_FAILURE)
    logger.info("ARKG listening on http://%s:%d with %d workers", cfg.host, port, count)
    return out


class ReloadingMultiprocess(Multiprocess):
    """uvicorn's supervisor, with one listening socket per worker (see the module docstring)
    and SIGHUP passed on to the workers (each reloads in place)."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]):
        self.listeners = sockets
        super().__init__(config, sockets=sockets)

    # uvicorn starts every worker, first ones and replacements alike, with
    # ``Process(config, self.sockets)``: a worker takes over the listener of the first slot
    # that has no live worker, so a replacement serves the socket its predecessor left.
    @property
    def sockets(self) -> list[socket.socket]:
        if len(self.listeners) == 1:
            return self.listeners
        for slot, sock in enumerate(self.listeners):
            if slot >= len(self.processes) or not self.processes[slot].process.is_alive():
                return [sock]
        return [self.listeners[0]]  # not reached: workers are never added (handle_ttin)

    @sockets.setter
    def sockets(self, value) -> None:
        pass  # Multiprocess.__init__ assigns it; the property above decides

    def handle_ttin(self) -> None:
        logger.warning("SIGTTIN ignored: each worker has its own listening socket; restart with --workers N")

    def handle_ttou(self) -> None:
        logger.warning("SIGTTOU ignored: each worker has its own listening socket; restart with --workers N")

    def handle_hup(self) -> None:
        for process in self.processes:
            if process.pid is not None and process.process.is_alive():
                try:
                    os.kill(process.pid, signal.SIGHUP)
                except ProcessLookupError:
                    pass


def config(settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration for ``settings`` (the app is built by the factory in each process)."""
    return uvicorn.Config(
        "server.http.app:create_app", factory=True, host=settings.host, port=settings.port,
        workers=settings.workers, loop="uvloop", http=BoundedHttpToolsProtocol, log_level="warning",
        # At "warning" the access lines are never shown, but uvicorn still formats each one
        # (URL-quoting the path, decoding the query string): about 2% of a lookup's CPU.
        access_log=False,
        # in-flight queries may finish: the longest one runs query_timeout seconds
        timeout_graceful_shutdown=int(settings.query_timeout) + 5,
        proxy_headers=bool(settings.forwarded_allow_ips), forwarded_allow_ips=settings.forwarded_allow_ips or None)


def run(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT (graceful: in-flight requests finish first)."""
    # Until each process's lifespan handles SIGHUP, a reload request must not kill it (the
    # default action); children inherit the ignored disposition, query workers keep it.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    cfg = config(settings)
    if cfg.workers > 1:
        ReloadingMultiprocess(cfg, sockets=listeners(cfg, cfg.workers)).run()
        return
    server = uvicorn.Server(cfg)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(STARTUP_FAILURE)
