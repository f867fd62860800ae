"""`arkg serve` over a build: the command builds first when needed, then every process opens
the build's on-disk store read-only (nothing is built inside the web server)."""

from __future__ import annotations

import httpx
import pytest

from server.engine.dataset import dataset_files, dataset_version
from server.model.build_layout import BuildLayout
from server.publish.store import VERSION_FILE

from tests.conftest import LiveServer


@pytest.mark.slow
def test_serve_builds_first_then_two_workers_share_the_build_store(tmp_path):
    area = tmp_path / "build"
    version = dataset_version(dataset_files())
    server = LiveServer("--workers", "2", env={"ARKG_BUILD_DIR": str(area), "ARKG_VALIDATE_ON_START": "false"},
                        startup=180)
    try:
        layout = BuildLayout.of(area, version)
        assert layout.complete, "arkg serve ran the build before starting"
        assert (layout.store / VERSION_FILE).read_text().strip() == version
        health = httpx.get(server.url + "/health", timeout=10).json()
        assert health["version"] == version and health["triples"] > 1000
        assert health["build"]["missing"] == [] and health["build"]["directory"] == str(layout.root)
        for _ in range(6):  # connections may land on either worker process; each opened the store
            r = httpx.get(server.url + "/sparql", params={"query": "ASK { ?s a <https://w3id.org/arkg/ontology#Claim> }"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=10)
            assert r.status_code == 200 and r.json()["boolean"] is True
            assert httpx.get(server.url + "/.well-known/void", timeout=10).status_code == 200
    finally:
        server.stop()
    mtime = layout.manifest.stat().st_mtime_ns
    again = LiveServer(env={"ARKG_BUILD_DIR": str(area), "ARKG_VALIDATE_ON_START": "false"})  # up to date: no rebuild
    again.stop()
    assert layout.manifest.stat().st_mtime_ns == mtime
