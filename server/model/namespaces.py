"""IRIs and prefixes shared by every part of ARKG (see shared/design/data-model.md).

>>> entity_iri("person", "ahmad-massoud")
'https://w3id.org/arkg/id/person/ahmad-massoud'
>>> graph_iri("claims")
'https://w3id.org/arkg/graph/claims'
>>> NS["rdf"].type
<NamedNode value=http://www.w3.org/1999/02/22-rdf-syntax-ns#type>
>>> NS["arkg"]["Claim"].value
'https://w3id.org/arkg/ontology#Claim'
>>> bool(SLUG.fullmatch("ahmad-massoud")), bool(SLUG.fullmatch("../etc"))
(True, False)
"""

import re

import pyoxigraph as ox

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
# Vocabularies the dataset's own description uses (VoID/DCAT, Service Description), not its data.
DESCRIPTION_PREFIXES = {
    "sd": "http://www.w3.org/ns/sparql-service-description#",
    "spdx": "http://spdx.org/rdf/terms#",
    "foaf": "http://xmlns.com/foaf/0.1/",
}


class Namespace(str):
    """A namespace IRI whose attributes and items are pyoxigraph terms in it.

    The one way code names a term: ``NS["rdfs"].label`` or ``NS["arkg"]["Claim"]`` (items for
    names that are not identifiers). It is still the namespace string, for text queries.
    """

    def __getattr__(self, local: str) -> ox.NamedNode:
        if local.startswith("__"):
            raise AttributeError(local)
        return ox.NamedNode(self + local)

    def __getitem__(self, local) -> ox.NamedNode:
        if not isinstance(local, str):  # slices and indexes stay string operations
            return str.__getitem__(self, local)
        return ox.NamedNode(self + local)


NS = {prefix: Namespace(iri) for prefix, iri in {**PREFIXES, **DESCRIPTION_PREFIXES}.items()}

# Slugs: lowercase ASCII words joined by '-' (shared/design/data-model.md).
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


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
