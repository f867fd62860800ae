"""The figures pages show, computed once per build (``figures.json``), never per request.

The home page (and any page that shows totals or top lists) reads this file through the
build of the served version (``BuildLayout.figures``) instead of aggregating the whole
graph on each request. All IRIs are canonical (``https://w3id.org/arkg/...``); pages map
them onto their public URL. Every list is sorted, so the same data gives the same file.

The JSON shape (``server/model/figures.py`` reads the keys it needs; the others are extra)::

    {
      "schema": 1,                          # a change of shape bumps it
      "version": "b4bfc9e5c5f7",            # dataset version the figures are of
      "claims": 10,                         # things typed arkg:Claim
      "propositions": 8,                    # things typed arkg:Proposition
      "speakers": 6,                        # distinct arkg:claimant values
      "triples": 123,                       # distinct triples, union of the named graphs
      "entities": 40,                       # things of ENTITY_KINDS
      "statuses": {".../ontology#Contested": 3, ...},   # propositions per arkg:status
      "stances": {".../ontology#Asserts": 7, ...},      # claims per arkg:stance
      "kinds": {"person": 12, "organization": 9, "place": 7, "event": 3, "group": 2,
                "article": 5, "comment": 3, "agent": 4, "claim": 10, "proposition": 8},
                                            # typed things per kind of IRI ({base}id/{kind}/...)
      "top": {"person": [{"iri": ..., "label": ..., "claims": 5}, ...], ...},
                                            # per kind of TOP_KINDS, the TOP_N things the most
                                            # claims mention: about it (rdf:subject or
                                            # rdf:object), by it (arkg:claimant) or from it
                                            # (prov:wasDerivedFrom), most first
      "speakers_top": [{"iri": ..., "label": ..., "claims": 4}, ...]
                                            # the TOP_N claimants with most claims
    }

``label`` is the English (or untagged) ``rdfs:label`` with the smallest string, or null.
Ties are broken by IRI. Counts come from SPARQL over the build's store.

>>> import pyoxigraph as ox
>>> from server.engine.dataset import dataset_files, load_store
>>> figures = compute(load_store(dataset_files()), version="v")
>>> figures["claims"] == sum(figures["stances"].values())
True
>>> figures["top"]["person"][0]["claims"] >= figures["top"]["person"][-1]["claims"]
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyoxigraph as ox

from server.model.namespaces import ARKG, ID, KINDS, PREFIXES

SCHEMA = 1
TOP_N = 10
ENTITY_KINDS = ("person", "organization", "place", "event", "group")
TOP_KINDS = ("article", "person", "organization", "place", "event", "group", "agent", "comment")
RDF, RDFS = PREFIXES["rdf"], PREFIXES["rdfs"]

_KIND_OF = f'STRBEFORE(STR(SUBSTR(STR(?x), {len(ID) + 1})), "/")'
_QUERIES = {
    "triples": "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o WHERE { ?s ?p ?o } }",
    "claims": f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c a <{ARKG}Claim> }}",
    "propositions": f"SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p a <{ARKG}Proposition> }}",
    "speakers": f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?c <{ARKG}claimant> ?x }}",
    "kinds": f"""SELECT ?kind (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?x a ?type .
        FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{ID}") && !CONTAINS(STR(?x), "#"))
        BIND({_KIND_OF} AS ?kind) }} GROUP BY ?kind""",
    "statuses": f"SELECT ?x (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p <{ARKG}status> ?x }} GROUP BY ?x",
    "stances": f"SELECT ?x (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c <{ARKG}stance> ?x }} GROUP BY ?x",
    "mentions": f"""SELECT ?x (COUNT(DISTINCT ?c) AS ?n) WHERE {{
        {{ ?c <{RDF}subject> ?x }} UNION {{ ?c <{RDF}object> ?x }} UNION {{ ?c <{ARKG}claimant> ?x }}
        UNION {{ ?c <{PREFIXES['prov']}wasDerivedFrom> ?x }}
        ?c a <{ARKG}Claim> . FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{ID}")) }} GROUP BY ?x""",
    "speakers_top": f"SELECT ?x (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c <{ARKG}claimant> ?x }} GROUP BY ?x",
}


def _rows(store: ox.Store, query: str) -> list[dict[str, str]]:
    result = store.query(query, use_default_graph_as_union=True)
    names = [v.value for v in result.variables]
    return [{k: row[k].value for k in names if row[k] is not None} for row in result]


def _label(store: ox.Store, iri: str) -> str | None:
    names = [q.object for q in store.quads_for_pattern(ox.NamedNode(iri), ox.NamedNode(RDFS + "label"), None)
             if isinstance(q.object, ox.Literal) and q.object.language in (None, "en")]
    return min((n.value for n in names), default=None)


def _ranked(store: ox.Store, rows: list[dict[str, str]], limit: int | None = None, keep=lambda iri: True) -> list[dict]:
    ranked = sorted(((int(r["n"]), r["x"]) for r in rows if "x" in r and keep(r["x"])), key=lambda t: (-t[0], t[1]))
    if limit is not None:
        ranked = ranked[:limit]
    return [{"iri": iri, "label": _label(store, iri), "n": n} for n, iri in ranked]


def compute(store: ox.Store, *, version: str, top_n: int = TOP_N) -> dict:
    """The figures of the data in ``store`` (see the module docstring for the shape)."""
    return {**aggregates(store, version=version, top_n=top_n), "triples": _count(store, "triples")}


def _count(store: ox.Store, name: str) -> int:
    rows = _rows(store, _QUERIES[name])
    return int(rows[0]["n"]) if rows else 0


def aggregates(store: ox.Store, *, version: str, top_n: int = TOP_N) -> dict:
    """Every figure but ``triples`` (the build computes these beside its dumps, which count those)."""
    kinds = {k: 0 for k in KINDS}
    for r in _rows(store, _QUERIES["kinds"]):
        if r.get("kind") in kinds:
            kinds[r["kind"]] = int(r["n"])
    mentions = _rows(store, _QUERIES["mentions"])
    top = {kind: [{"iri": r["iri"], "label": r["label"], "claims": r["n"]}
                  for r in _ranked(store, mentions, top_n, keep=lambda iri, k=kind: iri.startswith(f"{ID}{k}/"))]
           for kind in TOP_KINDS}

    def by_iri(name: str) -> dict[str, int]:
        return {r["x"]: int(r["n"]) for r in sorted(_rows(store, _QUERIES[name]), key=lambda r: r["x"]) if "x" in r}

    return {
        "schema": SCHEMA,
        "version": version,
        "claims": _count(store, "claims"), "propositions": _count(store, "propositions"),
        "speakers": _count(store, "speakers"),
        "entities": sum(kinds[k] for k in ENTITY_KINDS),
        "statuses": by_iri("statuses"),
        "stances": by_iri("stances"),
        "kinds": kinds,
        "top": top,
        "speakers_top": [{"iri": r["iri"], "label": r["label"], "claims": r["n"]}
                         for r in _ranked(store, _rows(store, _QUERIES["speakers_top"]), top_n)],
    }


def write(figures: dict, path: Path) -> None:
    """Write ``figures`` as JSON (sorted keys: the same figures give the same bytes)."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(json.dumps(figures, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path) -> dict | None:
    """The figures of a build, or None when they were not built."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
