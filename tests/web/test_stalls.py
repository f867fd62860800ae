"""Stall reports (server/web/stalls.py): a loop held for seconds leaves every thread's stack on stderr."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import asyncio, sys, time
    from server.web.stalls import StallWatch

    def hold_the_loop():
        time.sleep(float(sys.argv[1]))  # a blocking call on the loop: nothing else runs

    async def main():
        watch = StallWatch(after=0.4)
        watch.start()
        await asyncio.sleep(0.3)  # a turning loop re-arms the timer
        hold_the_loop()
        await asyncio.sleep(0.3)
        watch.stop()
        await asyncio.sleep(0.6)  # stopped: no report however long the loop stands still now
        hold_the_loop()

    asyncio.run(main())
""")


def run(hold: float) -> str:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(hold)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def test_a_loop_held_past_the_limit_leaves_its_stack_on_stderr():
    report = run(1.2)
    assert "Timeout (0:00:00" in report
    assert "hold_the_loop" in report  # the culprit's frame, named
    assert report.count("hold_the_loop") == 1  # once: after stop(), the second hold is not reported


def test_a_turning_loop_reports_nothing():
    assert run(0.05) == ""


def test_sigusr2_makes_a_worker_write_every_threads_stack_and_go_on():
    """What the supervisor asks of a worker that missed its health check before killing it
    (server/web/serving.py): here asked of a healthy worker of a real `arkg serve --workers 2`."""
    import os
    import signal

    import httpx

    from tests.conftest import LiveServer
    from tests.reliability_tools import uvicorn_workers, wait_until

    server = LiveServer("--workers", "2")
    try:
        workers = sorted(p.pid for p in uvicorn_workers(server.proc.pid))
        os.kill(workers[0], signal.SIGUSR2)
        assert wait_until(lambda: all(httpx.get(server.url + "/health", timeout=5).status_code == 200
                                      for _ in range(6)), timeout=30, step=0.5)
        assert sorted(p.pid for p in uvicorn_workers(server.proc.pid)) == workers  # it went on
    finally:
        log = server.log()
    assert "always_pong" in log  # uvicorn's health-check thread, among every thread's stack
    assert "Current thread" in log or "Thread 0x" in log
