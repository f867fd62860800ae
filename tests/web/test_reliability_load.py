"""Short variants of the load tests, run as the command bench/load_test.py (a subprocess: no
test imports bench code), each bounded in connections, time and a timeout on the whole run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

LOAD_TEST = Path(__file__).resolve().parents[2] / "bench" / "load_test.py"


def _run(tmp_path: Path, *args: str, timeout: float) -> dict | list:
    out = tmp_path / "report.json"
    done = subprocess.run([sys.executable, str(LOAD_TEST), *args, "--out", str(out)], capture_output=True,
                          text=True, timeout=timeout)
    assert out.exists(), f"load_test.py wrote no report (exit {done.returncode}): {done.stderr[-3000:]}"
    return json.loads(out.read_text())


@pytest.mark.slow
def test_short_load_with_runaway_queries(tmp_path):
    timeout = 3.0
    report = _run(tmp_path, "--connections", "16", "--duration", "5", "--runaway", "2",
                  "--query-timeout", str(timeout), timeout=600)
    print("\nload test (short):", report)
    assert report["well_formed_requests"] > 50
    assert report["well_formed_errors"] == 0, report
    assert set(report["kinds"]) >= {"cheap-query", "entity-page"}
    runaway = report["runaway"]
    assert runaway["answers"] and set(runaway["answers"]) <= {"503", "429"}, runaway
    assert runaway["longest_s"] < timeout + 3, "a runaway query was not stopped at the time limit"
    assert report["peak_rss_mb"] < 2048


@pytest.mark.slow
def test_fair_share_with_four_runaway_clients(tmp_path):
    """K = 4 clients (2 x the query workers), each with a runaway query in flight, while one
    client asks a cheap ASK and another reads entity pages, for 15 s: the cheap ones are
    answered fast (issue 10: p99 under 1 s and 2 s) and every runaway ends with a 503 (or
    429) naming its reason, within its 5 s limit."""
    (report,) = _run(tmp_path, "--fair-share", "4", "--duration", "15", "--query-timeout", "5", timeout=900)
    print("\nfair share (K=4):", report)
    cheap, page, runaway = report["cheap_ask"], report["entity_page"], report["runaway"]
    assert cheap["errors"] == 0 and cheap["answered"] > 50, cheap
    assert page["errors"] == 0 and page["answered"] > 10, page
    assert cheap["p99_ms"] < 1000, cheap
    assert page["p99_ms"] < 2000, page
    assert runaway["answers"] and set(runaway["answers"]) <= {"503", "429"}, runaway
    assert "other" not in runaway["reasons"], runaway  # each names why: time limit, preempted, waited, budget
    assert runaway["longest_s"] < 5 + 1.5, runaway
