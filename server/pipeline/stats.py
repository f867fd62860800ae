"""`arkg stats`: what the dataset holds, in numbers, overall and per article.

Proposition statuses are computed by :mod:`server.pipeline.derive` from the claims (the same code
that writes the derived graph), so the numbers hold even before `arkg derive` has run.

>>> s = collect()
>>> s.totals["claims"] == sum(a["claims"] for a in s.articles.values())
True
>>> sum(s.statuses.values()) == s.totals["propositions"]
True
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from server.pipeline import derive
from server.model.namespaces import ARKG, sparql_prefixes
from server.validation.violations import short
from server.engine.dataset import dataset_files, load_store

_ENTITY_TYPES = ("Person", "Organization", "Country", "Place", "Event", "Group", "AnonymousAgent")

_TYPES = sparql_prefixes() + """
SELECT ?type (COUNT(DISTINCT ?thing) AS ?n) WHERE {
    VALUES ?type { %s }
    ?thing a ?type .
    FILTER NOT EXISTS { ?thing a ?narrower . ?narrower rdfs:subClassOf+ ?type }
} GROUP BY ?type""" % " ".join(f"arkg:{t}" for t in _ENTITY_TYPES)

_CLAIMS = sparql_prefixes() + """
SELECT ?claim ?article ?stance ?claimant ?proposition WHERE {
    ?claim a arkg:Claim ; arkg:stance ?stance ; arkg:claimant ?claimant ;
           arkg:aboutProposition ?proposition ; arkg:evidence/oa:hasSource ?article .
}"""

_ARTICLES = sparql_prefixes() + """
SELECT ?article ?label (COUNT(DISTINCT ?comment) AS ?comments) WHERE {
    ?article a/rdfs:subClassOf* schema:NewsArticle ; rdfs:label ?label .
    OPTIONAL { ?comment a schema:Comment ; schema:isPartOf ?article }
} GROUP BY ?article ?label"""

_LINKS = sparql_prefixes() + """
SELECT ?kind (COUNT(*) AS ?n) WHERE {
    { ?thing owl:sameAs ?target } UNION { ?thing skos:exactMatch ?target }
    BIND (IF(STRSTARTS(STR(?target), STR(wd:)), "Wikidata",
          IF(STRSTARTS(STR(?target), STR(dbr:)), "DBpedia", "other")) AS ?kind)
} GROUP BY ?kind"""

_INTERMEDIARIES = sparql_prefixes() + "SELECT (COUNT(DISTINCT ?i) AS ?n) WHERE { ?c arkg:intermediary ?i }"
# accounts (what was said once, one independent source) that claims rest on
_ACCOUNTS = sparql_prefixes() + "SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { ?c arkg:independentSource ?a }"

STANCES = ("Asserts", "ReportsUncertain", "Denies", "Questions")
STATUSES = ("Contested", "Uncontested", "SingleSource", "OnlyDenied", "OnlyQuestioned")


@dataclass
class Stats:
    totals: dict[str, int] = field(default_factory=dict)
    stances: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    entity_types: dict[str, int] = field(default_factory=dict)
    speakers: list[tuple[str, int]] = field(default_factory=list)  # claimant (short), claims; most first
    links: dict[str, int] = field(default_factory=dict)
    articles: dict[str, dict] = field(default_factory=dict)  # short IRI -> numbers and label


def collect(root: Path | None = None) -> Stats:
    """Count everything under ``root`` (default: the package data)."""
    store = load_store([f for f in dataset_files(root) if f.graph != "shapes"])

    def rows(query: str):
        return store.query(query, use_default_graph_as_union=True)

    props, _ = derive.propositions(root)
    status_of = {p.iri: p.status for p in props}
    stats = Stats()
    stats.statuses = {s: sum(1 for v in status_of.values() if v == s) for s in STATUSES}
    stats.entity_types = {t: 0 for t in _ENTITY_TYPES}
    stats.entity_types.update({short(r["type"].value).removeprefix("arkg:"): int(r["n"].value) for r in rows(_TYPES)})
    stats.links = {r["kind"].value: int(r["n"].value) for r in rows(_LINKS)}

    for r in rows(_ARTICLES):
        stats.articles[short(r["article"].value)] = {
            "label": r["label"].value, "comments": int(r["comments"].value), "claims": 0,
            **{s: 0 for s in STANCES}, "speakers": set(), "propositions": set()}
    stances, speakers = Counter(), Counter()
    for r in rows(_CLAIMS):
        article = stats.articles.setdefault(short(r["article"].value), {
            "label": short(r["article"].value), "comments": 0, "claims": 0, **{s: 0 for s in STANCES},
            "speakers": set(), "propositions": set()})
        stance = r["stance"].value.removeprefix(ARKG)
        article["claims"] += 1
        article[stance] = article.get(stance, 0) + 1
        article["speakers"].add(r["claimant"].value)
        article["propositions"].add(r["proposition"].value)
        stances[stance] += 1
        speakers[short(r["claimant"].value)] += 1
    for article in stats.articles.values():
        article["contested"] = sum(status_of.get(p) == "Contested" for p in article["propositions"])
        article["speakers"], article["propositions"] = len(article["speakers"]), len(article["propositions"])

    stats.stances = {s: stances.get(s, 0) for s in STANCES}
    stats.speakers = sorted(speakers.items(), key=lambda item: (-item[1], item[0]))
    stats.totals = {
        "claims": sum(stances.values()),
        "propositions": len(props),
        "entities": sum(n for t, n in stats.entity_types.items() if t != "AnonymousAgent"),
        "anonymous speakers": stats.entity_types["AnonymousAgent"],
        "speakers": len(speakers),
        "intermediaries": int(next(iter(rows(_INTERMEDIARIES)))["n"].value),
        "shared accounts": int(next(iter(rows(_ACCOUNTS)))["n"].value),
        "external links": sum(stats.links.values()),
        "articles": len(stats.articles),
        "reader comments": sum(a["comments"] for a in stats.articles.values()),
    }
    return stats


def render(stats: Stats, console: Console, *, top_speakers: int = 15) -> None:
    """Print the numbers as rich tables."""
    def table(title: str, columns: list[str], rows: list[list], justify_first: str = "left") -> None:
        t = Table(title=title, title_justify="left")
        for i, name in enumerate(columns):
            t.add_column(name, justify=justify_first if i == 0 else "right")
        for row in rows:
            t.add_row(*[str(v) for v in row])
        console.print(t)

    table("ARKG in numbers", ["", "count"], [[k, v] for k, v in stats.totals.items()])
    table("Claims by stance", ["stance", "claims"], [[k, v] for k, v in stats.stances.items()])
    table("Propositions by status (in this corpus)", ["status", "propositions"],
          [[k, v] for k, v in stats.statuses.items()])
    table("Entities by type", ["type", "entities"], [[k, v] for k, v in stats.entity_types.items()])
    table("External links", ["target", "links"], [[k, v] for k, v in sorted(stats.links.items())])
    table(f"Speakers (top {top_speakers} of {len(stats.speakers)})", ["claimant", "claims"],
          [list(item) for item in stats.speakers[:top_speakers]])
    table("Per article", ["article", "claims", "asserts", "reports", "denies", "questions", "speakers",
                          "propositions", "contested", "comments"],
          [[a, n["claims"], n["Asserts"], n["ReportsUncertain"], n["Denies"], n["Questions"], n["speakers"],
            n["propositions"], n["contested"], n["comments"]] for a, n in sorted(stats.articles.items())])
