"""Reloading the dataset in a running server, keeping the last good one when the new one fails.

``kill -HUP <pid>`` (or ``arkg reload <pid>``) asks each server process to reload: the new
data is built and validated by ``arkg build``'s code into a new build directory beside the
one being served (in a child process, so its CPU and memory never touch the one serving
requests; a version already built is not built again), a new backend is started over it, and only when every query worker
has opened it is ``app.state.backend`` swapped, one assignment. Requests that started
before the swap finish on the old backend, which is closed once they are done (at most
``query_timeout`` + 5 s later). Invalid data, a missing file or a store that cannot open
leave the old backend serving; ``/health`` shows the outcome under ``last_reload``.

With ``--workers N`` the uvicorn supervisor forwards SIGHUP to each worker process (see
server/web/serving.py) instead of uvicorn's default of restarting them, so each one
reloads in place and reports in its own /health.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from starlette.types import ASGIApp, Receive, Scope, Send

from server.settings import Settings
from server.engine.backend import Backend, open_backend
from server.web import heap, metrics

log = logging.getLogger("arkg.reload")
_VALIDATION_LIMIT = 900.0  # seconds; a bound, not a tuning knob: a build of 5M triples takes minutes


class ReloadError(Exception):
    """The new dataset cannot be served; the message says why."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_new_data(settings: Settings) -> str | None:
    """Why the data at the configured place must not be served, or None."""
    if settings.remote_endpoint:
        return None
    if settings.store:
        return None if settings.store.is_dir() else f"The store {settings.store} does not exist."
    from server.paths import data_root
    from server.engine.dataset import DatasetError, dataset_files
    from server.publish.build import BuildFailed, build

    if not dataset_files(settings.data_dir):
        root = settings.data_dir or data_root()
        return f"No RDF files found under {root} (ontology/, shapes/, graphs/<name>/)."
    try:  # beside the build being served (<build_dir>/<version>/), which stays until the swap is done
        build(settings.build_dir, settings.data_dir, base_iri=settings.base_iri, cache_dir=settings.cache_dir,
              validate=settings.validate_on_start)
    except DatasetError as exc:
        return f"The new data does not load: {exc}"
    except (BuildFailed, OSError) as exc:
        return f"The new data could not be built: {exc}"
    return None


def main() -> None:
    """Child process entry: build and check the data named by the ARKG_* variables; the report on stdout, exit 1 if bad."""
    report = _check_new_data(Settings())
    if report is not None:
        sys.stdout.write(report)
        sys.exit(1)


async def _check_in_child(settings: Settings) -> str | None:
    # A child process, killable and with its own memory: SHACL validation is CPU-bound
    # Python and would otherwise hold this process's GIL while it serves requests.
    # Started by subprocess.Popen in a thread, not asyncio.create_subprocess_exec: under
    # uvloop the forked child runs Python's after-fork handlers before exec while this
    # process waits for it holding the GIL, and a child that deadlocks there (a lock another
    # thread held at the fork) hangs this worker for good: no request, no health check.
    # Popen's child runs no Python before exec.
    env = {**os.environ, **settings.to_env()}
    proc = await asyncio.to_thread(
        subprocess.Popen, [sys.executable, "-c", "from server.web.reload import main; main()"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.to_thread(proc.communicate, timeout=_VALIDATION_LIMIT)
    except BaseException:  # timeout or cancellation (shutdown): leave no child behind
        proc.kill()
        await asyncio.to_thread(proc.wait)
        raise
    if proc.returncode == 0:
        return None
    if proc.returncode == 1 and out:
        return out.decode("utf-8", "replace")
    tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
    return f"The build of the new data could not run: {tail[0]}"


class Reloader:
    """Owns the swap of ``app.state.backend`` and the draining of retired backends."""

    def __init__(self, app, settings: Settings):
        self.app, self.settings = app, settings
        self.inflight: dict[int, int] = {}  # id(backend) -> requests begun while it was current
        self.drain_seconds = settings.query_timeout + 5.0
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()
        self._starting: Backend | None = None
        self._retiring: set = set()
        self._previous_handler = None

    # --- in-flight accounting (used by InFlightMiddleware)
    def begin(self) -> int | None:
        backend = getattr(self.app.state, "backend", None)
        if backend is None:
            return None
        key = id(backend)
        self.inflight[key] = self.inflight.get(key, 0) + 1
        return key

    def end(self, key: int | None) -> None:
        if key is None:
            return
        left = self.inflight[key] - 1
        if left:
            self.inflight[key] = left
        else:
            del self.inflight[key]

    # --- reload
    async def reload(self) -> dict:
        """Validate and start the configured dataset, then swap it in; returns the record shown by /health."""
        async with self._lock:
            requested = _now()
            started = time.monotonic()
            current = self.app.state.backend
            try:
                new = await self._start_new()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure keeps the last good dataset serving
                message = str(exc) if isinstance(exc, ReloadError) else f"{type(exc).__name__}: {exc}"
                record = {"status": "failed", "at": requested, "error": message,
                          "serving": current.info.version}
                log.error("reload failed, still serving %s: %s", current.info.version, message)
            else:
                self.app.state.backend = new  # the swap: one assignment, after the new one is complete
                record = {"status": "ok", "at": requested, "version": new.info.version,
                          "previous": current.info.version, "seconds": round(time.monotonic() - started, 3)}
                log.warning("reloaded: now serving %s (was %s)", new.info.version, current.info.version)
                self._spawn(self._retire(current))
            metrics.RELOADS.labels(record["status"]).inc()
            self.app.state.last_reload = record
            return record

    async def _start_new(self) -> Backend:
        report = await _check_in_child(self.settings)
        if report is not None:
            raise ReloadError(report)
        new = await asyncio.to_thread(open_backend, self.settings)  # reads and hashes the files
        self._starting = new
        try:
            await new.start()
        except BaseException:
            await new.close()
            raise
        finally:
            self._starting = None
        return new

    async def _retire(self, old: Backend) -> None:
        """Close ``old`` once the requests that could be using it are done (bounded wait)."""
        self._retiring.add(old)
        deadline = time.monotonic() + self.drain_seconds
        while self.inflight.get(id(old)) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await old.close()
        self._retiring.discard(old)  # after: a shutdown that interrupts close() closes it again
        heap.settle()  # the retired backend's cycles freed, the new one's objects frozen (web/heap.py)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def request(self) -> None:
        """Schedule a reload (called from the SIGHUP handler); reloads run one at a time."""
        self._spawn(self.reload())

    # --- lifecycle
    def install_signal(self) -> bool:
        """Reload on SIGHUP; False where signals cannot be handled (not the main thread)."""
        loop = asyncio.get_running_loop()
        try:
            # signal.signal, as uvicorn does for SIGTERM, with the work handed to the loop.
            self._previous_handler = signal.signal(
                signal.SIGHUP, lambda signum, frame: loop.call_soon_threadsafe(self.request))
        except (ValueError, AttributeError):  # not the main thread (TestClient), or no SIGHUP
            return False
        # A supervisor's worker starts with SIGHUP blocked (serving.start_holding_signals): handled
        # from now on, and a reload request that came while it started is delivered now.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP})
        return True

    async def close(self) -> None:
        """Stop pending reloads and close every backend this reloader retired or was starting."""
        if self._previous_handler is not None:
            try:
                signal.signal(signal.SIGHUP, self._previous_handler)
            except ValueError:
                pass
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # uvicorn has already let in-flight requests finish: close what was draining or starting.
        for backend in [*self._retiring, *([self._starting] if self._starting else [])]:
            await backend.close()
        self._retiring.clear()


class InFlightMiddleware:
    """Counts the HTTP requests begun under each backend, so a retired one closes only when idle."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reloader = getattr(scope["app"].state, "reloader", None) if scope["type"] == "http" else None
        if reloader is None:
            await self.app(scope, receive, send)
            return
        key = reloader.begin()
        try:
            await self.app(scope, receive, send)
        finally:
            reloader.end(key)


def request_reload(pid: int, url: str | None = None, wait: float = 120.0) -> dict | None:
    """Send SIGHUP to the server ``pid``; with ``url``, wait for and return its new ``last_reload``."""
    import httpx

    def last() -> dict | None:
        return httpx.get(url.rstrip("/") + "/health", timeout=5).json().get("last_reload")

    before = last() if url else None
    os.kill(pid, signal.SIGHUP)
    if not url:
        return None
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = last()
        if now and now != before:
            return now
    raise TimeoutError(f"no reload outcome at {url}/health within {wait:g} s")


@asynccontextmanager
async def reloading(app, settings: Settings):
    """Lifespan part: reload on SIGHUP while the app runs (``app.state.backend`` must be set)."""
    reloader = Reloader(app, settings)
    app.state.reloader = reloader
    reloader.install_signal()
    try:
        yield reloader
    finally:
        await reloader.close()
        app.state.reloader = None
