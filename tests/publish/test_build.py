"""server/publish/build.py: the stages that run in processes of their own beside the dumps."""

from __future__ import annotations

import json
import time

import pytest

from server.publish import build as builder
from server.publish import dumps


def _fails_beside(ctx, bar):
    raise builder.BuildFailed("a stage beside failed on purpose")


@pytest.fixture
def beside(monkeypatch):
    """Every ``beside`` stage in a process of its own, however small the data."""
    monkeypatch.setattr(builder, "BESIDE_FROM", 0)


def test_stages_beside_make_the_same_build(client, beside, tmp_path):
    served = builder.BuildLayout.of(client.app.state.settings.build_dir, client.app.state.backend.info.version)
    result = builder.build(tmp_path, validate=False)
    assert result.version == served.root.name
    assert [s.name for s in result.stages] == [s.name for s in builder.STAGES]  # reported in the stages' order
    ours = builder.served_dumps(tmp_path, result.version)
    theirs = builder.served_dumps(served.root.parent, result.version)
    assert [(f.name, f.sha256) for f in ours.data_files] == [(f.name, f.sha256) for f in theirs.data_files]
    assert (ours.directory / dumps.VOID_FILE).read_bytes() == (theirs.directory / dumps.VOID_FILE).read_bytes()
    mine, reference = (json.loads(layout.figures.read_text()) for layout in (result.layout, served))
    assert mine == reference
    assert result.layout.search_index.stat().st_size > 0
    by_name = {s.name: s for s in result.stages}
    for stage in builder.STAGES:
        if stage.beside:  # measured in its own thread or process: its own time
            assert by_name[stage.name].peak_rss_mib > 0 and by_name[stage.name].seconds > 0


def test_a_failure_beside_fails_the_build_and_leaves_the_previous_one(beside, tmp_path):
    stages = [s for s in builder.STAGES if s.name in ("store", "derive", "statistics", "dumps", "void")]
    good = builder.build(tmp_path, validate=False, stages=stages)
    failing = builder.Stage("boom", "fails beside", _fails_beside, beside=builder.PROCESS)
    with pytest.raises(builder.BuildFailed, match="on purpose"):
        builder.build(tmp_path, validate=False, force=True, stages=[*stages[:2], failing, *stages[2:]])
    assert good.layout.complete and builder.served_dumps(tmp_path, good.version) is not None
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no staging left


def _slow_beside(ctx, bar):
    time.sleep(3)
    return "slept"


def test_the_next_stages_run_while_a_stage_beside_does(beside, tmp_path):
    stages = [s for s in builder.STAGES if s.name in ("store", "derive", "statistics", "dumps", "void")]
    slow = builder.Stage("slow", "sleeps beside", _slow_beside, beside=builder.PROCESS)
    result = builder.build(tmp_path, validate=False, stages=[*stages[:2], slow, *stages[2:]])
    by_name = {s.name: s for s in result.stages}
    assert by_name["slow"].note == "slept"
    assert by_name["dumps"].started < by_name["slow"].started + by_name["slow"].seconds  # not after it
    manifest = builder.read_manifest(result.layout)
    assert [s["name"] for s in manifest["stages"]] == ["store", "derive", "slow", "statistics", "dumps", "void"]
    assert all(s["started_s"] >= 0 for s in manifest["stages"])


def test_a_full_disk_under_the_search_index_fails_the_build_in_one_line(tmp_path, monkeypatch):
    """SQLite's own "database or disk is full" (here from a page cap, as a full disk gives it)
    is a BuildFailed naming the stage and the directory, not a traceback; nothing is left."""
    import sqlite3

    real = sqlite3.connect

    def capped(*args, **kwargs):
        db = real(*args, **kwargs)
        db.execute("PRAGMA max_page_count = 16")
        return db

    monkeypatch.setattr(sqlite3, "connect", capped)
    stages = [s for s in builder.STAGES if s.name in ("store", "derive", "search")]
    with pytest.raises(builder.BuildFailed, match=r"^search index: .*database or disk is full.* \(writing "):
        builder.build(tmp_path, validate=False, stages=stages)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []  # no version, no staging


def test_integrity_checks_of_the_files_fail_the_build_before_validation(tmp_path, monkeypatch):
    """The checks that read only the files' graphs run as their own stage (beside derive at
    scale); a claim without a stance fails the build there, naming the check."""
    from server.pipeline import synth
    from server.validation import scale

    data = tmp_path / "data"
    synth.generate(6000, data, seed=3)
    monkeypatch.setattr(scale, "FULL_LIMIT", 0)  # judged as a large store (in this process: below BESIDE_FROM)
    stages = [s for s in builder.STAGES if s.name in ("store", "checks", "derive", "validate")]
    good = builder.build(tmp_path / "good", data, cache_dir=tmp_path / "cache-good", stages=stages)
    notes = {s.name: s.note for s in good.stages}
    assert notes["checks"] == f"passed ({len(scale.FILE_CHECKS)} checks over every claim)"
    assert notes["validate"].startswith("passed (sample of")
    claims = data / "graphs" / "claims" / "bench.nq"
    lines = claims.read_bytes().splitlines(keepends=True)
    stance = next(i for i, line in enumerate(lines) if b"/ontology#stance>" in line)
    claims.write_bytes(b"".join(lines[:stance] + lines[stance + 1:]))
    with pytest.raises(builder.BuildFailed, match="claims without exactly one stance: https://w3id.org/arkg/id/claim/"):
        builder.build(tmp_path / "bad", data, cache_dir=tmp_path / "cache-bad", stages=stages)


def _full_collections_after(ctx, bar):
    import gc

    return str(gc.get_threshold()[2])


def test_stages_run_without_full_collections_here_and_in_their_processes(beside, tmp_path):
    import gc

    stages = [s for s in builder.STAGES if s.name in ("store", "derive", "statistics", "dumps", "void")]
    here = builder.Stage("probe-here", "the collector's setting", _full_collections_after)
    there = builder.Stage("probe-there", "the same in a process", _full_collections_after, beside=builder.PROCESS)
    before = gc.get_threshold()
    result = builder.build(tmp_path, validate=False, stages=[*stages[:2], here, there, *stages[2:]])
    notes = {s.name: s.note for s in result.stages}
    assert int(notes["probe-here"]) == int(notes["probe-there"]) == builder.FULL_COLLECTIONS_AFTER
    assert gc.get_threshold() == before  # given back when the build ends


def test_young_collections_only_holds_off_full_collections_while_objects_pile_up():
    import gc

    def full_collections_while_piling_up() -> int:
        full = []
        callback = lambda phase, info: full.append(1) if phase == "start" and info["generation"] == 2 else None  # noqa: E731
        gc.callbacks.append(callback)
        try:
            pile = [[i] for i in range(1_500_000)]  # tracked objects that stay alive, as a stage's
            del pile
        finally:
            gc.callbacks.remove(callback)
        return len(full)

    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)  # CPython's defaults
    try:
        assert full_collections_while_piling_up() > 0
        with builder.young_collections_only():
            assert full_collections_while_piling_up() == 0
        assert gc.get_threshold() == (700, 10, 10)
    finally:
        gc.set_threshold(*before)
