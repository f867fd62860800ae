"""Mapping between the canonical IRI base and the URL this server is reached at.

>>> m = UrlMap("http://127.0.0.1:8000/", "https://w3id.org/arkg/")
>>> m.public("https://w3id.org/arkg/id/person/ahmad-massoud")
'http://127.0.0.1:8000/id/person/ahmad-massoud'
>>> m.canonical("http://127.0.0.1:8000/doc/person/ahmad-massoud")
'https://w3id.org/arkg/doc/person/ahmad-massoud'
>>> m.public("http://www.wikidata.org/entity/Q889")
'http://www.wikidata.org/entity/Q889'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UrlMap:
    public_url: str  # ends with /
    base_iri: str  # ends with /

    def public(self, iri: str) -> str:
        """The URL at which this server serves ``iri`` (unchanged if it is not ours)."""
        if iri.startswith(self.base_iri):
            return self.public_url + iri[len(self.base_iri):]
        return iri

    def canonical(self, url: str) -> str:
        """The canonical IRI for a URL of this server."""
        if url.startswith(self.public_url):
            return self.base_iri + url[len(self.public_url):]
        return url

    @property
    def sparql_endpoint(self) -> str:
        return self.public_url + "sparql"
