"""uvicorn's httptools protocol, with two changes that a public endpoint needs and one for speed.

- Request heads are capped. uvicorn buffers the request line and headers without any limit
  (a client sending a 200 MiB header grew the server by 260 MB); here a head larger than
  ``max_body_bytes`` + 64 KiB is answered 431 and the connection closed.
- An offer to upgrade to cleartext HTTP/2 (``Upgrade: h2c``, which the JDK's HttpClient
  sends with every request: Jena, RDF4J, any Java 11+ program) is ignored, as RFC 9110
  §7.8 allows, and the request served as HTTP/1.1 *with its body*. httptools stops parsing
  at the end of such a head and uvicorn then drops the body (uvicorn issue 2722, open), so
  the ``Upgrade: h2c`` header line is taken out before the parser sees the head.
- The lookup lane's answers (web/lane.py) are written here, without an ASGI task.

Why not uvicorn's h11 protocol, which has both (``h11_max_incomplete_event_size``, and it
keeps the body after a declined upgrade): it cost 37% more CPU per lookup (bench/README.md,
"Private internals"). This module relies on private parts of uvicorn's
``HttpToolsProtocol``; ``serving.WRITTEN_FOR`` names the version it was written for and
pyproject.toml pins it (tests/web/test_library_pins.py).

``serving.config`` names :class:`BoundedHttpToolsProtocol` as uvicorn's ``http`` protocol.
"""

from __future__ import annotations

import logging
import re

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

logger = logging.getLogger("uvicorn.error")

# The header line of an h2c upgrade offer, within a request head. Without it the parser sees
# no upgrade ("Connection: Upgrade" alone does not make one).
_H2C_OFFER = re.compile(rb"\r\nupgrade:[ \t]*h2c[ \t]*(?=\r\n)", re.IGNORECASE)


def without_h2c_offer(head: bytes) -> bytes:
    """``head`` without its ``Upgrade: h2c`` line (other upgrades, such as WebSocket, stay).

    >>> without_h2c_offer(b"POST / HTTP/1.1\\r\\nConnection: Upgrade, HTTP2-Settings\\r\\nUpgrade: h2c\\r\\n\\r\\n")
    b'POST / HTTP/1.1\\r\\nConnection: Upgrade, HTTP2-Settings\\r\\n\\r\\n'
    >>> without_h2c_offer(b"GET / HTTP/1.1\\r\\nUpgrade: websocket\\r\\n\\r\\n")
    b'GET / HTTP/1.1\\r\\nUpgrade: websocket\\r\\n\\r\\n'
    """
    return _H2C_OFFER.sub(b"", head)


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a cap on the bytes of a request line and headers,
    ignoring offers to upgrade to h2c."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from server.settings import get_settings

        # A GET query may be as long as a POST body; headers get 64 KiB beside it.
        self.max_head_bytes = get_settings().max_body_bytes + 64 * 1024
        self._in_head, self._head_bytes = True, 0
        self._held = b""  # the start of a head that mentions an upgrade, until the head is complete
        self._completing = False  # in on_response_complete after a lane answer (see _answered_by_lane)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next bytes on this connection start the next request's head (keep-alive).
        self._in_head, self._head_bytes = True, 0

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
                self._in_head, self._held = False, b""
                return
            if self._held or b"pgrade" in data:  # "Upgrade"/"upgrade": hold the head until it is whole
                data = self._held + data
                end = data.find(b"\r\n\r\n")
                if end < 0:
                    self._held = data
                    return
                self._held = b""
                data = without_h2c_offer(data[:end]) + data[end:]
        super().data_received(data)

    # The lookup lane (web/lane.py) answered here, as uvicorn is about to start the request's
    # ASGI task: no task, no ASGI messages and their checks, the head and body in one write
    # (uvicorn writes them apart: two system calls). At 5M, 8 connections: lookups 7,140-7,530
    # -> 7,750-8,615 req/s, ASK 8,780-9,280 -> 9,640-11,130 (bench/README.md, "Issue 11 at night").
    def _start_asgi_task(self, cycle, app) -> None:
        if not self._answered_by_lane(cycle, app):
            super()._start_asgi_task(cycle, app)

    def _answered_by_lane(self, cycle, app) -> bool:
        """Send the lane's answer to ``cycle``'s request and return True, or return False.

        Left to the ASGI task: an app without a lane (uvicorn's proxy-headers middleware sits
        in front: the lane then runs after it), a client not reading its answers (the task
        waits for the transport to drain), and a request started while an answer is being
        completed here (the next of pipelined requests: answering it here would recurse once
        per pipelined request).
        """
        lane = getattr(app, "lane", None)
        if lane is None or self._completing or self.flow.write_paused or self.transport.is_closing():
            return False
        try:
            answer = lane.answer(cycle.scope)
        except Exception:  # noqa: BLE001 (raised here it would reach httptools and become a 400 "Invalid HTTP request")
            logger.exception("the lookup lane failed; the app answers the request")
            return False  # the request is marked as tried: the app does not offer it to the lane again
        if answer is None:
            return False
        headers, body = answer
        content = [STATUS_LINE[200]]
        for name, value in (*self.server_state.default_headers, *headers):
            content += (name, b": ", value, b"\r\n")
        if not cycle.keep_alive:  # HTTP/1.0, or the client's "Connection: close"
            content.append(b"connection: close\r\n")
        content += (b"\r\n", body)
        self.transport.write(b"".join(content))
        cycle.response_complete = True
        if not cycle.keep_alive:
            self.transport.close()
        self._completing = True
        try:
            self.on_response_complete()  # what the cycle would call: the next pipelined request, or keep-alive
        finally:
            self._completing = False
        return True
