"""`arkg curate` writes no agents-/comments- file for an article without agents/comments,
and deletes such a file left over from before."""

from __future__ import annotations

import pytest
import yaml

from server.pipeline import curate as curation

from tests.validation_tools import CORPUS, ROOT

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the corpus {CORPUS} is absent: curate reads the texts")


def test_no_empty_files_and_stale_ones_deleted(tmp_path):
    docs = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in (ROOT / "graphs" / "curation").glob("*.yaml")}
    without_comments = sorted(slug for slug, doc in docs.items() if not doc.get("comments"))
    with_comments = sorted(slug for slug, doc in docs.items() if doc.get("comments"))
    assert without_comments and with_comments
    stale = tmp_path / "sources" / f"comments-{without_comments[0]}.ttl"
    stale.parent.mkdir(parents=True)
    stale.write_text("# only prefixes\n", encoding="utf-8")

    outputs = curation.compile_all(ROOT / "graphs" / "curation", CORPUS, tmp_path)
    assert stale in curation.stale(outputs)
    curation.write(outputs)
    assert not stale.exists()
    assert not curation.stale(outputs)
    written = {p.name for p in (tmp_path / "sources").glob("*.ttl")}
    assert written == {f"comments-{slug}.ttl" for slug in with_comments}
    for slug in docs:
        assert (tmp_path / "claims" / f"{slug}.ttl").is_file()
        assert (tmp_path / "entities" / f"agents-{slug}.ttl").is_file() == bool(docs[slug].get("agents"))


def test_committed_curation_outputs_are_current():
    outputs = curation.compile_all(ROOT / "graphs" / "curation", CORPUS, ROOT / "graphs")
    assert not curation.stale(outputs), "run `arkg curate`"
