"""web/querylog.py: records held briefly on an event loop and written together; rotation by size."""

from __future__ import annotations

import asyncio
import json

from server.settings import Settings
from server.web.querylog import FLUSH_SECONDS, QueryLog, RotatingLines


def _log(path, **extra) -> QueryLog:
    return QueryLog(Settings(query_log_path=path, query_log_salt="s", **extra))


def _record(log: QueryLog, k: int) -> None:
    log.record(route="/sparql", client_key="192.0.2.1", query=f"ASK {{}} # {k}", seconds=0.001, outcome="ok",
               result_bytes=10 + k)


def test_records_on_a_loop_wait_at_most_a_flush_interval(tmp_path):
    path = tmp_path / "q.jsonl"
    log = _log(path)

    async def scenario():
        for k in range(3):
            _record(log, k)
        held = path.read_text() if path.exists() else ""
        await asyncio.sleep(FLUSH_SECONDS + 0.5)
        return held, path.read_text()

    held, written = asyncio.run(scenario())
    assert held == ""  # nothing written while the loop serves
    assert [json.loads(line)["result_bytes"] for line in written.splitlines()] == [10, 11, 12]


def test_close_writes_what_is_held(tmp_path):
    path = tmp_path / "q.jsonl"
    log = _log(path)

    async def scenario():
        _record(log, 0)
        log.close()  # as the app's lifespan does at shutdown

    asyncio.run(scenario())
    assert len(path.read_text().splitlines()) == 1


def test_without_a_loop_each_record_is_written_at_once(tmp_path):
    path = tmp_path / "q.jsonl"
    log = _log(path)
    _record(log, 0)
    assert json.loads(path.read_text())["result_bytes"] == 10


def test_a_batch_that_would_pass_the_size_rotates_first(tmp_path):
    path = tmp_path / "q.jsonl"
    lines = RotatingLines(path, max_bytes=100, backups=2)
    lines.write(["x" * 60])
    lines.write(["y" * 30, "z" * 30])
    assert path.read_text() == "y" * 30 + "\n" + "z" * 30 + "\n"
    assert (tmp_path / "q.jsonl.1").read_text() == "x" * 60 + "\n"
