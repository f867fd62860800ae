"""Shared fixtures: the real app over the real data (ASGI client) and real server processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from server.web.app import create_app
from server.settings import Settings
from tests.reliability_tools import read_output

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "seeds"
ARKG = [sys.executable, "-m", "server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    """The build area the session's app serves from: `arkg build` of the published data (its
    store, dumps, VoID, figures and search index in <area>/<version>/), as `arkg serve` does.
    Validation has its own tests (tests/validation/), so the build skips it."""
    from server.publish.build import build

    out = tmp_path_factory.mktemp("build")
    build(out, validate=False)
    return out


@pytest.fixture(scope="session")
def settings(build_dir) -> Settings:
    return Settings(query_timeout=5, query_workers=2, public_url="http://testserver/", rate_limit=False,
                    build_dir=build_dir)


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="session")
def client(app):
    """One running app (lifespan started: worker pool up) for the whole session."""
    with TestClient(app) as c:
        yield c


_LIVE_BUILDS: list[Path] = []


def _live_build_area() -> Path:
    if not _LIVE_BUILDS:
        import atexit
        import shutil
        import tempfile

        _LIVE_BUILDS.append(Path(tempfile.mkdtemp(prefix="arkg-test-builds-")))
        atexit.register(shutil.rmtree, _LIVE_BUILDS[0], ignore_errors=True)
    return _LIVE_BUILDS[0]


class LiveServer:
    """`arkg serve` in a real process on 127.0.0.1; stopped by PID at teardown."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, startup: float = 180.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # `arkg serve` builds the data before serving: into one build area per test session
        # (a build of the same data is reused), never the checkout's var/build.
        full_env = {**os.environ, "ARKG_RATE_LIMIT": "false", "ARKG_BUILD_DIR": str(_live_build_area()), **(env or {})}
        self.proc = subprocess.Popen([*ARKG, "serve", "--port", str(self.port), *args], env=full_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self._output, self._reader = read_output(self.proc)
        deadline = time.monotonic() + startup
        while time.monotonic() < deadline:  # bounded wait for the port
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("server did not start in time")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)

    def log(self) -> str:
        """What the server wrote (stdout and stderr); stops it first, as only then is it all written."""
        self.stop()
        self._reader.join(timeout=10)
        return "".join(self._output)


@pytest.fixture(scope="session")
def live_server(build_dir):
    server = LiveServer("--query-timeout", "3", env={"ARKG_BUILD_DIR": str(build_dir)})
    yield server
    server.stop()
