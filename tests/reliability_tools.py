"""Helpers shared by the reliability campaigns (tests/web/test_reliability_*.py, bench/load_test.py)."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

# Runs until the time limit stops it (12,575^3 rows to count).
RUNAWAY = "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
CHEAP = "SELECT ?s WHERE { ?s a ?type } LIMIT 5"


def read_output(proc) -> tuple[list[str], threading.Thread]:
    """Read a server process's output (its ``stdout`` pipe) as it comes, in a thread: a server
    that fills an unread pipe (stacks on SIGUSR2, many warnings) blocks in the write and looks
    hung. The lines so far, and the thread (join it once the process has ended)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.decode("utf-8", "replace") for line in proc.stdout),
                              daemon=True)
    reader.start()
    return lines, reader


def query_workers(server_pid: int) -> list[int]:
    """PIDs of the query worker processes under a server process (children of its forkservers).

    Found from the process tree, so the server exposes nothing: the pool starts workers
    through a multiprocessing forkserver, itself a child of each server process.
    """
    found = []
    try:
        tree = psutil.Process(server_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    forkservers = set()
    for proc in tree:
        try:
            if "multiprocessing.forkserver" in " ".join(proc.cmdline()) and proc.ppid() not in forkservers:
                forkservers.add(proc.pid)
        except psutil.NoSuchProcess:
            continue
    for proc in tree:
        try:
            if proc.ppid() in forkservers and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.NoSuchProcess:
            continue
    return sorted(found)


def uvicorn_workers(supervisor_pid: int) -> list[psutil.Process]:
    """The live uvicorn worker processes of a supervisor (spawned; a finished one stays a
    zombie until reaped, and so does a reload's build process: both are left out)."""
    found = []
    for proc in psutil.Process(supervisor_pid).children():
        try:
            if "multiprocessing.spawn" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:  # gone, or a zombie
            continue
    return found


def alive(pids) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def wait_until(predicate, timeout: float, step: float = 0.1):
    """Poll ``predicate`` until it returns something true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


def logged_lines(log: Path, query: str, timeout: float = 5) -> list[dict]:
    """The query log's lines once ``query``'s line is among them (lines are written within a
    second: web/querylog.py), or [] if it is not there within ``timeout`` seconds."""
    digest = hashlib.sha256(query.encode()).hexdigest()

    def found():
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return lines if any(line["query_sha256"] == digest for line in lines) else []

    return wait_until(found, timeout=timeout)


def copy_dataset(dest: Path) -> Path:
    """A private copy of the data files (ontology/, graphs/, shapes/) to break in reload tests."""
    for part in ("ontology", "graphs", "shapes"):
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, dest / part, ignore=shutil.ignore_patterns("*.yaml", "*.md"))
    return dest


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection made to it (SSRF canary)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.hits: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(1)
                try:
                    self.hits.append(conn.recv(4096) or b"<connected>")
                except OSError:
                    self.hits.append(b"<connected>")
                try:
                    conn.sendall(b"HTTP/1.1 500 canary\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
