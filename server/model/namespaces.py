"""IRIs and prefixes shared by every part of ARKG (see shared/design/data-model.md).

>>> entity_iri("person", "ahmad-massoud")
'https://w3id.org/arkg/id/person/ahmad-massoud'
>>> graph_iri("claims")
'https://w3id.org/arkg/graph/claims'
"""

BASE = "https://w3id.org/arkg/"
ARKG = BASE + "ontology#"
ONTOLOGY_IRI = BASE + "ontology"
ID = BASE + "id/"
GRAPH = BASE + "graph/"

KINDS = (
    "person", "organization", "place", "event", "group", "article",
    "comment", "agent", "claim", "proposition",
)
GRAPHS = (
    "ontology", "shapes", "sources", "entities", "claims",
    "derived", "asserted", "examples", "meta",
)

PREFIXES = {
    "arkg": ARKG,
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "oa": "http://www.w3.org/ns/oa#",
    "dcterms": "http://purl.org/dc/terms/",
    "sh": "http://www.w3.org/ns/shacl#",
    "void": "http://rdfs.org/ns/void#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "schema": "http://schema.org/",
    "wd": "http://www.wikidata.org/entity/",
    "dbr": "http://dbpedia.org/resource/",
}


def entity_iri(kind: str, slug: str) -> str:
    """The IRI of a thing of ``kind`` named ``slug``."""
    return f"{ID}{kind}/{slug}"


def graph_iri(name: str) -> str:
    """The IRI of the named graph ``name``."""
    return GRAPH + name


def sparql_prefixes() -> str:
    """PREFIX declarations for every prefix above, for queries written in code."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())

# The data licence, stated in documents, dumps, VoID and pages.
LICENCE = "https://creativecommons.org/licenses/by/4.0/"
