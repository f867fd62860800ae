"""External links: every row of shared/reference/external-ids.tsv whose entity is in the data is
linked (owl:sameAs to Wikidata, skos:exactMatch to DBpedia, each with an owl:Axiom saying where
it was verified), and no other link is in the data."""

from __future__ import annotations

import csv

import pytest
import yaml

from tests.validation_tools import ROOT, select

REFERENCE = ROOT.parent / "shared" / "reference" / "external-ids.tsv"
CURATED = ROOT / "graphs" / "curation" / "links" / "external-ids.yaml"
ID = "https://w3id.org/arkg/id/"
WD, DBR = "http://www.wikidata.org/entity/", "http://dbpedia.org/resource/"


def _curated() -> list[dict]:
    return yaml.safe_load(CURATED.read_text(encoding="utf-8"))["links"]


def _expected() -> set[tuple[str, str, str, str]]:
    """(entity, link property, target, evidence) for every curated row with an entity."""
    found = set()
    for row in _curated():
        if row.get("entity"):
            entity = ID + row["entity"]
            if row.get("wikidata"):
                found.add((entity, "owl:sameAs", WD + row["wikidata"], row["evidence"]))
            if row.get("enwiki_title"):
                found.add((entity, "skos:exactMatch", DBR + row["enwiki_title"], row["evidence"]))
    return found


def test_data_holds_exactly_the_curated_links_each_with_its_verification():
    rows = select("""{ ?e owl:sameAs ?t BIND ("owl:sameAs" AS ?p) } UNION { ?e skos:exactMatch ?t BIND ("skos:exactMatch" AS ?p) }
                     OPTIONAL { ?a a owl:Axiom ; owl:annotatedSource ?e ; owl:annotatedTarget ?t ; arkg:verifiedIn ?v }""")
    external = {(r["e"], r["p"], r["t"], r.get("v")) for r in rows if r["t"].startswith((WD, DBR))}
    assert external == _expected()


def test_every_linked_entity_exists():
    entities = {r["e"] for r in select("?e a ?type . FILTER (?type IN (arkg:Person, arkg:Organization, arkg:Place, arkg:Country, arkg:Event, arkg:Group))")}
    missing = sorted({e for e, *_ in _expected()} - entities)
    assert not missing, f"links to entities that are not in the data: {missing}"


@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"the reference file {REFERENCE} is absent: "
                    "the curated copy cannot be compared with it")
def test_curated_links_are_the_reference_file_row_for_row():
    lines = [line for line in REFERENCE.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    reference = [(r["name"], r["wikidata"] or None, r["enwiki_title"] or None, r["evidence"])
                 for r in csv.DictReader(lines, delimiter="\t")]
    curated = _curated()
    assert [(r["name"], r.get("wikidata"), r.get("enwiki_title"), r["evidence"]) for r in curated] == reference
    for row in curated:  # a row without an entity says why it is not linked
        assert row.get("entity") or row.get("not_in_data"), row["name"]


def test_void_linksets_count_the_curated_links():
    from server.publish.void import statistics_of_store
    from tests.validation_tools import real_store

    links = statistics_of_store(real_store()).links
    expected = _expected()
    wikidata = sum(1 for _, p, _, _ in expected if p == "owl:sameAs")
    dbpedia = sum(1 for _, p, _, _ in expected if p == "skos:exactMatch")
    assert links == {("wikidata", "http://www.w3.org/2002/07/owl#sameAs"): wikidata,
                     ("dbpedia", "http://www.w3.org/2004/02/skos/core#exactMatch"): dbpedia}
