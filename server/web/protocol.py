"""uvicorn's httptools protocol, with two changes that a public endpoint needs.

- Request heads. uvicorn buffers the request line and headers without any limit (a client
  sending a 200 MiB header grew the server by 260 MB); here a head larger than
  ``max_body_bytes`` + 64 KiB is answered 431 and the connection closed.
- One write per response (:class:`OneWriteCycle`).

``serving.config`` names :class:`BoundedHttpToolsProtocol` as uvicorn's ``http`` protocol.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle


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
        from server.settings import get_settings

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
