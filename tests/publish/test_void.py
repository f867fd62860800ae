"""VoID and DCAT at /.well-known/void, the copy in the dumps, CITATION.cff and LICENSE.

Every figure in the description is checked against the data itself (queried here on an
in-process store over the same files) and against the dump files on disk.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyoxigraph as ox
import pytest
import yaml

from server.model.build_layout import BuildLayout
from server.publish import dumps
from server.publish.build import served_dumps
from server.publish import void as metadata
from server.model.namespaces import ID, ONTOLOGY_IRI
from server.engine.worker import open_store

ROOT = Path(__file__).resolve().parents[2]
DOC = "https://w3id.org/arkg/.well-known/void"
DATASET = DOC + "#dataset"
P = {**metadata.PREFIXES}
QUERY_PREFIXES = "".join(f"PREFIX {k}: <{v}>\n" for k, v in P.items())


@pytest.fixture(scope="module")
def data(client):
    return open_store(client.app.state.backend.spec)


@pytest.fixture(scope="module")
def current(client):
    build = served_dumps(client.app.state.settings.build_dir, client.app.state.backend.info.version)
    assert build is not None
    return build


@pytest.fixture(scope="module")
def void_triples(client) -> set[ox.Triple]:
    r = client.get("/.well-known/void")
    assert r.status_code == 200 and r.headers["content-type"] == "text/turtle; charset=utf-8"
    return {q.triple for q in ox.parse(r.content, format=ox.RdfFormat.TURTLE)}


@pytest.fixture(scope="module")
def void(void_triples) -> ox.Store:
    """The description in a store, to query it (a store reads xsd:nonNegativeInteger as xsd:integer)."""
    store = ox.Store()
    store.extend(ox.Quad(t.subject, t.predicate, t.object) for t in void_triples)
    return store


def rows(store: ox.Store, query: str) -> list[dict[str, str]]:
    result = store.query(QUERY_PREFIXES + query, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    return [{k: row[k].value for k in names if row[k] is not None} for row in result]


def value(store: ox.Store, query: str) -> str:
    (row,) = rows(store, query)
    return next(iter(row.values()))


def test_dataset_core(void):
    assert value(void, f"SELECT ?e {{ <{DATASET}> void:sparqlEndpoint ?e }}") == "http://testserver/sparql"
    assert value(void, f"SELECT ?s {{ <{DATASET}> void:uriSpace ?s }}") == ID
    assert value(void, f"SELECT ?l {{ <{DATASET}> dcterms:license ?l }}") == "https://creativecommons.org/licenses/by/4.0/"
    assert value(void, f"SELECT ?n {{ <{DATASET}> dcterms:publisher/foaf:name ?n }}") == "ARKG project"
    types = {r["t"] for r in rows(void, f"SELECT ?t {{ <{DATASET}> a ?t }}")}
    assert types == {P["void"] + "Dataset", P["dcat"] + "Dataset"}
    vocabularies = {r["v"] for r in rows(void, f"SELECT ?v {{ <{DATASET}> void:vocabulary ?v }}")}
    assert {ONTOLOGY_IRI, P["prov"], P["oa"], P["schema"], P["skos"]} <= vocabularies


def test_no_invented_dates_and_no_blank_nodes(void):
    assert not rows(void, "SELECT * { ?s ?p ?o FILTER(isBlank(?s) || isBlank(?o)) }")
    dates = rows(void, f"SELECT * {{ ?s ?p ?o FILTER(DATATYPE(?o) IN (<{P['xsd']}date>, <{P['xsd']}dateTime>)) }}")
    assert dates == []


def test_every_described_node_has_label_and_comment(void):
    missing = rows(void, f"""SELECT DISTINCT ?s {{ ?s ?p ?o FILTER(STRSTARTS(STR(?s), "{DOC}#"))
        FILTER NOT EXISTS {{ ?s rdfs:label ?l ; rdfs:comment ?c }} }}""")
    assert missing == []


def test_example_resources_are_real_entities(void, data):
    examples = [r["x"] for r in rows(void, f"SELECT ?x {{ <{DATASET}> void:exampleResource ?x }}")]
    assert len(examples) >= 4
    assert "https://w3id.org/arkg/id/person/ahmad-massoud" in examples
    for iri in examples:
        assert iri.startswith(ID)
        assert list(data.quads_for_pattern(ox.NamedNode(iri), None, None)), iri


def test_counts_match_the_data(void, data):
    distinct = {q.triple for q in data}
    assert int(value(void, f"SELECT ?n {{ <{DATASET}> void:triples ?n }}")) == len(distinct)
    partitions = {r["p"]: int(r["n"]) for r in rows(void, f"""SELECT ?p ?n {{
        <{DATASET}> void:propertyPartition ?part . ?part void:property ?p ; void:triples ?n }}""")}
    assert sum(partitions.values()) == len(distinct)
    claims = {t.subject for t in distinct if t.predicate.value == P["rdf"] + "type" and t.object.value == P["arkg"] + "Claim"}
    classes = {r["c"]: int(r["n"]) for r in rows(void, f"""SELECT ?c ?n {{
        <{DATASET}> void:classPartition ?part . ?part void:class ?c ; void:entities ?n }}""")}
    assert classes[P["arkg"] + "Claim"] == len(claims) > 0
    subsets = {r["g"]: int(r["n"]) for r in rows(void, f"""SELECT ?g ?n {{
        <{DATASET}> void:subset ?g . ?g a void:Dataset ; void:triples ?n FILTER NOT EXISTS {{ ?g a void:Linkset }} }}""")}
    per_graph: dict[str, int] = {}
    for q in data:
        per_graph[q.graph_name.value] = per_graph.get(q.graph_name.value, 0) + 1
    assert subsets == per_graph
    subjects = {t.subject for t in distinct}
    assert int(value(void, f"SELECT ?n {{ <{DATASET}> void:distinctSubjects ?n }}")) == len(subjects)
    assert int(value(void, f"SELECT ?n {{ <{DATASET}> void:distinctObjects ?n }}")) == len({t.object for t in distinct})
    entities = {s for s in subjects if isinstance(s, ox.NamedNode) and s.value.startswith(ID)}
    assert int(value(void, f"SELECT ?n {{ <{DATASET}> void:entities ?n }}")) == len(entities) < len(subjects)


@pytest.mark.parametrize("target,predicate,space", [
    ("wikidata", P["owl"] + "sameAs", P["wd"]), ("dbpedia", P["skos"] + "exactMatch", P["dbr"])])
def test_one_linkset_per_target_with_the_data_link_count(void, data, target, predicate, space):
    links = {t for t in (q.triple for q in data)
             if t.predicate.value == predicate and isinstance(t.object, ox.NamedNode) and t.object.value.startswith(space)}
    assert links, f"the data links to {target}"
    found = rows(void, f"""SELECT ?ls ?n ?space {{ <{DATASET}> void:subset ?ls . ?ls a void:Linkset ;
        void:linkPredicate <{predicate}> ; void:triples ?n ; void:subjectsTarget <{DATASET}> ;
        void:objectsTarget/void:uriSpace ?space }}""")
    assert [(int(r["n"]), r["space"]) for r in found] == [(len(links), space)]


def test_a_distribution_per_dump_with_size_type_and_checksum(void, current, client):
    found = {r["url"]: r for r in rows(void, f"""SELECT ?url ?size ?media ?sum ?alg ?compress {{
        <{DATASET}> dcat:distribution ?d . ?d a dcat:Distribution ; dcat:downloadURL ?url ; dcat:byteSize ?size ;
        dcat:mediaType ?media ; spdx:checksum ?c . ?c spdx:algorithm ?alg ; spdx:checksumValue ?sum .
        OPTIONAL {{ ?d dcat:compressFormat ?compress }} }}""")}
    dumped = {r["u"] for r in rows(void, f"SELECT ?u {{ <{DATASET}> void:dataDump ?u }}")}
    assert set(found) == dumped
    assert len(found) == len(dumps.DUMPS)
    for f in current.data_files:
        url = f"http://testserver/dumps/{current.version}/{f.name}"
        d = found[url]
        assert int(d["size"]) == f.path.stat().st_size
        assert d["sum"] == hashlib.sha256(f.path.read_bytes()).hexdigest()
        assert d["alg"] == "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"
        assert d["media"] == "https://www.iana.org/assignments/media-types/" + f.kind.format.media_type
        assert ("compress" in d) == f.kind.gzip
        if f.kind.gzip:
            assert d["compress"] == "https://www.iana.org/assignments/media-types/application/gzip"
        r = client.get(url.removeprefix("http://testserver"), headers={"Accept-Encoding": "identity"})
        assert r.status_code == 200 and len(r.content) == int(d["size"])


def test_data_service_for_the_endpoint(void):
    (row,) = rows(void, f"""SELECT ?s ?url {{ ?s a dcat:DataService ; dcat:endpointURL ?url ;
        dcat:servesDataset <{DATASET}> }}""")
    assert row["url"] == "http://testserver/sparql"


@pytest.mark.parametrize("accept,fmt", [("application/ld+json", ox.RdfFormat.JSON_LD),
                                        ("application/rdf+xml", ox.RdfFormat.RDF_XML),
                                        ("application/n-triples", ox.RdfFormat.N_TRIPLES)])
def test_negotiated_formats_carry_the_same_description(client, void_triples, accept, fmt):
    r = client.get("/.well-known/void", headers={"Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"].startswith(accept)
    assert {q.triple for q in ox.parse(r.content, format=fmt)} == void_triples


def test_void_caching_and_refusals(client):
    r = client.get("/.well-known/void")
    assert "Accept" in r.headers["vary"].split(", ") and r.headers["etag"]
    assert client.get("/.well-known/void", headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert client.get("/.well-known/void", headers={"Accept": "image/png"}).status_code == 406
    assert client.head("/.well-known/void").status_code == 200


def test_copy_in_the_dumps_is_the_same_description_with_canonical_urls(client, void_triples, current):
    """The build's void.ttl (canonical URLs; the server serves it mapped onto its public URL)
    is the served description with the server's URLs mapped back; the dumps carry the same file."""
    public, base = "http://testserver/", "https://w3id.org/arkg/"

    def canonical(term):
        if isinstance(term, ox.NamedNode) and term.value.startswith(public):
            return ox.NamedNode(base + term.value[len(public):])
        return term

    served = {ox.Triple(canonical(t.subject), t.predicate, canonical(t.object)) for t in void_triples}
    copied = {q.triple for q in ox.parse(current.file(dumps.VOID_FILE).path.read_bytes(), format=ox.RdfFormat.TURTLE)}
    assert served == copied
    layout = BuildLayout.of(client.app.state.settings.build_dir, current.version)
    assert layout.void.read_bytes() == current.file(dumps.VOID_FILE).path.read_bytes()


def test_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0"
    assert cff["license"] == "CC-BY-4.0"
    assert cff["version"] == "0.1.0"
    assert cff["authors"] == [{"name": "ARKG contributors"}]
    assert cff["title"] and cff["message"]
    assert not {"doi", "url", "repository-code", "date-released", "identifiers"} & set(cff)


def test_license_file():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "CC BY 4.0" in text and "https://creativecommons.org/licenses/by/4.0/" in text
