"""What the pictures share: prefixes, stances, statuses, scopes, row parsing and bounds."""

from __future__ import annotations

from dataclasses import dataclass

from server.engine.backend import Backend, select
from server.model.namespaces import ARKG, PREFIXES
from server.views.things import term

# Bounds: a picture shows at most this many of its rows (by claim count), then a "more" link.
DEFAULT_LIMIT = 30
MAX_LIMIT = 200

QUERY_PREFIXES = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in ("rdf", "rdfs", "oa", "arkg", "schema"))

# Stances in the order a reader scans them; key is the local name of the arkg: term.
STANCES = ("Asserts", "ReportsUncertain", "Denies", "Questions")
STANCE_WORDS = {"Asserts": "asserts", "ReportsUncertain": "reports uncertain", "Denies": "denies",
                "Questions": "questions"}
STATUSES = ("Uncontested", "SingleSource", "Contested", "OnlyDenied", "OnlyQuestioned")
STATUS_WORDS = {"Uncontested": "uncontested", "SingleSource": "single source", "Contested": "contested",
                "OnlyDenied": "only denied", "OnlyQuestioned": "only questioned", "": "status not derived"}


def local(iri: str | None, namespace: str = ARKG) -> str:
    """``arkg:Denies`` -> ``Denies``; anything outside ``namespace`` -> ``""``."""
    return iri[len(namespace):] if iri and iri.startswith(namespace) else ""


def label_of(row: dict[str, str], var: str) -> str:
    """The row's label for ``?var`` (``?varLabel``), else the IRI's last segment."""
    return row.get(var + "Label") or row.get(var, "").rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


@dataclass(frozen=True)
class Scope:
    """What a picture is about: everything (``iri`` None) or one thing and its claims."""
    iri: str | None = None

    def claims_pattern(self, var: str = "claim", *, as_speaker: bool = False) -> str:
        """The claims about this thing (as subject or object; optionally also as claimant)."""
        if self.iri is None:
            return ""
        t = term(self.iri)
        parts = [f"{{ ?{var} rdf:subject {t} }}", f"{{ ?{var} rdf:object {t} }}"]
        if as_speaker:
            parts.append(f"{{ ?{var} arkg:claimant {t} }}")
        return " UNION ".join(parts)


RDF, RDFS, OA = PREFIXES["rdf"], PREFIXES["rdfs"], PREFIXES["oa"]
LABEL, TYPE = RDFS + "label", RDF + "type"


def first(found: dict[str, dict[str, list[str]]], iri: str | None, predicate: str) -> str:
    """The first value of ``predicate`` for ``iri`` in what ``details`` found, or ""."""
    return (found.get(iri or "", {}).get(predicate) or [""])[0]


def clamp(limit: int | None) -> int:
    """A limit between 1 and MAX_LIMIT (the router refuses others with 4xx before this)."""
    return max(1, min(MAX_LIMIT, limit or DEFAULT_LIMIT))


async def details(backend: Backend, iris, predicates: tuple[str, ...]) -> dict[str, dict[str, list[str]]]:
    """For each IRI, the values (sorted) of each of ``predicates`` (full IRIs).

    One query seeded with VALUES, so each is an index lookup: an OPTIONAL over a common
    predicate (rdfs:label) in the main query would instead read every such triple in the store
    (at 5M triples, seconds instead of milliseconds).
    """
    iris = sorted({i for i in iris if i and i.startswith(("http://", "https://"))})
    out: dict[str, dict[str, list[str]]] = {}
    for start in range(0, len(iris), 500):  # bounded VALUES blocks
        values = " ".join(term(i) for i in iris[start:start + 500])
        props = ", ".join(f"<{p}>" for p in predicates)
        # One VALUES only: with a second one for ?p, the engine read every triple.
        rows = await select(backend, f"SELECT ?x ?p ?o WHERE {{ VALUES ?x {{ {values} }} ?x ?p ?o FILTER(?p IN ({props})) }}")
        for r in sorted(rows, key=lambda r: (r["x"], r["p"], r["o"])):
            out.setdefault(r["x"], {}).setdefault(r["p"], []).append(r["o"])
    return out
