"""Running the app under uvicorn: one process, or a supervisor with N worker processes.

Why not plain ``uvicorn.run``: these behaviours differ from uvicorn's defaults.

- SIGHUP. uvicorn's multiprocess supervisor answers it by restarting every worker, and a
  restarted worker would load the new data without the checks of a reload and without
  any record of a failure in /health. Here the supervisor forwards SIGHUP to each worker
  process, which reloads in place (server/web/reload.py) and keeps its last good dataset
  if the new one fails. With one process, the lifespan handles SIGHUP itself. Until a
  process handles it, SIGHUP must not end it (its default action): ignored by `arkg serve`
  from its start, blocked in a worker until its lifespan handles it (start_holding_signals).
- The HTTP protocol (server/web/protocol.py): request heads are capped (431) and an
  ``Upgrade: h2c`` offer is ignored with the body kept (Java clients).
- Connections spread over the workers. uvicorn's workers share one listening socket, and
  the first to wake accepts every pending connection: 8 connections opened together
  landed all on one worker in 3 of 4 trials, leaving the other core idle (lookups at
  2,000 req/s instead of 2,900). Here each worker gets its own listening socket on the
  same port (``SO_REUSEPORT``) and the kernel spreads new connections across them.
- Worker replacement and shutdown. A worker that dies or misses the supervisor's health
  check is replaced and the replacement logged at warning level with which worker and why;
  SIGTERM gives requests in flight ``SHUTDOWN_GRACE`` seconds, and a worker still running
  after that is killed, so the whole server (query workers included) stops in seconds.
- X-Forwarded-For. uvicorn trusts it from 127.0.0.1 by default; the per-client limits
  need the real client address, so it is trusted only from the proxies listed in
  ``forwarded_allow_ips`` (default: none).

The protocol and the supervisor's ``sockets`` rely on private parts of uvicorn:
``WRITTEN_FOR`` is the version they were written for, pinned in pyproject.toml and checked
by tests/web/test_library_pins.py; what each buys is in bench/README.md ("Private internals").
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from server.settings import Settings
from server.web.protocol import BoundedHttpToolsProtocol
from server.web.stalls import DUMP_SIGNAL

HELD_UNTIL_HANDLED = {signal.SIGHUP, DUMP_SIGNAL}  # blocked in a starting worker (start_holding_signals)

logger = logging.getLogger("uvicorn.error")
SHUTDOWN_GRACE = 5  # seconds in-flight requests get after SIGTERM


def _exit_reason(code: int | None) -> str:
    """``killed by SIGKILL`` or ``exit code 1`` for a worker's exit code."""
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"

WRITTEN_FOR = {"uvicorn": "0.55"}  # see the module docstring


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


STACKS_GRACE = 0.5  # seconds a worker gets to write its threads' stacks before it is killed


def kernel_state(pid: int) -> str:
    """What the kernel says the threads of ``pid`` are doing, most common first:
    ``"3 S (futex_wait_queue), 1 D (io_schedule)"``; ``""`` without /proc or such a process.

    A thread stopped (T) or in uninterruptible sleep (D: waiting on the disk) cannot run the
    signal handler that writes its stack (web/stalls.py), so a worker killed for a missed
    health check in that state leaves no stacks; this says where it was instead.

    >>> "R" in {part.split()[1] for part in kernel_state(os.getpid()).split(", ")}  # this thread, running
    True
    >>> kernel_state(2**22 + 1)  # above Linux's largest pid
    ''
    """
    found: dict[tuple[str, str], int] = {}
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return ""
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]  # after "pid (name)", which may hold spaces
            with open(f"/proc/{pid}/task/{tid}/wchan") as wchan:
                where = wchan.read().strip()
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
        key = (state, where if where not in ("", "0") else "-")
        found[key] = found.get(key, 0) + 1
    return ", ".join(f"{n} {state} ({where})" for (state, where), n in sorted(found.items(), key=lambda kv: -kv[1]))


def ignore_reload_requests() -> None:
    """SIGHUP ignored in this process until its lifespan handles it (web/reload.py): the
    default action would end it. `arkg serve` calls this first, so that a reload request
    during the build it may make before serving (minutes at scale) does not end it either."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def start_holding_signals(process) -> None:
    """Start a worker process with SIGHUP and the stacks' signal blocked; the worker unblocks
    each once its lifespan handles it (web/reload.py, web/stalls.py), and a request that came
    meanwhile is handled then.

    Why: the supervisor has a handler for SIGHUP (uvicorn installs one for every signal it
    forwards), a new program starts with handled signals back at their default action, and
    the default action of SIGHUP and of SIGUSR2 ends the process. A reload request that reached
    a worker still starting killed it ("killed by SIGHUP": the flaky reload test), and so did a
    request for stacks (the flaky stacks test, under load). A blocked signal's mask is kept
    across exec; an ignored one would not be lost either, but would not be acted on.
    """
    held = signal.pthread_sigmask(signal.SIG_BLOCK, HELD_UNTIL_HANDLED)
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _ask_for_stacks(pid: int | None) -> None:
    """Have a worker write every thread's stack to stderr (web/stalls.py) before it is killed:
    the log then says what kept it from answering."""
    if pid is None:
        return
    try:
        os.kill(pid, DUMP_SIGNAL)
    except ProcessLookupError:
        return
    time.sleep(STACKS_GRACE)


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

    def init_processes(self) -> None:
        for _ in range(self.processes_num):
            process = Process(self.config, self.sockets)
            start_holding_signals(process)
            self.processes.append(process)

    # uvicorn's own loop (Multiprocess.keep_subprocess_alive) replaces a worker that died or
    # missed a health check and logs it at info level, which "warning" hides: an operator
    # saw nothing while workers were replaced for 19 minutes. Same checks here, said loudly.
    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        timeout = self.config.timeout_worker_healthcheck
        for slot, process in enumerate(self.processes):
            if not process.process.is_alive():
                code = process.exitcode
                why = f"it exited ({_exit_reason(code)})"
            elif not process.ping(timeout):
                if not process.process.is_alive():  # it ended while the supervisor waited for its answer
                    why = f"it exited ({_exit_reason(process.exitcode)}) during the supervisor's health check"
                else:
                    state = kernel_state(process.pid) if process.pid is not None else ""
                    why = (f"it did not answer the supervisor's health check within {timeout:g} s (blocked or hung"
                           f"{'; its threads: ' + state if state else ''}); killed")
                    _ask_for_stacks(process.pid)
            else:
                continue
            pid = process.pid
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error("worker %d [pid %s] failed to start; stopping the server", slot, pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            replacement = Process(self.config, self.sockets)
            start_holding_signals(replacement)
            self.processes[slot] = replacement
            logger.warning("worker %d [pid %s] replaced by pid %s: %s", slot, pid, replacement.pid, why)

    # uvicorn waits for every worker without a bound; a worker that cannot stop (a request
    # holding the GIL) kept SIGTERM from taking effect for 100 s. Bounded here, then killed.
    def join_all(self) -> None:
        deadline = time.monotonic() + self.config.timeout_graceful_shutdown + 3
        for slot, process in enumerate(self.processes):
            process.process.join(max(0.0, deadline - time.monotonic()))
            if process.process.is_alive():
                logger.warning("worker %d [pid %s] did not stop in time; killed", slot, process.pid)
                process.kill()
                process.join()

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
        "server.web.app:create_app", factory=True, host=settings.host, port=settings.port,
        workers=settings.workers, loop="uvloop", http=BoundedHttpToolsProtocol, log_level="warning",
        # At "warning" the access lines are never shown, but uvicorn still formats each one
        # (URL-quoting the path, decoding the query string): about 2% of a lookup's CPU.
        access_log=False,
        # SIGTERM stops the server within seconds: requests in flight get SHUTDOWN_GRACE
        # seconds to finish, then their queries are stopped with the pool (query workers killed).
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
        proxy_headers=bool(settings.forwarded_allow_ips), forwarded_allow_ips=settings.forwarded_allow_ips or None)


METRICS_PREFIX = "arkg-metrics-"  # + the pid of the `arkg serve` process + "-" + random


def prepare_metrics(settings: Settings) -> None:
    """Before any worker starts: an empty directory for prometheus_client's per-process files
    in ``PROMETHEUS_MULTIPROC_DIR`` (web/metrics.py; counts of an earlier run would add to
    this one's), and one query-log salt for every worker (web/querylog.py)."""
    if settings.metrics_dir is None:
        root = Path(tempfile.gettempdir())
        sweep_metrics_dirs(root)
        directory = Path(tempfile.mkdtemp(prefix=f"{METRICS_PREFIX}{os.getpid()}-", dir=root))
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    else:
        directory = Path(settings.metrics_dir)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    if settings.query_log_salt is None:
        os.environ["ARKG_QUERY_LOG_SALT"] = secrets.token_hex(16)


def sweep_metrics_dirs(root: Path) -> list[Path]:
    """Remove the temporary metrics directories of `arkg serve` processes that are gone; the
    ones removed. A server cannot be trusted to remove its own: uvicorn ends a SIGTERM by
    raising it again with the default action (no exit handlers run), and SIGKILL or the OOM
    killer run none either. So each start sweeps what earlier ones left."""
    removed = []
    for directory in root.glob(f"{METRICS_PREFIX}*-*"):
        pid = directory.name[len(METRICS_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or not directory.is_dir() or directory.stat().st_uid != os.geteuid():
            continue  # not one of ours
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # gone: its directory is nobody's
            shutil.rmtree(directory, ignore_errors=True)
            removed.append(directory)
        except PermissionError:  # alive, another user's
            pass
    return removed


def run(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT (graceful: in-flight requests finish first)."""
    prepare_metrics(settings)
    # The workers of a supervisor start with SIGHUP blocked instead (start_holding_signals),
    # and so do their query workers, which never unblock it.
    ignore_reload_requests()
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
