"""Stall reports: every thread's stack on stderr when a server process's event loop stops turning.

A server process whose event loop does not turn for seconds answers nothing, and with
``--workers N`` uvicorn's supervisor kills a worker that misses its 5 s health check. What
held the loop (or the GIL) is gone by then; this leaves its stack in the log. The loop
re-arms :func:`faulthandler.dump_traceback_later` every quarter of ``after`` seconds; when it
has not for ``after`` seconds, faulthandler's own C thread writes the stacks of all
threads (it needs no GIL, so it writes while one thread holds it, which is when it matters).
The process goes on: a report is a diagnosis, not a kill.

faulthandler keeps one such timer per process, so watches share it: it is cancelled when
the last one stops.

On request, too: after :func:`dump_on_signal`, ``kill -USR2 <pid>`` writes the stacks of
that process's threads the same way, and the process goes on. The supervisor of ``arkg serve
--workers N`` asks so of a worker that missed its health check before it kills it
(server/web/serving.py), since a stuck thread need not stop the event loop.

>>> import asyncio
>>> async def main():
...     before = StallWatch.active  # a test session's app may hold one
...     watch = StallWatch(after=2.0)
...     watch.start()
...     await asyncio.sleep(0)
...     started = StallWatch.active - before
...     watch.stop()
...     return started, StallWatch.active - before
>>> asyncio.run(main())
(1, 0)
"""

from __future__ import annotations

import asyncio
import faulthandler
import signal

STDERR = 2  # the descriptor, not sys.stderr: test runners replace that with objects faulthandler cannot write to
DUMP_SIGNAL = signal.SIGUSR2  # uvicorn's workers leave it alone


def dump_on_signal() -> None:
    """Have :data:`DUMP_SIGNAL` write every thread's stack to stderr (faulthandler's C handler:
    it writes while one thread holds the GIL)."""
    faulthandler.register(DUMP_SIGNAL, file=STDERR, all_threads=True, chain=False)
    # A supervisor's worker starts with it blocked (serving.start_holding_signals): handled from
    # now on, and a request that came while the worker started is answered now.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {DUMP_SIGNAL})


class StallWatch:
    """Re-arms the process's stall timer from one event loop until :meth:`stop`; as a context
    manager, from entry to exit (``after`` 0: not at all)."""

    active = 0  # watches started and not stopped, in this process

    def __init__(self, *, after: float):
        self.after = after
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()

        def rearm() -> None:
            faulthandler.dump_traceback_later(self.after, repeat=False, file=STDERR)
            self._handle = loop.call_later(self.after / 4, rearm)

        StallWatch.active += 1
        rearm()

    def __enter__(self) -> "StallWatch":
        if self.after:
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        if self._handle is None:
            return
        self._handle.cancel()
        self._handle = None
        StallWatch.active -= 1
        if StallWatch.active == 0:
            faulthandler.cancel_dump_traceback_later()
