"""`arkg validate` on the real data (with the corpus when it is there), its report and exit
codes, `arkg serve` refusing invalid data, and the pass cache that keeps serving fast."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from server.cli import app
from server.settings import Settings
from server.validation.run import validate, validate_for_serving

from tests.conftest import free_port
from tests.validation_tools import CORPUS, ID, DataCopy

runner = CliRunner()


def test_real_data_passes():
    """`arkg validate --corpus ../shared/seeds`; without the corpus, the shapes alone, and the
    corpus part is reported as skipped."""
    with_corpus = CORPUS.is_dir()
    outcome = runner.invoke(app, ["validate", *(["--corpus", str(CORPUS)] if with_corpus else [])])
    assert outcome.exit_code == 0, outcome.output
    assert outcome.output.startswith("ARKG validation passed: 0 violations")
    if not with_corpus:
        pytest.skip(f"shapes passed; the corpus {CORPUS} is absent, so hashes and quotes were not checked")
    assert f"checked against {CORPUS}" in outcome.output


def _break(data: DataCopy) -> str:
    """Point one claim's subject at an entity nobody defined; return the claim (short)."""
    path = data.path("graphs/claims/trt-tehran-talks.ttl")
    text = path.read_text(encoding="utf-8")
    claim = text[text.index("<https://w3id.org/arkg/id/claim/"):].split(">", 1)[0][1:]
    data.edit_claim(claim, r"^    rdf:subject <[^>]+> ;", f"    rdf:subject <{ID}person/nobody-of-that-name> ;")
    return claim.removeprefix(ID)


def test_cli_reports_and_exits_1_on_a_violation(tmp_path):
    data = DataCopy(tmp_path)
    claim = _break(data)
    outcome = runner.invoke(app, ["validate", "--data-dir", str(data.root)])
    assert outcome.exit_code == 1
    out = outcome.output
    assert out.startswith("ARKG validation FAILED: 1 violation")
    assert "graphs/claims/trt-tehran-talks.ttl (from graphs/curation/trt-tehran-talks.yaml)" in out
    assert f"{claim} · rdf:subject" in out
    assert "person/nobody-of-that-name is not a known entity" in out


def test_cli_refuses_a_missing_corpus(tmp_path):
    outcome = runner.invoke(app, ["validate", "--corpus", str(tmp_path / "nowhere")])
    assert outcome.exit_code == 2 and "not found" in outcome.output


def test_a_file_that_does_not_parse_is_reported(tmp_path):
    data = DataCopy(tmp_path)
    data.append("graphs/entities/entities.ttl", "<broken")
    result = validate(data.root)
    assert not result.passed
    assert "graphs/entities/entities.ttl does not parse" in result.text


def test_serve_refuses_invalid_data(tmp_path):
    data = DataCopy(tmp_path / "data")
    claim = _break(data)
    env = {**os.environ, "ARKG_CACHE_DIR": str(tmp_path / "cache"), "ARKG_BUILD_DIR": str(tmp_path / "build")}
    proc = subprocess.run([sys.executable, "-m", "server.cli", "serve", "--port", str(free_port()),
                           "--data-dir", str(data.root)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    # serve builds first; the build stops at the broken claim (derive finds its proposition no
    # longer matches its triple, before SHACL runs) and names it
    assert claim.rsplit("/", 1)[-1] in proc.stderr
    assert "Refusing to serve" in proc.stderr
    assert not list((tmp_path / "build").glob("*/build.json"))  # nothing was published


def test_a_pass_is_cached_by_dataset_version(tmp_path):
    data = DataCopy(tmp_path / "data")
    settings = Settings(data_dir=data.root, cache_dir=tmp_path / "cache")
    started = time.monotonic()
    assert validate_for_serving(settings) is None
    first = time.monotonic() - started
    assert list((tmp_path / "cache" / "validation").glob("*.passed"))
    started = time.monotonic()
    assert validate_for_serving(settings) is None
    assert time.monotonic() - started < first / 3  # hashing the files, not validating them
    _break(data)  # new data, new version: validated again, and refused
    report = validate_for_serving(settings)
    assert report is not None and "not a known entity" in report
