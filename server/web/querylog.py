"""The query log: one JSON line per query run for a client, rotated by size.

A line holds the time, the route, a salted hash of the client key (never the address),
a hash and the length of the query text, the duration, the outcome and the result bytes:

    {"time": "2026-12-06T01:02:03.456Z", "route": "/sparql", "client": "5f0c…", "query_sha256": "9a1e…",
     "query_chars": 58, "seconds": 0.0042, "outcome": "ok", "result_bytes": 1234}

The salt (``query_log_salt``) is made at each server start unless configured, so a client's
hash links its queries within one run of the server and nowhere else; an unsalted hash of
an IPv4 address is undone by trying all 2^32 of them. Several uvicorn workers rotating one
file would lose lines (each renames the file under the others), so with more than one
worker each process writes its own file, ``queries-<pid>.jsonl`` beside ``query_log_path``.
Off with ``ARKG_QUERY_LOG=false``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from pathlib import Path

from server.settings import Settings


FLUSH_SECONDS = 1.0  # the longest a record waits before it is written
FLUSH_LINES = 1000  # written at once when this many wait


def log_path(settings: Settings) -> Path:
    """The file this process writes (one per process when there are several workers)."""
    path = Path(settings.query_log_path)
    if settings.workers > 1:
        path = path.with_name(f"{path.stem}-{os.getpid()}{path.suffix}")
    return path


class RotatingLines:
    """Appends whole lines to ``path``, rotated by size as logging's ``RotatingFileHandler``
    does (``path.1`` the newest old file, up to ``path.<backups>``; no backups: truncated).

    Why not that handler: per line it built a ``LogRecord``, looked up its caller, took a
    lock and ran two ``stat`` calls to decide on rotation. Here the size is counted.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> lines = RotatingLines(d / "q.jsonl", max_bytes=10, backups=2)
    >>> for text in ("aaaa", "bbbb", "cccc", "dddd"): lines.write([text])
    >>> [(p.name, p.read_text().split()) for p in sorted(d.iterdir())]
    [('q.jsonl', ['dddd']), ('q.jsonl.1', ['cccc']), ('q.jsonl.2', ['bbbb'])]
    """

    def __init__(self, path: Path, *, max_bytes: int, backups: int):
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._file = None  # opened at the first line
        self._size = 0

    def write(self, lines: list[str]) -> None:
        """Write ``lines`` together, in one call (rotating first if they would pass the size)."""
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        if self._file is None:
            self._file = open(self.path, "ab", buffering=0)
            self._size = self._file.tell()
        if self._size and self._size + len(data) >= self.max_bytes:  # as logging's handler
            self._rotate()
        self._file.write(data)
        self._size += len(data)

    def _rotate(self) -> None:
        self._file.close()
        if self.backups:
            for k in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{k}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{k + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
            self._file = open(self.path, "ab", buffering=0)
        else:
            self._file = open(self.path, "wb", buffering=0)
        self._size = 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class QueryLog:
    """Query records, one JSON line each, in a size-rotated file of this process's own.

    A record made on an event loop waits at most :data:`FLUSH_SECONDS` (or until
    :data:`FLUSH_LINES` wait) and is then formatted and written with the others, as nginx's
    ``access_log ... buffer= flush=`` does: formatting and writing each line as its query
    ended cost lookups 10-15% of their throughput (bench/README.md, "The lookup lane").
    A process killed with SIGKILL loses at most that second of lines; :meth:`close` (the
    app's shutdown) writes them. Without a running loop every record is written at once.
    """

    def __init__(self, settings: Settings):
        path = log_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.salt = (settings.query_log_salt.get_secret_value() if settings.query_log_salt else os.urandom(16).hex())
        self.lines = RotatingLines(path, max_bytes=settings.query_log_max_bytes, backups=settings.query_log_backups)
        self._pending: list[tuple] = []  # records not yet written
        self._hashes: dict[str, str] = {}  # client key -> its salted hash (the same few clients ask again and again)
        self._second: tuple[int, str] = (-1, "")  # the time's text, to the second

    def client_hash(self, key: str) -> str:
        found = self._hashes.get(key)
        if found is None:
            if len(self._hashes) > 10_000:
                self._hashes.clear()
            found = self._hashes[key] = hashlib.sha256(f"{self.salt}\x00{key}".encode()).hexdigest()[:16]
        return found

    def _time(self, now: float) -> str:
        second = int(now)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return f"{self._second[1]}.{int(now % 1 * 1000):03d}Z"

    def record(self, *, route: str, client_key: str, query: str, seconds: float, outcome: str,
               result_bytes: int) -> None:
        # the query's digest now: a query text (up to the body limit) is not held until the flush
        digest = hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()
        self._pending.append((time.time(), route, client_key, digest, len(query), seconds, outcome, result_bytes))
        if len(self._pending) >= FLUSH_LINES:
            self.flush()
        elif len(self._pending) == 1:  # the first record waiting: written within FLUSH_SECONDS
            try:
                asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no loop in this thread
                self.flush()

    def flush(self) -> None:
        """Format and write the records waiting."""
        pending, self._pending = self._pending, []
        if pending:
            self.lines.write([self._line(*record) for record in pending])

    def _line(self, now: float, route: str, client_key: str, digest: str, chars: int, seconds: float, outcome: str,
              result_bytes: int) -> str:
        return json.dumps({
            "time": self._time(now), "route": route, "client": self.client_hash(client_key),
            "query_sha256": digest, "query_chars": chars, "seconds": round(seconds, 6), "outcome": outcome,
            "result_bytes": result_bytes,
        }, separators=(",", ":"))

    def close(self) -> None:
        self.flush()
        self.lines.close()


def open_query_log(settings: Settings) -> QueryLog | None:
    return QueryLog(settings) if settings.query_log else None
