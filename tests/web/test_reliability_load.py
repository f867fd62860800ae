"""The short variant of the load test (bench/load_test.py): 16 connections for 5 s on 127.0.0.1."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load_test.py"


def _load_test():
    spec = importlib.util.spec_from_file_location("arkg_bench_load_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_short_load_with_runaway_queries():
    timeout = 3.0
    report = _load_test().run(connections=16, duration=5, runaway=2, query_timeout=timeout)
    print("\nload test (short):", report)
    assert report["well_formed_requests"] > 50
    assert report["well_formed_errors"] == 0, report
    assert set(report["kinds"]) >= {"cheap-query", "entity-page"}
    runaway = report["runaway"]
    assert runaway["answers"] and set(runaway["answers"]) <= {"503", "429"}, runaway
    assert runaway["longest_s"] < timeout + 3, "a runaway query was not stopped at the time limit"
    assert report["peak_rss_mb"] < 2048
