"""Which things exist: references ``kind/slug`` checked against the IRI rules, and lookups.

A reference is checked before any query is built, so that only well-formed IRIs reach the
store (slugs are lowercase ASCII words joined by ``-``; see shared/design/data-model.md).

>>> ref("person", "ahmad-massoud").iri
'https://w3id.org/arkg/id/person/ahmad-massoud'
>>> ref("person", "ahmad-massoud", base="http://example.org/").doc_iri
'http://example.org/doc/person/ahmad-massoud'
>>> ref("spaceship", "x")
Traceback (most recent call last):
...
server.views.things.UnknownKind: There is no kind 'spaceship'. Kinds: person, organization, place, event, group, article, comment, agent, claim, proposition
>>> ref("person", "../etc")
Traceback (most recent call last):
...
server.views.things.InvalidSlug: '../etc' is not a slug: slugs are lowercase ASCII letters and digits in words joined by '-'.
>>> of_iri("https://w3id.org/arkg/id/claim/x-c001#evidence")
Ref(kind='claim', slug='x-c001', base='https://w3id.org/arkg/')
>>> of_iri("http://www.wikidata.org/entity/Q1") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

import pyoxigraph as ox

from server.model.namespaces import BASE, KINDS, SLUG
from server.engine.backend import Backend, select

MAX_SLUG = 200  # far above any slug the rules produce; longer requests are refused outright


class BadReference(ValueError):
    """A ``kind/slug`` that cannot name a thing."""


class UnknownKind(BadReference):
    pass


class InvalidSlug(BadReference):
    pass


class SlugTooLong(BadReference):
    pass


@dataclass(frozen=True)
class Ref:
    kind: str
    slug: str
    base: str = BASE

    @property
    def iri(self) -> str:
        return f"{self.base}id/{self.kind}/{self.slug}"

    @property
    def doc_iri(self) -> str:
        """The (format-neutral) document about the thing."""
        return f"{self.base}doc/{self.kind}/{self.slug}"

    @property
    def path(self) -> str:
        return f"{self.kind}/{self.slug}"


def ref(kind: str, slug: str, *, base: str = BASE) -> Ref:
    """Check ``kind`` and ``slug``; raise a :class:`BadReference` subclass saying what is wrong."""
    if kind not in KINDS:
        raise UnknownKind(f"There is no kind {kind!r}. Kinds: {', '.join(KINDS)}")
    if len(slug) > MAX_SLUG:
        raise SlugTooLong(f"The slug is {len(slug)} characters long; slugs have at most {MAX_SLUG}.")
    if not SLUG.fullmatch(slug):
        raise InvalidSlug(f"{slug!r} is not a slug: slugs are lowercase ASCII letters and digits "
                          "in words joined by '-'.")
    return Ref(kind, slug, base)


def of_iri(iri: str, *, base: str = BASE) -> Ref | None:
    """The thing an IRI (possibly with a fragment) of this dataset names, else None."""
    if not iri.startswith(base + "id/"):
        return None
    kind, _, slug = iri[len(base) + 3:].split("#", 1)[0].partition("/")
    try:
        return ref(kind, slug, base=base)
    except BadReference:
        return None


def term(iri: str) -> str:
    """``<iri>`` for a query, checked by pyoxigraph (raises ValueError on a malformed IRI)."""
    return str(ox.NamedNode(iri))


async def exists(backend: Backend, thing: Ref) -> bool:
    """Whether any triple mentions the thing (as subject or object) in any graph."""
    t = term(thing.iri)
    rows = await select(backend, f"SELECT ?x WHERE {{ {{ {t} ?x ?o }} UNION {{ ?x ?p {t} }} }} LIMIT 1")
    return bool(rows)

