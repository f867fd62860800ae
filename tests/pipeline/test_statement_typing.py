"""Every claim is typed rdf:Statement as well as arkg:Claim in the published data, so that
`SELECT ?c WHERE { ?c a rdf:Statement }` finds the claims without subclass inference."""

from __future__ import annotations

from tests.validation_tools import select


def test_every_claim_is_an_rdf_statement():
    claims = {r["c"] for r in select("?c a arkg:Claim")}
    statements = {r["c"] for r in select("?c a rdf:Statement . FILTER NOT EXISTS { ?c a arkg:Proposition }")}
    assert claims and claims == statements
