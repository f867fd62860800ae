"""engine/backend.py: the embedded backend's query workers; a spare only where a replacement
would take seconds to load the dataset."""

from __future__ import annotations

import asyncio
import os

from server.engine.backend import LocalBackend
from server.settings import Settings
from tests.reliability_tools import query_workers


def _started(settings: Settings) -> tuple[int, int, str]:
    """(worker processes the backend started, its pool's spare, what it serves) for ``settings``."""

    async def run():
        before = set(query_workers(os.getpid()))  # other pools of this process share its forkserver
        backend = LocalBackend(settings)
        await backend.start()
        try:
            return len(set(query_workers(os.getpid())) - before), backend.pool.spare, "disk" if backend.spec.disk_path else "files"
        finally:
            await backend.close()

    return asyncio.run(run())


def test_a_disk_store_gets_no_spare_worker(build_dir):
    assert _started(Settings(build_dir=build_dir, query_workers=2)) == (2, 0, "disk")


def test_files_loaded_into_memory_keep_one_spare(tmp_path):
    assert _started(Settings(build_dir=tmp_path, query_workers=2)) == (3, 1, "files")


def test_the_setting_wins(build_dir):
    assert _started(Settings(build_dir=build_dir, query_workers=1, query_spare_workers=1)) == (2, 1, "disk")


def test_health_reports_the_query_workers(client):
    assert client.get("/health").json()["query_workers"] == {"size": 2, "spare": 0, "busy": 0}
