"""`arkg build-store` and serving the prebuilt store read-only from several processes."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from server.publish.store import VERSION_FILE
from server.engine.dataset import dataset_files, dataset_version

from tests.conftest import ARKG, LiveServer


@pytest.mark.slow
def test_built_store_is_served_read_only_by_two_worker_processes(tmp_path):
    out = tmp_path / "store"
    built = subprocess.run([*ARKG, "build-store", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    version = (out / VERSION_FILE).read_text().strip()
    assert version == dataset_version(dataset_files())  # the same version the in-memory load reports

    again = subprocess.run([*ARKG, "build-store", "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "already exists" in again.stderr

    server = LiveServer("--store", str(out), "--workers", "2", env={"ARKG_VALIDATE_ON_START": "false"})
    try:
        health = httpx.get(server.url + "/health", timeout=10).json()
        assert health["version"] == version and health["triples"] > 1000
        for _ in range(6):  # connections may land on either worker process; each opened the store
            r = httpx.get(server.url + "/sparql", params={"query": "ASK { ?s a <https://w3id.org/arkg/ontology#Claim> }"},
                          headers={"Accept": "application/sparql-results+json"}, timeout=10)
            assert r.status_code == 200 and r.json()["boolean"] is True
    finally:
        server.stop()
