"""The dataset at a glance, for the home, browse and query pages: figures, lists, example queries.

The home page costs what it shows, not what the dataset holds: its figures and top lists come
from the build (``figures.json``, :mod:`server.model.figures`) or, when the build wrote none
for the served version, are computed once per dataset version in each process; browse pages
list one page of a kind from an index also built once per version.

Example queries are data: each an ``sh:SPARQLExecutable`` in the ``examples`` graph with
``rdfs:label``/``rdfs:comment`` and its text in ``sh:select``, ``sh:construct``, ``sh:ask``
or ``sh:describe``; PREFIX lines declared through ``sh:prefixes`` are prepended when the
text does not declare them itself. Until that graph is published there are none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from server.model.build_layout import BuildLayout
from server.model.figures import BROWSE_KINDS, TOP_N, Figures, TopEntry
from server.model.namespaces import ARKG, PREFIXES, graph_iri
from server.engine.backend import Backend, select
from server.views.things import of_iri, term
from server.views.pages import Node, labels
from server.views.per_version import cache

SH, RDFS, RDF, PROV = PREFIXES["sh"], PREFIXES["rdfs"], PREFIXES["rdf"], PREFIXES["prov"]
SCHEMA = PREFIXES["schema"]
BROWSE_PAGE = 100  # things per browse page
ENTITY_KINDS = ("person", "organization", "place", "event", "group")
QUERY_FORMS = {"select": "SELECT", "construct": "CONSTRUCT", "ask": "ASK", "describe": "DESCRIBE"}


@dataclass
class Example:
    iri: str
    label: str
    comment: str | None
    query: str
    form: str  # SELECT, CONSTRUCT, ASK or DESCRIBE


@dataclass
class Distribution:
    url: str
    title: str | None = None
    media_type: str | None = None
    byte_size: int | None = None


@dataclass
class Overview:
    claims: int
    propositions: int
    statuses: list[tuple[Node, int]]  # derived status -> propositions (empty until derived)
    kinds: dict[str, int] = field(default_factory=dict)  # kind -> things of that kind
    top: dict[str, list[tuple[Node, int]]] = field(default_factory=dict)  # kind -> most mentioned, with claims
    speakers: int = 0
    distributions: list[Distribution] = field(default_factory=list)

    def count(self, *kinds: str) -> int:
        return sum(self.kinds.get(kind, 0) for kind in kinds)

    @property
    def entities(self) -> int:
        return self.count(*ENTITY_KINDS)

    @property
    def articles(self) -> int:
        return self.count("article")

    def status_count(self, local: str) -> int | None:
        """Propositions with status ``arkg:<local>``; None while no status is derived."""
        if not self.statuses:
            return None
        return sum(n for node, n in self.statuses if node.value == ARKG + local)


# The classes each browsed kind's things carry (ontology/arkg.ttl, the data model): a browse
# list is an index lookup by class, not a scan of every rdf:type triple (a million at 5M).
KIND_CLASSES = {
    "person": (ARKG + "Person",), "organization": (ARKG + "Organization",),
    "place": (ARKG + "Place", ARKG + "Country"), "event": (ARKG + "Event",), "group": (ARKG + "Group",),
    "agent": (ARKG + "AnonymousAgent", PROV + "Agent"),
    "article": (SCHEMA + "NewsArticle", SCHEMA + "OpinionNewsArticle"), "comment": (SCHEMA + "Comment",),
}


def _kind_query(kind: str, base: str) -> str:
    classes = " ".join(f"<{c}>" for c in KIND_CLASSES[kind])
    return f"""SELECT DISTINCT ?x WHERE {{ VALUES ?t {{ {classes} }} ?x a ?t .
      FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{base}id/{kind}/") && !CONTAINS(STR(?x), "#")) }}"""


async def compute_figures(backend: Backend, *, base: str) -> Figures:
    """The figures of the whole dataset: what ``arkg build`` writes to figures.json.

    Whole-graph aggregations: run once per dataset version (at build time, or once by
    :func:`figures` when the build wrote none), never per request.
    """
    claims = await select(backend, f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c a <{ARKG}Claim> }}")
    propositions = await select(backend, f"""SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{
      {{ ?c <{ARKG}aboutProposition> ?p }} UNION {{ ?p a <{ARKG}Proposition> }} }}""")
    status_rows = await select(backend, f"SELECT ?s (COUNT(DISTINCT ?p) AS ?n) WHERE {{ ?p <{ARKG}status> ?s }} GROUP BY ?s")
    speakers = await select(backend, f"SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE {{ ?c <{ARKG}claimant> ?x }}")
    kinds: dict[str, int] = {}
    for kind, iris in (await index(backend, base=base)).items():
        kinds[kind] = len(iris)
    mentions = await select(backend, f"""SELECT ?x (COUNT(?c) AS ?n) WHERE {{
      {{ ?c <{RDF}subject> ?x }} UNION {{ ?c <{RDF}object> ?x }} UNION {{ ?c <{ARKG}claimant> ?x }}
      UNION {{ ?c <{PROV}wasDerivedFrom> ?x }}
      FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{base}id/")) }} GROUP BY ?x""")
    by_kind: dict[str, list[tuple[int, str]]] = {}
    for r in mentions:
        thing = of_iri(r["x"], base=base)
        if thing is not None and thing.kind in BROWSE_KINDS:
            by_kind.setdefault(thing.kind, []).append((-int(r["n"]), r["x"]))
    chosen = {kind: sorted(entries)[:TOP_N] for kind, entries in by_kind.items()}
    names = await labels(backend, {iri for entries in chosen.values() for _, iri in entries})
    top = {kind: [TopEntry(iri, names.get(iri), -n) for n, iri in entries] for kind, entries in chosen.items()}
    return Figures(backend.info.version, claims=int(claims[0]["n"]), propositions=int(propositions[0]["n"]),
                   speakers=int(speakers[0]["n"]), statuses={r["s"]: int(r["n"]) for r in status_rows},
                   kinds=kinds, top=top)




def _figures_files(build_dir: Path | None, version: str) -> list[Path]:
    # The build of the served version (<area>/<version>/), or a build directory given as such.
    return [BuildLayout(root).figures for root in ([Path(build_dir) / version, Path(build_dir)]
                                                   if build_dir is not None else [])]


def figures_stamp(build_dir: Path | None, version: str) -> str:
    """Which figures.json the figures would come from, as it is now (for a page's ETag)."""
    for path in _figures_files(build_dir, version):
        try:
            stat = path.stat()
        except OSError:
            continue
        return f"{path}:{stat.st_mtime_ns}:{stat.st_size}"
    return "computed"


async def figures(backend: Backend, *, base: str, build_dir: Path | None = None) -> Figures:
    """The build's figures.json when it is for the served version, else computed once per version."""
    version = backend.info.version
    for path in _figures_files(build_dir, version):
        try:
            found = Figures.from_json(path.read_text(encoding="utf-8"))
        except OSError:
            continue
        if found is not None and found.version == version:
            return found
    return await cache.get((version, "figures", base), lambda: compute_figures(backend, base=base))


async def things_of(backend: Backend, kind: str, *, base: str) -> list[str]:
    """The IRIs of one kind in IRI order, for browse pages (one lookup by class, once per version)."""
    async def compute():
        return sorted(r["x"] for r in await select(backend, _kind_query(kind, base)))

    return await cache.get((backend.info.version, "things", base, kind), compute)


async def index(backend: Backend, *, base: str) -> dict[str, list[str]]:
    """Kind -> the IRIs of that kind in IRI order, every browsed kind."""
    return {kind: await things_of(backend, kind, base=base) for kind in BROWSE_KINDS}


async def overview(backend: Backend, *, base: str, build_dir: Path | None = None) -> Overview:
    """Figures and the most mentioned things of each kind (from the build, or once per version)."""
    f = await figures(backend, base=base, build_dir=build_dir)
    status_names = await labels(backend, set(f.statuses))
    statuses = sorted(((Node(s, label=status_names.get(s)), n) for s, n in f.statuses.items()), key=lambda x: -x[1])
    top = {kind: [(Node(e.iri, label=e.label), e.claims) for e in entries] for kind, entries in f.top.items()}
    return Overview(claims=f.claims, propositions=f.propositions, statuses=statuses, kinds=dict(f.kinds), top=top,
                    speakers=f.speakers)


@dataclass
class BrowsePage:
    kind: str
    page: int
    last_page: int
    total: int
    things: list[Node]


class NoSuchPage(ValueError):
    """A browse page past the last one, or a kind that is not browsed."""


async def browse(backend: Backend, kind: str, page: int, *, base: str) -> BrowsePage:
    """Page ``page`` of the things of ``kind`` in IRI order, with their labels (one bounded query)."""
    if kind not in BROWSE_KINDS:
        raise NoSuchPage(f"There is no list of {kind[:40]!r}; lists: {', '.join(BROWSE_KINDS)}.")
    iris = await things_of(backend, kind, base=base)
    last_page = max(1, -(-len(iris) // BROWSE_PAGE))
    if page > last_page:
        raise NoSuchPage(f"The list of {kind} has {last_page} page{'s' if last_page != 1 else ''}; start at page 1.")
    shown = iris[(page - 1) * BROWSE_PAGE:page * BROWSE_PAGE]
    names = await labels(backend, set(shown))
    return BrowsePage(kind, page, last_page, len(iris), [Node(i, label=names.get(i)) for i in shown])


_DECLARED = re.compile(r"^\s*PREFIX\s+([A-Za-z][\w.-]*)?:", re.IGNORECASE | re.MULTILINE)


def with_prefixes(query: str, declared: dict[str, str]) -> str:
    """``query`` preceded by the PREFIX lines it needs from ``declared`` and lacks.

    >>> with_prefixes("SELECT * { ?s a arkg:Claim }", {"arkg": "https://w3id.org/arkg/ontology#"})
    'PREFIX arkg: <https://w3id.org/arkg/ontology#>\\nSELECT * { ?s a arkg:Claim }'
    >>> with_prefixes("PREFIX arkg: <x#>\\nASK {}", {"arkg": "https://w3id.org/arkg/ontology#"})
    'PREFIX arkg: <x#>\\nASK {}'
    """
    present = {m.group(1) or "" for m in _DECLARED.finditer(query)}
    lines = [f"PREFIX {p}: <{ns}>" for p, ns in sorted(declared.items())
             if p not in present and re.search(rf"(?<![\w:]){re.escape(p)}:", query)]
    return "\n".join([*lines, query]) if lines else query


async def examples(backend: Backend) -> list[Example]:
    """The example queries of the ``examples`` graph, in IRI order (read once per version)."""
    return await cache.get((backend.info.version, "examples"), lambda: _examples(backend))


async def _examples(backend: Backend) -> list[Example]:
    g = term(graph_iri("examples"))
    forms = " UNION ".join(f"{{ ?ex <{SH}{local}> ?q BIND(\"{form}\" AS ?form) }}" for local, form in QUERY_FORMS.items())
    rows = await select(backend, f"""SELECT ?ex (SAMPLE(?q) AS ?query) (SAMPLE(?form) AS ?f)
      (SAMPLE(?l) AS ?label) (SAMPLE(?c) AS ?comment) WHERE {{ GRAPH {g} {{
        {forms}
        OPTIONAL {{ ?ex <{RDFS}label> ?l }} OPTIONAL {{ ?ex <{RDFS}comment> ?c }} }} }}
      GROUP BY ?ex ORDER BY ?ex""")
    if not rows:
        return []
    declared_rows = await select(backend, f"""SELECT ?ex ?p ?ns WHERE {{ GRAPH {g} {{
      ?ex <{SH}prefixes> ?set . ?set <{SH}declare> ?d . ?d <{SH}prefix> ?p ; <{SH}namespace> ?ns }} }}""")
    declared: dict[str, dict[str, str]] = {}
    for r in declared_rows:
        declared.setdefault(r["ex"], {})[r["p"]] = r["ns"]
    return [Example(r["ex"], r.get("label") or r["ex"].rsplit("/", 1)[-1].rsplit("#", 1)[-1], r.get("comment"),
                    with_prefixes(r["query"], declared.get(r["ex"], {})), r["f"]) for r in rows]
