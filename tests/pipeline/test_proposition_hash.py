"""Proposition IRIs are published: the hash is pinned to the values of December 2026, computed
over the N-Triples line of the triple (pyoxigraph's N-Triples serialiser), not over ``str()``
of a term. A change of hashing would move every proposition IRI; these tests stop it."""

from __future__ import annotations

from pyoxigraph import Literal, NamedNode

from server.pipeline.curate import ntriples_line, proposition_slug

ID = "https://w3id.org/arkg/id/"
ARKG = "https://w3id.org/arkg/ontology#"


def test_entity_object_hash_is_pinned():
    # rferl-masud-visited-dushanbe-c006: Massoud visited Dushanbe (published before the change)
    assert proposition_slug(ID + "person/ahmad-massoud", ARKG + "visited",
                            NamedNode(ID + "place/dushanbe")) == "fc487d9f4cab508d"


def test_literal_object_hash_is_pinned():
    # trt-tehran-talks-c003: a plain literal with a curly apostrophe
    assert proposition_slug(ID + "event/tehran-meeting", ARKG + "characterisedAs",
                            Literal("peace talks between Afghanistan’s political leaders")) == "77c9b87e88bb7cd8"


def test_the_hashed_line_is_n_triples():
    line = ntriples_line(ID + "person/x", ARKG + "characterisedAs", Literal('a "quoted"\nword'))
    assert line == f'<{ID}person/x> <{ARKG}characterisedAs> "a \\"quoted\\"\\nword" .'
