"""``arkg synth``: a synthetic claims dataset in ARKG's own model (seeded, deterministic).

For benchmarks and scale tests only: it is never mixed into the published dataset (it
refuses to write into the package's data directories) and everything in it says it is
synthetic.

The shape follows graphs/claims/*.ttl and shared/design/data-model.md: every claim is an
``arkg:Claim`` with ``rdf:subject``/``rdf:predicate``/``rdf:object``, ``arkg:claimant``,
``arkg:stance``, ``prov:wasDerivedFrom`` its article, ``arkg:evidence`` (a hash IRI that is an
``oa:SpecificResource`` with a ``oa:TextQuoteSelector`` and a ``oa:TextPositionSelector``)
and ``arkg:aboutProposition``; about 15% of claims repeat an earlier ``s p o`` (some
contested). Realistic proportions of what the real data has:

- entities with spelling variants (``skos:altLabel``: transliterations, a title added or
  dropped) and, for a third of them, links to an external knowledge base under the
  example namespace :data:`EXTERNAL` (``skos:exactMatch``; never a real Wikidata or
  DBpedia id);
- articles with headline, publisher, authors and hashes, and anonymous speakers (``an
  unnamed source close to ...``) who speak in them;
- repeated triples from other speakers: corroborated (Uncontested), denied (Contested),
  hedged (``arkg:ReportsUncertain``), the rest stated once (SingleSource); denials and
  questions also stand alone (OnlyDenied, OnlyQuestioned).

Everything is labelled as synthetic, with slugs starting ``bench-``, so it can never be
mistaken for curated data. The output is a data directory in the layout ``arkg`` reads
(``graphs/<name>/bench.nq``), N-Quads in the named graphs ``claims``, ``entities`` and
``sources``, plus ``queries.json`` listing the entities the load client asks about; the
ontology and shapes are the package's, and ``arkg build --data-dir DIR`` derives the
propositions.

    .venv/bin/arkg synth --triples 100000 --out /tmp/synth-100k

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp())
>>> summary = generate(2000, out, seed=1)
>>> summary["triples"] > 1500, sorted(p.name for p in (out / "graphs").iterdir())
(True, ['claims', 'entities', 'sources'])
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import pyoxigraph as ox

from server import paths
from server.pipeline.curate import proposition_slug  # one definition of a proposition IRI
from server.model.namespaces import ARKG, ID, PREFIXES, graph_iri

RDF, RDFS, XSD = PREFIXES["rdf"], PREFIXES["rdfs"], PREFIXES["xsd"]
SKOS, PROV, OA = PREFIXES["skos"], PREFIXES["prov"], PREFIXES["oa"]
SCHEMA, DCTERMS, OWL = PREFIXES["schema"], PREFIXES["dcterms"], PREFIXES["owl"]

GENERATOR_VERSION = 3  # bump when the output changes: bench/run.py regenerates older data
EXTERNAL = "http://example.org/synthetic-kb/"  # the example namespace of synthetic external links
TRIPLES_PER_CLAIM = 22.5  # measured average, entities and sources included; sizes the run

OBJECT_PREDICATES = ("visited", "arrivedFrom", "returnedTo", "basedIn", "fledTo", "attended", "invitedTo",
                     "hosted", "sponsored", "brokered", "endorsed", "opposed", "met", "contacted", "leads",
                     "spokespersonFor", "envoyOf", "officialOf", "memberOf", "represents", "controls",
                     "captured", "foughtAgainst", "hostileTo", "hasTiesTo")
LITERAL_PREDICATES = ("hadOutcome", "holdsTitle")
STANCES = (("Asserts", 0.78), ("ReportsUncertain", 0.08), ("Denies", 0.12), ("Questions", 0.02))
STANCE_VERBS = {"Asserts": "asserts", "ReportsUncertain": "reports uncertainly", "Denies": "denies",
                "Questions": "questions"}
KINDS = (("person", "Person", 0.40), ("organization", "Organization", 0.20), ("place", "Place", 0.25),
         ("event", "Event", 0.15))
WORDS = ("northern", "valley", "council", "front", "delegation", "provincial", "border", "talks", "envoy",
         "commander", "district", "resistance", "ministry", "summit", "mountain", "river", "alliance")


def _fits() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """Per claim predicate, the entity kinds its rdfs:domain and rdfs:range allow (from the ontology)."""
    from server.engine.dataset import dataset_files, load_store

    ontology = load_store([f for f in dataset_files() if f.graph == "ontology"])
    classes = {kind: cls for kind, cls, _ in KINDS}

    def allowed(predicate: str, prop: str) -> tuple[str, ...]:
        found = tuple(kind for kind, cls in classes.items() if ontology.query(
            f"ASK {{ {{ <{ARKG}{predicate}> <{RDFS}{prop}> ?c }} <{ARKG}{cls}> <{RDFS}subClassOf>* ?c }}",
            use_default_graph_as_union=True))
        return found or tuple(k for k in classes if k != "event")  # a union class (hasTiesTo: agents, groups, places)

    return {p: (allowed(p, "domain"), allowed(p, "range")) for p in OBJECT_PREDICATES + LITERAL_PREDICATES}


def N(iri: str) -> ox.NamedNode:
    return ox.NamedNode(iri)


def L(text: str, lang: str | None = None, datatype: str | None = None) -> ox.Literal:
    if lang:
        return ox.Literal(text, language=lang)
    return ox.Literal(text, datatype=N(datatype)) if datatype else ox.Literal(text)


TYPE, LABEL = N(RDF + "type"), N(RDFS + "label")


class Generator:
    """Builds the three graphs for ``claims`` claims; ``rng`` decides everything else."""

    def __init__(self, claims: int, seed: int):
        self.rng = random.Random(seed)
        self.n_claims = claims
        self.n_entities = max(40, claims // 8)
        self.n_articles = max(5, claims // 20)
        self.entities: list[tuple[str, str]] = []  # (iri, label)
        self.by_kind: dict[str, list[int]] = {k: [] for k, _, _ in KINDS}
        self.articles: list[tuple[str, str, str, list[str]]] = []  # iri, slug, headline, agent IRIs
        self.fits = _fits()

    def _entity(self, kinds: tuple[str, ...]) -> str:
        pool = [k for k in kinds if self.by_kind[k]]
        return self.entities[self.rng.choice(self.by_kind[self.rng.choice(pool)])][0]

    def _name(self, kind: str, i: int) -> str:
        words = self.rng.sample(WORDS, 2)
        return f"Synthetic {kind} {i} ({words[0]} {words[1]})"

    def _variants(self, label: str) -> list[str]:
        """Spelling variants as the real data has them: transliterations, a dropped qualifier."""
        base = label.split(" (")[0]
        swapped = base.replace("Synthetic", "Sintetic")
        return [swapped, base.replace(" ", "-", 1), base + " (variant)"]

    def entity_quads(self):
        g = N(graph_iri("entities"))
        kinds, weights = [k for k in KINDS], [w for _, _, w in KINDS]
        for i in range(self.n_entities):
            kind, cls, _ = self.rng.choices(kinds, weights)[0]
            iri = f"{ID}{kind}/bench-{kind}-{i:07d}"
            label = self._name(kind, i)
            self.by_kind[kind].append(len(self.entities))
            self.entities.append((iri, label))
            s = N(iri)
            yield ox.Quad(s, TYPE, N(ARKG + cls), g)
            yield ox.Quad(s, LABEL, L(label, "en"), g)
            yield ox.Quad(s, N(SKOS + "prefLabel"), L(label, "en"), g)
            for variant in self._variants(label)[:self.rng.randint(0, 3)]:
                yield ox.Quad(s, N(SKOS + "altLabel"), L(variant, "en"), g)
            if kind != "event" and self.rng.random() < 0.33:  # an example namespace, never a real id
                target = N(f"{EXTERNAL}{kind}/{i}")
                yield ox.Quad(s, N(SKOS + "exactMatch"), target, g)
                axiom = N(iri + "#link-synthetic")  # where it was "verified", as the shapes ask of every link
                yield ox.Quad(axiom, TYPE, N(OWL + "Axiom"), g)
                yield ox.Quad(axiom, N(OWL + "annotatedSource"), s, g)
                yield ox.Quad(axiom, N(OWL + "annotatedProperty"), N(SKOS + "exactMatch"), g)
                yield ox.Quad(axiom, N(OWL + "annotatedTarget"), target, g)
                yield ox.Quad(axiom, N(ARKG + "verifiedIn"), L("synthetic: the benchmark generator, not a reference table"), g)
            yield ox.Quad(s, N(SCHEMA + "description"),
                          L(f"Synthetic {kind} for the ARKG benchmark; not a real {kind}.", "en"), g)
        # Persons who speak for an organisation (data-model: prov:actedOnBehalfOf).
        orgs = self.by_kind["organization"]
        for i in self.by_kind["person"]:
            if orgs and self.rng.random() < 0.3:
                yield ox.Quad(N(self.entities[i][0]), N(PROV + "actedOnBehalfOf"),
                              N(self.entities[self.rng.choice(orgs)][0]), g)

    def source_quads(self):
        """Articles (graph ``sources``) and, interleaved, their anonymous agents (``entities``)."""
        sources, ents = N(graph_iri("sources")), N(graph_iri("entities"))
        orgs, persons = self.by_kind["organization"], self.by_kind["person"]
        for i in range(self.n_articles):
            slug = f"bench-article-{i:06d}"
            iri, headline = f"{ID}article/{slug}", f"Synthetic report {i} on the {' '.join(self.rng.sample(WORDS, 3))}"
            s = N(iri)
            yield ox.Quad(s, TYPE, N(SCHEMA + ("OpinionNewsArticle" if i % 7 == 0 else "NewsArticle")), sources)
            yield ox.Quad(s, LABEL, L(headline, "en"), sources)
            yield ox.Quad(s, N(SCHEMA + "headline"), L(headline, "en"), sources)
            yield ox.Quad(s, N(SCHEMA + "publisher"), N(self.entities[self.rng.choice(orgs)][0]), sources)
            for _ in range(self.rng.randint(0, 2)):
                yield ox.Quad(s, N(SCHEMA + "author"), N(self.entities[self.rng.choice(persons)][0]), sources)
            yield ox.Quad(s, N(SCHEMA + "inLanguage"), L("en"), sources)
            yield ox.Quad(s, N(SCHEMA + "description"), L(f"Synthetic article {i} for the ARKG benchmark.", "en"), sources)
            yield ox.Quad(s, N(ARKG + "sourceFile"), L(f"{i % 1000:03d}_{i:x}.txt"), sources)  # the seeds' NNN_hex.txt
            yield ox.Quad(s, N(ARKG + "sha256"), L(hashlib.sha256(slug.encode()).hexdigest(), datatype=XSD + "hexBinary"), sources)
            agents = []
            for a in range(self.rng.randint(0, 2)):
                agent = N(f"{ID}agent/{slug}-source-{a + 1}")
                agents.append(agent.value)
                yield ox.Quad(agent, TYPE, N(ARKG + "AnonymousAgent"), ents)
                yield ox.Quad(agent, TYPE, N(PROV + "Agent"), ents)
                yield ox.Quad(agent, LABEL, L(f"an unnamed source close to the {self.rng.choice(WORDS)} ({slug})", "en"), ents)
                yield ox.Quad(agent, N(SCHEMA + "description"), L("Synthetic anonymous speaker for the ARKG benchmark.", "en"), ents)
                yield ox.Quad(agent, N(DCTERMS + "source"), s, ents)
            self.articles.append((iri, slug, headline, agents))

    def claim_quads(self):
        g = N(graph_iri("claims"))
        stances, stance_weights = [s for s, _ in STANCES], [w for _, w in STANCES]
        speakers = self.by_kind["person"] + self.by_kind["organization"]
        seen: list[tuple[str, str, ox.NamedNode | ox.Literal]] = []
        for c in range(self.n_claims):
            article, slug, _, agents = self.articles[c % self.n_articles]
            number = c // self.n_articles + 1
            again = bool(seen) and self.rng.random() < 0.15  # the same s p o again, from another speaker
            if again:
                subject, predicate, obj = self.rng.choice(seen)
            else:  # a predicate, then a subject and object of the kinds its domain and range allow
                literal = self.rng.random() >= 0.8
                name = self.rng.choice(LITERAL_PREDICATES if literal else OBJECT_PREDICATES)
                predicate = ARKG + name
                domain, range_ = self.fits[name]
                subject = self._entity(domain)
                obj = (L(f"synthetic {self.rng.choice(WORDS)} {self.rng.randrange(1000)}") if literal
                       else N(self._entity(range_)))
                seen.append((subject, predicate, obj))
            if agents and self.rng.random() < 0.3:
                claimant = self.rng.choice(agents)
            else:
                claimant = self.entities[self.rng.choice(speakers)][0]
            if again:  # corroborated (Uncontested), denied (Contested) or hedged
                stance = self.rng.choices(("Asserts", "Denies", "ReportsUncertain"), (0.55, 0.3, 0.15))[0]
            else:  # alone: SingleSource, or OnlyDenied / OnlyQuestioned
                stance = self.rng.choices(stances, stance_weights)[0]
            claim = f"{ID}claim/{slug}-c{number:03d}"
            s = N(claim)
            ev, quote, position = N(claim + "#evidence"), N(claim + "#quote"), N(claim + "#position")
            short = lambda iri: iri.rsplit("/", 2)[-2] + "/" + iri.rsplit("/", 1)[-1]  # noqa: E731
            obj_text = short(obj.value) if isinstance(obj, ox.NamedNode) else repr(obj.value)
            yield ox.Quad(s, TYPE, N(ARKG + "Claim"), g)
            yield ox.Quad(s, LABEL, L(f"{short(claimant)} {STANCE_VERBS[stance]}: {short(subject)} "
                                      f"{predicate.rsplit('#', 1)[1]} {obj_text}", "en"), g)
            yield ox.Quad(s, N(RDF + "subject"), N(subject), g)
            yield ox.Quad(s, N(RDF + "predicate"), N(predicate), g)
            yield ox.Quad(s, N(RDF + "object"), obj, g)
            yield ox.Quad(s, N(ARKG + "claimant"), N(claimant), g)
            yield ox.Quad(s, N(ARKG + "stance"), N(ARKG + stance), g)
            yield ox.Quad(s, N(PROV + "wasDerivedFrom"), N(article), g)
            if self.rng.random() < 0.2:
                yield ox.Quad(s, N(ARKG + "eventTimeText"), L(self.rng.choice(("recently", "last week", "in September"))), g)
            yield ox.Quad(s, N(ARKG + "evidence"), ev, g)
            yield ox.Quad(s, N(ARKG + "aboutProposition"),
                          N(f"{ID}proposition/{proposition_slug(subject, predicate, obj)}"), g)
            start = self.rng.randrange(20000)
            exact = f"synthetic quote {c}: the {self.rng.choice(WORDS)} said it was so \u2019"
            yield ox.Quad(ev, TYPE, N(OA + "SpecificResource"), g)
            yield ox.Quad(ev, N(OA + "hasSource"), N(article), g)
            yield ox.Quad(ev, N(OA + "hasSelector"), quote, g)
            yield ox.Quad(ev, N(OA + "hasSelector"), position, g)
            yield ox.Quad(quote, TYPE, N(OA + "TextQuoteSelector"), g)
            yield ox.Quad(quote, N(OA + "exact"), L(exact), g)
            yield ox.Quad(quote, N(OA + "prefix"), L(f"text before claim {c} ".ljust(32, ".")[:32]), g)
            yield ox.Quad(quote, N(OA + "suffix"), L(f" text after claim {c}".ljust(32, ".")[:32]), g)
            yield ox.Quad(position, TYPE, N(OA + "TextPositionSelector"), g)
            yield ox.Quad(position, N(OA + "start"), L(str(start), datatype=XSD + "integer"), g)
            yield ox.Quad(position, N(OA + "end"), L(str(start + len(exact)), datatype=XSD + "integer"), g)

    def query_entities(self, n: int = 256) -> list[str]:
        """Entities the load client asks about: persons and organisations, the usual lookups."""
        pool = self.by_kind["person"] + self.by_kind["organization"]
        return [self.entities[i][0] for i in random.Random(1).sample(pool, min(n, len(pool)))]


def _write(path: Path, quads) -> int:
    count = 0

    def counted():
        nonlocal count
        for q in quads:
            count += 1
            yield q

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        ox.serialize(counted(), out, format=ox.RdfFormat.N_QUADS)
    return count


def generate(triples: int, out: Path, seed: int = 42) -> dict:
    """Write about ``triples`` triples under ``out`` (a new data directory); returns a summary."""
    check_target(out)
    started = time.monotonic()
    gen = Generator(max(10, round(triples / TRIPLES_PER_CLAIM)), seed)
    counts = {
        "entities": _write(out / "graphs" / "entities" / "bench.nq", gen.entity_quads()),
        "sources": 0,
    }
    # Articles (sources graph) and their anonymous agents (entities graph) come out together;
    # split them by graph into the two directories.
    src_quads = list(gen.source_quads())
    counts["sources"] = _write(out / "graphs" / "sources" / "bench.nq",
                               (q for q in src_quads if q.graph_name.value == graph_iri("sources")))
    counts["entities"] += _write(out / "graphs" / "entities" / "bench-agents.nq",
                                 (q for q in src_quads if q.graph_name.value == graph_iri("entities")))
    counts["claims"] = _write(out / "graphs" / "claims" / "bench.nq", gen.claim_quads())
    summary = {"generator": GENERATOR_VERSION, "seed": seed, "requested": triples, "triples": sum(counts.values()), "graphs": counts,
               "claims": gen.n_claims, "entities": gen.n_entities, "articles": gen.n_articles,
               "query_entities": gen.query_entities(), "seconds": round(time.monotonic() - started, 1)}
    (out / "queries.json").write_text(json.dumps(summary, indent=1))
    return summary


class SynthError(ValueError):
    """Where synthetic data must not go; the message says why."""


def check_target(out: Path) -> None:
    """Refuse to write into the published data: synthetic claims must never be mixed with it."""
    out, data = Path(out).resolve(), paths.data_root().resolve()
    published = [data / name for name in ("graphs", "ontology", "shapes")]
    if out == data or out in data.parents or any(p == out or p in out.parents for p in published):
        raise SynthError(f"{out} is the published data's directory (or holds it); synthetic data goes elsewhere")
    if (out / "graphs").exists() and any((out / "graphs").iterdir()):
        raise SynthError(f"{out}/graphs is not empty; choose a new directory")
