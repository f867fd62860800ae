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

import hashlib
import json
import logging
import os
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

from server.settings import Settings


def log_path(settings: Settings) -> Path:
    """The file this process writes (one per process when there are several workers)."""
    path = Path(settings.query_log_path)
    if settings.workers > 1:
        path = path.with_name(f"{path.stem}-{os.getpid()}{path.suffix}")
    return path


class QueryLog:
    """Writes query records through a size-rotated file handler of its own."""

    def __init__(self, settings: Settings):
        path = log_path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.salt = (settings.query_log_salt.get_secret_value() if settings.query_log_salt else os.urandom(16).hex())
        self.logger = logging.Logger("arkg.queries")  # not the global tree: no propagation, no other handlers
        handler = RotatingFileHandler(path, maxBytes=settings.query_log_max_bytes,
                                      backupCount=settings.query_log_backups, encoding="utf-8",
                                      delay=True)  # opened at the first query
        handler.setFormatter(logging.Formatter("%(message)s"))
        self.logger.addHandler(handler)

    def client_hash(self, key: str) -> str:
        return hashlib.sha256(f"{self.salt}\x00{key}".encode()).hexdigest()[:16]

    def record(self, *, route: str, client_key: str, query: str, seconds: float, outcome: str,
               result_bytes: int) -> None:
        now = time.time()
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
            "route": route, "client": self.client_hash(client_key),
            "query_sha256": hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest(),
            "query_chars": len(query), "seconds": round(seconds, 6), "outcome": outcome,
            "result_bytes": result_bytes,
        }
        self.logger.info(json.dumps(line, separators=(",", ":")))

    def close(self) -> None:
        for handler in list(self.logger.handlers):
            handler.close()
            self.logger.removeHandler(handler)


def open_query_log(settings: Settings) -> QueryLog | None:
    return QueryLog(settings) if settings.query_log else None
