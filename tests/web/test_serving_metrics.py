"""`arkg serve`'s temporary metrics directory (server/web/serving.py): the next start removes
the directories of servers that are gone, however they ended."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from server.settings import Settings
from server.web import serving
from tests.conftest import LiveServer


def _dirs(root: Path) -> set[str]:
    return {p.name for p in root.glob(serving.METRICS_PREFIX + "*")}


def test_only_directories_of_servers_that_are_gone_are_swept(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, alive = int(gone.stdout), os.getpid()
    for name in (f"{serving.METRICS_PREFIX}{dead}-abc", f"{serving.METRICS_PREFIX}{alive}-def",
                 f"{serving.METRICS_PREFIX}oldstyle", "unrelated"):
        (tmp_path / name).mkdir()
    removed = serving.sweep_metrics_dirs(tmp_path)
    assert [p.name for p in removed] == [f"{serving.METRICS_PREFIX}{dead}-abc"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{serving.METRICS_PREFIX}{alive}-def", f"{serving.METRICS_PREFIX}oldstyle", "unrelated"])


def test_a_server_stopped_by_sigterm_leaves_nothing_after_the_next_start(tmp_path, monkeypatch):
    server = LiveServer(env={"TMPDIR": str(tmp_path)})
    try:
        mine = {f for f in _dirs(tmp_path) if f.startswith(f"{serving.METRICS_PREFIX}{server.proc.pid}-")}
        assert len(mine) == 1  # the server's own, while it runs
    finally:
        server.stop()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # set by prepare_metrics: put back afterwards
    serving.prepare_metrics(Settings(query_log_salt="x"))  # the next start, in this process
    assert not mine & _dirs(tmp_path)
    assert {f for f in _dirs(tmp_path) if f.startswith(f"{serving.METRICS_PREFIX}{os.getpid()}-")}  # its own
