"""A pool of killable query worker processes, driven from the asyncio event loop.

Why processes: pyoxigraph has no query timeout, does not see signals until a query ends,
and a thread cannot be cancelled, so the only way to make a runaway query stop using CPU
is to kill the process running it. Why this small pool rather than pebble or
concurrent.futures: a request is one pipe round trip, no thread hop and no pickling of
results (the body is sent as raw bytes), about 1.5x faster per cheap
query than pebble's ProcessPool (290-350 vs 465-500 µs wall per lookup, 2 workers, 2000
queued: bench/pool_vs_pebble.py); on a timeout the worker is SIGKILLed and
a fresh one started in the background.

Each worker's pipe stays registered with the event loop for the worker's life and its
callback cuts the byte stream into messages (multiprocessing's length-prefixed frames), so
a query costs one write, usually one read, one future and one ``asyncio.timeout``; adding
and removing a reader and a ``wait_for`` task per message cost about 0.1 ms of the
server's CPU per query (bench/README.md has the figures).

A worker that dies mid-query (killed, out of memory) fails only that request; the pool
replaces it. Requests beyond the idle workers wait in FIFO order.

Lookups that provably cannot run away skip the pool (store/inline.py).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import pickle
import signal
import struct
import time
from dataclasses import dataclass

from server.engine import worker as worker_module
from server.engine.worker import Request, StoreSpec


class QueryError(Exception):
    """Base of the errors a query can end with; ``status`` is the HTTP status that fits."""
    status = 500


class QuerySyntaxError(QueryError):
    status = 400


class QueryEvaluationError(QueryError):
    status = 400


class QueryTimeout(QueryError):
    status = 503


class ResultTooLarge(QueryError):
    status = 413


class WorkerCrashed(QueryError):
    status = 503


class PoolUnavailable(QueryError):
    status = 503


class QueryCrashedWorker(QueryError):
    status = 400


# Exit codes of a worker killed by its own fault (stack overflow, failed allocation
# under the address-space limit, which Rust answers with abort); SIGKILL comes from outside.
_QUERY_FAULTS = {-signal.SIGSEGV, -signal.SIGABRT, -signal.SIGBUS, -signal.SIGILL}


@dataclass
class QueryResult:
    kind: str  # "solutions", "boolean" or "triples"
    format: str  # short format name
    body: bytes
    seconds: float


_LENGTH = struct.Struct("!i")  # multiprocessing.connection's frame header
_LONG_LENGTH = struct.Struct("!Q")  # follows a length of -1 for frames over 2 GiB


class _Worker:
    """One worker process and the parent's end of its pipe, read by an event-loop callback."""

    def __init__(self, process, conn):
        self.process, self.conn = process, conn
        self.fd = conn.fileno()
        self.buffer = bytearray()
        self.frames: list[bytes] = []
        self.waiter: asyncio.Future | None = None  # the in-flight query's (header, body)
        self.loop: asyncio.AbstractEventLoop | None = None  # None once the pipe is closed or at EOF
        self.on_exit = None  # called with the worker when it dies while idle

    @property
    def pid(self) -> int:
        return self.process.pid

    def attach(self, loop: asyncio.AbstractEventLoop, on_exit) -> None:
        self.loop, self.on_exit = loop, on_exit
        loop.add_reader(self.fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 65536)  # readable: returns what is there, never blocks; 64 KiB stays off mmap
        except OSError:
            data = b""
        if not data:  # the worker is gone
            self.loop.remove_reader(self.fd)
            self.loop = None
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(EOFError())  # run() replaces it
            elif self.waiter is None and self.on_exit is not None:
                self.on_exit(self)  # died while idle
            return
        self.buffer += data
        self._frames()
        if self.waiter is None or self.waiter.done() or not self.frames:
            return
        try:
            header = pickle.loads(self.frames[0])
        except Exception as exc:  # noqa: BLE001 (a corrupt stream: the caller replaces the worker)
            self.waiter.set_exception(pickle.UnpicklingError(str(exc)))
            return
        if header[0] != "ok":
            self.frames.pop(0)
            self.waiter.set_result((header, b""))
        elif len(self.frames) >= 2:  # "ok" is followed by the body
            self.frames.pop(0)
            self.waiter.set_result((header, self.frames.pop(0)))

    def _frames(self) -> None:
        buffer = self.buffer
        while len(buffer) >= 4:
            (size,) = _LENGTH.unpack_from(buffer)
            start = 4
            if size == -1:
                if len(buffer) < 12:
                    return
                (size,), start = _LONG_LENGTH.unpack_from(buffer, 4), 12
            if len(buffer) < start + size:
                return
            self.frames.append(bytes(buffer[start:start + size]))
            del buffer[:start + size]

    def kill(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.fd)
            self.loop = None
        try:
            os.kill(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, TypeError):
            pass
        self.conn.close()
        self.process.join(timeout=5)


def _context():
    # forkserver: workers fork from a small clean server process, not from the uvicorn
    # process with its event loop and threads.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["pyoxigraph", "server.engine.worker", "server.model.formats"])
    return ctx


class QueryPool:
    """``size`` worker processes over one dataset. Use :meth:`start` then :meth:`run`."""

    def __init__(self, spec: StoreSpec, *, size: int = 2, timeout: float = 30.0,
                 max_bytes: int = 64 << 20, memory_limit_mb: int = 0, start_timeout: float = 300.0):
        self.spec, self.size, self.timeout = spec, size, timeout
        self.max_bytes, self.memory_limit_mb, self.start_timeout = max_bytes, memory_limit_mb, start_timeout
        self._ctx = _context()
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._closed = False
        self._replacing: set[asyncio.Task] = set()
        self.replaced = 0  # workers started to replace killed or crashed ones

    # --- lifecycle
    def _spawn_blocking(self) -> _Worker:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=worker_module.main, daemon=True,
                                    args=(child, self.spec, self.max_bytes, self.memory_limit_mb))
        process.start()
        child.close()
        if not parent.poll(self.start_timeout):
            process.kill()
            raise PoolUnavailable(f"a query worker did not load the dataset within {self.start_timeout} s")
        try:
            status = pickle.loads(parent.recv_bytes())
        except EOFError:
            status = ("failed", f"worker exited with code {process.exitcode}")
        if status[0] != "ready":
            process.join(timeout=5)
            raise PoolUnavailable(f"a query worker could not open the dataset: {status[1]}")
        return _Worker(process, parent)

    async def start(self) -> "QueryPool":
        """Start every worker; raises :class:`PoolUnavailable` if the dataset cannot be opened."""
        loop = asyncio.get_running_loop()
        workers = await asyncio.gather(*(loop.run_in_executor(None, self._spawn_blocking)
                                         for _ in range(self.size)), return_exceptions=True)
        errors = [w for w in workers if isinstance(w, BaseException)]
        for w in workers:
            if isinstance(w, _Worker):
                w.attach(loop, self._replace)
                self._all.add(w)
                self._idle.put_nowait(w)
        if errors:
            await self.close()
            raise errors[0]
        return self

    async def close(self) -> None:
        """Stop every worker; in-flight requests fail with :class:`PoolUnavailable`."""
        self._closed = True
        for task in list(self._replacing):
            task.cancel()
        for w in list(self._all):
            w.kill()
        self._all.clear()

    def pids(self) -> list[int]:
        return sorted(w.pid for w in self._all)

    def _replace(self, dead: _Worker) -> None:
        dead.kill()
        self._all.discard(dead)
        if self._closed:
            return

        async def replace():
            try:
                fresh = await asyncio.get_running_loop().run_in_executor(None, self._spawn_blocking)
            except PoolUnavailable:
                await asyncio.sleep(1)
                return self._replace(dead)
            if self._closed:
                fresh.kill()
                return
            self.replaced += 1
            fresh.attach(asyncio.get_running_loop(), self._replace)
            self._all.add(fresh)
            self._idle.put_nowait(fresh)

        task = asyncio.get_running_loop().create_task(replace())
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    # --- queries
    async def _acquire(self, limit: float) -> _Worker:
        """An idle, live worker; waits in FIFO order while all are busy, within ``limit``."""
        deadline = asyncio.get_running_loop().time() + limit
        while True:
            try:
                w = self._idle.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    async with asyncio.timeout_at(deadline):
                        w = await self._idle.get()
                except TimeoutError:
                    raise QueryTimeout(f"no query worker became free within the time limit of {limit:g} s; "
                                       "the service is busy, retry later") from None
            if w.loop is not None:
                return w
            # died while idle (its replacement is already on the way): skip it

    async def run(self, request: Request, *, timeout: float | None = None) -> QueryResult:
        """Evaluate ``request`` in a worker; raises a :class:`QueryError` subclass on failure."""
        if self._closed:
            raise PoolUnavailable("the query service is shutting down")
        limit = self.timeout if timeout is None else timeout
        started = time.monotonic()
        w = await self._acquire(limit)
        remaining = max(0.001, limit - (time.monotonic() - started))
        w.waiter = asyncio.get_running_loop().create_future()
        try:
            async with asyncio.timeout(remaining):
                w.conn.send_bytes(pickle.dumps(request))
                header, body = await w.waiter
        except TimeoutError:
            self._replace(w)
            raise QueryTimeout(f"the query exceeded the time limit of {limit:g} s and was stopped; "
                               "narrow it (LIMIT, more specific patterns) or run it on a copy of the dumps") from None
        except asyncio.CancelledError:
            # The client went away mid-query: the worker's state is unknown, so replace it.
            self._replace(w)
            raise
        except (EOFError, OSError, pickle.UnpicklingError):
            self._replace(w)
            if w.process.exitcode in _QUERY_FAULTS:
                # The process died of its own fault while evaluating: this query did it, and
                # would do it again; a client error, not a reason to retry.
                raise QueryCrashedWorker(
                    f"the query engine failed on this query ({signal.Signals(-w.process.exitcode).name}): it is "
                    "nested too deeply, too long, or needs more memory than a query worker may use. "
                    "The worker has been replaced; simplify the query (fewer nested groups, "
                    "shorter chains, LIMIT).") from None
            raise WorkerCrashed("the query worker stopped unexpectedly while running this query "
                                "(killed or out of memory); it has been replaced, retry") from None
        finally:
            w.waiter = None
        self._idle.put_nowait(w)
        return outcome(header, body, time.monotonic() - started)


def outcome(header: tuple, body: bytes, seconds: float) -> QueryResult:
    """The result a worker's answer (worker.py: ``answer``) stands for, or its :class:`QueryError`."""
    status = header[0]
    if status == "ok":
        return QueryResult(header[1], header[2], body, seconds)
    raise {"syntax": QuerySyntaxError, "too_large": ResultTooLarge,
           "memory": ResultTooLarge}.get(status, QueryEvaluationError)(header[1])
