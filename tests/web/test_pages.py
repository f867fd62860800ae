"""Pages people read, and the whole dataset reachable: every page renders, every link leads on.

- every thing in the dataset (entities, agents, articles, comments, claims, propositions)
  answers 200 for its HTML page and each RDF form, and each RDF form parses;
- a linked-data client starting at an entity URI reaches every claim, speaker and article
  by following links (303s, then the IRIs in each document, then ``hydra:next`` pages);
- the home page, the ontology page and the query page say what they must;
- a label containing ``<script>`` in a copy of the data shows as text (XSS).
"""

from __future__ import annotations

import json
import re
import shutil
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from server import paths
from server.web.app import create_app
from server.settings import Settings

BASE = "https://w3id.org/arkg/"
PUBLIC = "http://testserver/"
ARKG = BASE + "ontology#"
HYDRA_NEXT = "http://www.w3.org/ns/hydra/core#next"
IN_DATASET = "http://rdfs.org/ns/void#inDataset"
RDF_FORMS = {"ttl": ox.RdfFormat.TURTLE, "jsonld": ox.RdfFormat.JSON_LD, "nt": ox.RdfFormat.N_TRIPLES,
             "rdf": ox.RdfFormat.RDF_XML}
CONTESTED = "bb56ac07ad9c934b"  # Ahmad Massoud attended the Tehran meeting: asserted and denied
THREADS = 4  # bounded concurrency for the walks; the pool has its own limit


def select(client, query: str) -> list[dict[str, str]]:
    r = client.get("/sparql", params={"query": query}, headers={"Accept": "application/sparql-results+json"})
    assert r.status_code == 200, r.text
    return [{k: v["value"] for k, v in row.items()} for row in r.json()["results"]["bindings"]]


def things_of(client) -> list[str]:
    """``kind/slug`` of every thing the dataset mentions (hash IRIs are parts of their documents)."""
    rows = select(client, f"""SELECT DISTINCT ?x WHERE {{ {{ ?x ?p ?o }} UNION {{ ?s ?p ?x }}
      FILTER(isIRI(?x) && STRSTARTS(STR(?x), "{BASE}id/") && !CONTAINS(STR(?x), "#")) }}""")
    return sorted(r["x"][len(BASE) + 3:] for r in rows)


@pytest.fixture(scope="module")
def things(client) -> list[str]:
    found = things_of(client)
    kinds = {t.split("/")[0] for t in found}
    assert {"person", "organization", "place", "event", "group", "agent", "article", "claim", "proposition"} <= kinds
    return found



def _own_static_script(script: dict) -> bool:
    """A script file from this server's /static/, with no inline code."""
    return bool(script["src"]) and script["src"].startswith(("/static/", PUBLIC + "static/")) and not script["text"].strip()

class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[dict] = []
        self._in_script: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name):
                self.links.append(attrs[name])
        if tag == "script":
            self._in_script = {"type": attrs.get("type"), "src": attrs.get("src"), "text": ""}

    def handle_data(self, data):
        if self._in_script is not None:
            self._in_script["text"] += data

    def handle_endtag(self, tag):
        if tag == "script" and self._in_script is not None:
            self.scripts.append(self._in_script)
            self._in_script = None


def parse_html(text: str) -> _Links:
    parser = _Links()
    parser.feed(text)
    return parser


# --- every page of every thing


def test_every_thing_has_an_html_page_and_rdf_forms(client, things):
    """HTML, JSON-LD, N-Triples and RDF/XML of every thing (Turtle: the linked-data test below)."""
    def check(thing: str) -> list[str]:
        problems = []
        r = client.get(f"/doc/{thing}.html")
        if r.status_code != 200 or not r.headers["content-type"].startswith("text/html"):
            return [f"{thing}.html: {r.status_code}"]
        page = parse_html(r.text)
        for ext in RDF_FORMS:  # every page links its RDF forms
            if f"{PUBLIC}doc/{thing}.{ext}" not in page.links:
                problems.append(f"{thing}.html does not link its .{ext} form")
        for ext, fmt in RDF_FORMS.items():
            if ext == "ttl":
                continue
            r = client.get(f"/doc/{thing}.{ext}")
            if r.status_code != 200:
                problems.append(f"{thing}.{ext}: {r.status_code}")
                continue
            triples = {ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(r.content, format=fmt)}
            topic = ox.Triple(ox.NamedNode(f"{BASE}doc/{thing}"), ox.NamedNode("http://xmlns.com/foaf/0.1/primaryTopic"),
                              ox.NamedNode(f"{BASE}id/{thing}"))
            if topic not in triples:
                problems.append(f"{thing}.{ext} does not say what it is about")
        return problems

    with ThreadPoolExecutor(THREADS) as pool:
        problems = [p for found in pool.map(check, things) for p in found]
    assert not problems, problems[:20]
    assert len(things) > 1000  # the whole dataset, not a sample


# --- a linked-data client follows links


def dereference(client, iri: str) -> tuple[int, str, list[str]]:
    """GET a thing's IRI (mapped to this server as w3id.org would) as a linked-data client.

    Follows the 303 and any ``hydra:next`` pages; returns the first status, where the 303
    pointed, and the IRIs of ours the documents mention.
    """
    first = client.get(iri.replace(BASE, PUBLIC, 1), headers={"Accept": "text/turtle"}, follow_redirects=False)
    if first.status_code != 303:
        return first.status_code, "", []
    mentioned, url, pages = [], first.headers["location"], 0
    while url and pages < 100:  # bounded: no document has that many pages
        triples = turtle(client, url)
        pages, url = pages + 1, None
        mentioned += ours(triples)
        for t in triples:
            if t.predicate.value == HYDRA_NEXT:
                url = t.object.value.replace(BASE, PUBLIC, 1)
            if t.predicate.value == IN_DATASET:
                mentioned.append(t.object.value)
    return first.status_code, first.headers["location"], mentioned


def turtle(client, url: str) -> list[ox.Triple]:
    r = client.get(url, headers={"Accept": "text/turtle"})
    assert r.status_code == 200, (url, r.status_code)
    return [ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(r.content, format=ox.RdfFormat.TURTLE)]


def ours(triples: list[ox.Triple]) -> list[str]:
    """The things of ours that triples mention (hash IRIs name parts of their things' documents)."""
    return [node.value.split("#", 1)[0] for t in triples for node in (t.subject, t.object)
            if isinstance(node, ox.NamedNode) and node.value.startswith(BASE + "id/")]


def test_linked_data_client_reaches_every_claim_speaker_and_article_from_any_entity(client, things):
    """Dereference every thing once (303, Turtle, next pages), then search the link graph from each entity."""
    iris = [BASE + "id/" + t for t in things]
    with ThreadPoolExecutor(THREADS) as pool:
        results = dict(zip(iris, pool.map(lambda iri: dereference(client, iri), iris)))
    bad = [(iri, status, loc) for iri, (status, loc, _) in results.items()
           if status != 303 or loc != iri.replace(BASE + "id/", PUBLIC + "doc/", 1) + ".ttl"]
    assert not bad, bad[:10]
    links = {iri: set(mentioned) for iri, (_, _, mentioned) in results.items()}
    # Documents name the dataset they belong to (void:inDataset); its VoID description links on.
    datasets = {m for ms in links.values() for m in ms if not m.startswith(BASE + "id/")}
    assert datasets == {BASE + ".well-known/void#dataset"}
    for dataset in datasets:
        links[dataset] = set(ours(turtle(client, dataset.split("#", 1)[0].replace(BASE, PUBLIC, 1))))

    claims = {r["c"] for r in select(client, f"SELECT DISTINCT ?c WHERE {{ ?c a <{ARKG}Claim> }}")}
    speakers = {r["s"] for r in select(client, f"SELECT DISTINCT ?s WHERE {{ ?c <{ARKG}claimant> ?s }}")}
    articles = {r["a"] for r in select(client, "SELECT DISTINCT ?a WHERE { ?a a ?t "
                                               "VALUES ?t { <http://schema.org/NewsArticle> <http://schema.org/OpinionNewsArticle> } }")}
    assert len(claims) > 400 and len(articles) == 5 and len(speakers) > 20
    wanted = claims | speakers | articles
    entities = [iri for iri in iris if iri[len(BASE) + 3:].split("/")[0] in ("person", "organization", "place", "event", "group")]
    assert len(entities) > 100
    for start in entities:
        reached, queue = {start}, deque([start])
        while queue:
            for other in links.get(queue.popleft(), ()):
                if other not in reached:
                    reached.add(other)
                    queue.append(other)
        missing = wanted - reached
        assert not missing, (start, sorted(missing)[:10])


# --- what the pages say


def test_entity_page(client):
    r = client.get("/doc/person/ahmad-massoud.html")
    text = r.text
    assert "<h1>Ahmad Massoud</h1>" in text
    for variant in ("Masud", "Massood", "Maasod"):  # spelling variants
        assert variant in text
    assert "Leader of the National Resistance Front of Afghanistan" in text
    assert "Claims about Ahmad Massoud" in text and "Claims made by Ahmad Massoud" in text
    # A contested proposition shows who asserts and who denies, with the quote.
    assert "Asserted or reported" in text and "Denied" in text
    assert "denied that Massoud was there" in text
    assert 'href="http://testserver/doc/person/habibullah-hesam.html"' in text
    assert "https://w3id.org/arkg/id/person/ahmad-massoud" in text


def test_entity_page_external_links(client):
    text = client.get("/doc/person/joe-biden.html").text
    assert 'href="http://www.wikidata.org/entity/Q6279"' in text
    assert 'href="http://dbpedia.org/resource/Joe_Biden"' in text
    assert "verified in" in text


def test_proposition_page_who_says_what(client):
    row = select(client, f"""SELECT ?p WHERE {{ ?c <{ARKG}aboutProposition> ?p ; <{ARKG}stance> <{ARKG}Denies> ;
      <http://www.w3.org/1999/02/22-rdf-syntax-ns#subject> <{BASE}id/person/ahmad-massoud> ;
      <http://www.w3.org/1999/02/22-rdf-syntax-ns#object> <{BASE}id/event/tehran-meeting> }} LIMIT 1""")[0]
    slug = row["p"].rsplit("/", 1)[1]
    text = client.get(f"/doc/proposition/{slug}.html").text
    assert "Who says what" in text
    assert re.search(r"Ahmad Massoud</a> <em>attended</em> <a [^>]+>Tehran meeting</a>", text)
    assert "Asserted or reported (5)" in text and "Denied (2)" in text
    assert "Habibullah Hesam" in text and "Ali Nazari" in text and "TRT World" in text
    # the derived graph's numbers, in words
    assert re.search(r"7 claims by \d+ speakers,\s+resting on \d+ independent sources:\s+\d+ for, \d+ against", text)


def test_claim_page_shows_evidence_in_context(client):
    text = client.get("/doc/claim/trt-tehran-talks-c001.html").text
    assert "<mark>It was recently Tehran&#39;s turn to host peace talks</mark>" in text
    assert "Characters 17–66" in text
    assert "TRT World" in text and "asserts" in text
    assert 'id="evidence"' in text


def test_article_page_lists_claims_in_text_order_and_speakers(client):
    text = client.get("/doc/article/trt-tehran-talks.html").text
    starts = [int(m) for m in re.findall(r"characters (\d+)–\d+", text)]
    assert len(starts) > 100 and starts == sorted(starts)
    assert "Speakers" in text and "a former Afghan government official" in text
    assert "2022-01-26" in text and "c67ef62d2c51870ba832b2341238b7e8b16019b15b23d37234273e1ec108c87d" in text


def test_speaker_page_lists_their_claims(client):
    text = client.get("/doc/agent/trt-tehran-talks-former-afghan-government-official.html").text
    assert "Claims made by a former Afghan government official" in text
    assert text.count('class="claim ') >= 10


def test_comment_page(client):
    text = client.get("/doc/comment/southfront-panjshir-willing-to-negotiate-k01.html").text
    assert "The Black terror" in text and "Just think of Ahmad Massood" in text


def test_home_page(client):
    r = client.get("/")
    assert r.status_code == 200
    text = r.text
    claims = select(client, f"SELECT (COUNT(DISTINCT ?c) AS ?n) WHERE {{ ?c a <{ARKG}Claim> }}")[0]["n"]
    assert f"<dt>Claims</dt><dd>{claims}</dd>" in text
    for figure in ("Propositions", "Contested", "Uncontested", "Entities", "Articles"):
        assert f"<dt>{figure}</dt>" in text
    page = parse_html(text)
    for target in ("dumps/", ".well-known/void", ".well-known/sparql-examples", "sparql", "query", "ontology"):
        assert PUBLIC + target in page.links, target
    assert "https://creativecommons.org/licenses/by/4.0/" in page.links
    assert "Please cite" in text
    dataset = [json.loads(s["text"]) for s in page.scripts if s["type"] == "application/ld+json"]
    assert len(dataset) == 1
    assert dataset[0]["@type"] == "Dataset" and dataset[0]["license"] == "https://creativecommons.org/licenses/by/4.0/"
    assert dataset[0]["name"].startswith("ARKG")
    # The page loads nothing from another host and needs no script to work: the one script is
    # the search box's optional type-ahead, served from this host (tests/web/test_search.py
    # checks the box works without it).
    assert not [s for s in page.scripts if s["type"] != "application/ld+json" and not _own_static_script(s)]
    assert re.findall(r'<link rel="stylesheet" href="([^"]+)"', text) == [PUBLIC + "static/arkg.css"]
    assert all(src.startswith(PUBLIC) for src in re.findall(r' src="([^"]+)"', text))


def test_example_queries_appear_on_home_and_query_pages(client):
    examples = select(client, f"""SELECT ?ex ?label WHERE {{ GRAPH <{BASE}graph/examples> {{
      ?ex a <http://www.w3.org/ns/shacl#SPARQLExecutable> ; <http://www.w3.org/2000/01/rdf-schema#label> ?label }} }}""")
    if not examples:
        pytest.skip("the examples graph holds no sh:SPARQLExecutable yet (published by the dumps-and-metadata work)")
    home, query = client.get("/").text, client.get("/query").text
    for ex in examples:
        label = str(escape(ex["label"]))
        assert label in home and label in query, ex["label"]


def test_every_example_runs_from_the_query_page(client):
    page = parse_html(client.get("/query").text)
    runs = [link for link in page.links if link.startswith(PUBLIC + "query?query=")]
    if not runs:
        pytest.skip("no example queries published yet")
    for link in runs:
        r = client.get(link.replace(PUBLIC, "/", 1))
        assert r.status_code == 200, (link, r.text[:500])
        assert 'class="result-summary"' in r.text and 'role="alert"' not in r.text


def test_ontology_page_documents_every_term(client):
    terms = {r["t"][len(ARKG):] for r in select(client, f"""SELECT DISTINCT ?t WHERE {{ GRAPH <{BASE}graph/ontology> {{
      ?t ?p ?o FILTER(STRSTARTS(STR(?t), "{ARKG}")) }} }}""")}
    r = client.get("/ontology", headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-location"] == PUBLIC + "ontology.html"
    page = parse_html(r.text)
    assert terms and not terms - page.ids, sorted(terms - page.ids)
    claims = select(client, f"SELECT (COUNT(*) AS ?n) WHERE {{ ?c a <{ARKG}Claim> }}")[0]["n"]
    section = r.text.split('id="Claim"', 1)[1].split("</section>", 1)[0]
    assert f"{claims} instances" in section
    visited = r.text.split('id="visited"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"\d+ claims? as the relation", visited)
    # Links to terms from other pages land on these anchors.
    assert 'href="http://testserver/ontology#attended"' in client.get("/doc/claim/trt-tehran-talks-c015.html").text


@pytest.mark.parametrize("accept, media, fmt", [
    ("text/turtle", "text/turtle", ox.RdfFormat.TURTLE),
    ("application/ld+json", "application/ld+json", ox.RdfFormat.JSON_LD),
    ("application/rdf+xml", "application/rdf+xml", ox.RdfFormat.RDF_XML),
    ("application/n-triples", "application/n-triples", ox.RdfFormat.N_TRIPLES),
])
def test_ontology_owl_by_content_negotiation(client, accept, media, fmt):
    r = client.get("/ontology", headers={"Accept": accept})
    assert r.status_code == 200 and r.headers["content-type"].startswith(media)
    assert "accept" in r.headers["vary"].lower()
    triples = {ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(r.content, format=fmt)}
    assert ox.Triple(ox.NamedNode(BASE + "ontology"), ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"),
                     ox.NamedNode("http://www.w3.org/2002/07/owl#Ontology")) in triples
    same = client.get(f"/ontology.{r.headers['content-location'].rsplit('.', 1)[1]}")
    assert same.headers["content-type"] == r.headers["content-type"]
    assert len(list(ox.parse(same.content, format=fmt))) == len(triples)  # blank node labels vary
    assert client.get("/ontology.exe").status_code == 404


def test_sparql_serves_the_query_page_to_browsers_only(client):
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    r = client.get("/sparql", headers={"Accept": browser})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<textarea id="query-text" name="query"' in r.text
    for accept in ("text/turtle", "*/*", None):
        r = client.get("/sparql", headers={"Accept": accept} if accept else {})
        assert r.headers["content-type"].startswith("text/turtle"), accept  # the Service Description


def test_query_page_results_downloads_and_share_link(client):
    query = f"SELECT ?name WHERE {{ <{BASE}id/person/ahmad-massoud> <http://www.w3.org/2000/01/rdf-schema#label> ?name }}"
    r = client.get("/query", params={"query": query})
    assert r.status_code == 200
    assert "<td>Ahmad Massoud<span" in r.text or "<td>Ahmad Massoud</td>" in r.text
    assert re.search(r"1 row\s+in", r.text)
    page = parse_html(r.text)
    for fmt in ("json", "xml", "csv", "tsv"):
        link = f"{PUBLIC}sparql?{urlencode({'query': query, 'format': fmt})}"
        assert link in page.links, fmt
        download = client.get(link.replace(PUBLIC, "/", 1))
        assert download.status_code == 200 and "Ahmad Massoud" in download.text
    assert f"{PUBLIC}query?{urlencode({'query': query})}" in page.links  # shareable
    assert query.replace("<", "&lt;").replace(">", "&gt;") in r.text  # in the editor


def test_query_page_construct_and_ask(client):
    construct = f"CONSTRUCT {{ <{BASE}id/person/ahmad-massoud> ?p ?o }} WHERE {{ <{BASE}id/person/ahmad-massoud> ?p ?o }}"
    r = client.get("/query", params={"query": construct})
    assert r.status_code == 200 and "<th>subject</th>" in r.text
    assert f"{PUBLIC}sparql?{urlencode({'query': construct, 'format': 'ttl'})}" in parse_html(r.text).links
    r = client.get("/query", params={"query": "ASK { ?s ?p ?o }"})
    assert "ASK answered <strong>yes (true)</strong>" in r.text


@pytest.mark.parametrize("query, status, message", [
    ("SELEC * WHERE { ?s ?p ?o }", 400, "SPARQL"),
    ("DROP ALL", 403, "read-only"),
    ("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }", 400, "SERVICE"),
])
def test_query_page_explains_errors(client, query, status, message):
    r = client.get("/query", params={"query": query})
    assert r.status_code == status
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', r.text, re.S)
    assert alert and message in alert.group(1), r.text[-3000:]
    assert '<textarea id="query-text"' in r.text  # the query stays in the editor to fix


def test_stylesheet_is_ours(client):
    r = client.get("/static/arkg.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert "http" not in r.text  # no imports of fonts or images from anywhere


# --- escaping


@pytest.fixture(scope="module")
def altered_client(tmp_path_factory):
    """The real app over a copy of the data in which a label, a description and a quote carry markup,
    with a derived status and an `asserted` triple."""
    root = tmp_path_factory.mktemp("hostile")
    for name in ("ontology", "graphs", "shapes"):
        shutil.copytree(paths.data_root() / name, root / name)
    entities = root / "graphs" / "entities" / "entities.ttl"
    text = entities.read_text(encoding="utf-8")
    text = text.replace('rdfs:label "Ahmad Massoud"@en', 'rdfs:label "Ahmad <script>alert(1)</script> Massoud"@en', 1)
    text = text.replace('schema:description "Leader of the National',
                        'schema:description "<img src=x onerror=alert(2)> Leader of the National', 1)
    entities.write_text(text, encoding="utf-8")
    claims = root / "graphs" / "claims" / "trt-tehran-talks.ttl"
    claims.write_text(claims.read_text(encoding="utf-8").replace(
        'oa:exact "It was recently Tehran\'s turn to host peace talks"',
        'oa:exact "</blockquote><script>alert(3)</script>"', 1), encoding="utf-8")
    # Derived views as the derivation writes them (if it has not yet): a status and an uncontested triple.
    for graph, turtle_text in (
            ("derived", f"<{BASE}id/proposition/{CONTESTED}> a <{ARKG}Proposition> ; <{ARKG}status> <{ARKG}Contested> ."),
            ("asserted", f"<{BASE}id/person/ahmad-massoud> <{ARKG}visited> <{BASE}id/place/kabul> .")):
        (root / "graphs" / graph).mkdir(exist_ok=True)
        (root / "graphs" / graph / "zz-test-pages.ttl").write_text(turtle_text + "\n", encoding="utf-8")
    app = create_app(Settings(data_dir=Path(root), query_workers=1, query_timeout=10, public_url=PUBLIC, rate_limit=False))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("path", ["/doc/person/ahmad-massoud.html", "/doc/claim/trt-tehran-talks-c015.html",
                                  "/doc/claim/trt-tehran-talks-c001.html", "/doc/article/trt-tehran-talks.html", "/",
                                  "/query?" + urlencode({"query": f"SELECT ?l WHERE {{ <{BASE}id/person/ahmad-massoud> "
                                                                  "<http://www.w3.org/2000/01/rdf-schema#label> ?l }"})])
def test_markup_in_the_data_shows_as_text(altered_client, path):
    r = altered_client.get(path)
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "<img src=x" not in r.text and "</blockquote><script>" not in r.text
    page = parse_html(r.text)
    assert all(s["type"] == "application/ld+json" or _own_static_script(s) for s in page.scripts)
    if "ahmad-massoud" in path or path.endswith("c015.html"):
        assert "Ahmad &lt;script&gt;alert(1)&lt;/script&gt; Massoud" in r.text
    if path.endswith("c001.html"):
        assert "&lt;/blockquote&gt;&lt;script&gt;alert(3)&lt;/script&gt;" in r.text


def test_derived_status_and_uncontested_triples_are_shown_as_such(altered_client):
    text = altered_client.get(f"/doc/proposition/{CONTESTED}.html").text
    assert '<span class="status status-Contested">contested</span>' in text
    home = altered_client.get("/").text
    assert re.search(r"<dt>Contested</dt><dd>[1-9]\d*</dd>", home)
    entity = altered_client.get("/doc/person/ahmad-massoud.html").text
    rows = [part.split("</tr>", 1)[0] for part in entity.split('href="http://testserver/ontology#visited"')[1:]]
    assert any("Kabul" in row and "uncontested in this corpus" in row for row in rows)


def test_home_page_etag_follows_the_dumps(tmp_path):
    """The home page lists the dumps: a cached copy from before they existed (or after they
    went) must not be confirmed with 304."""
    from server.model.build_layout import BuildLayout
    from server.publish import build as builder

    area = tmp_path / "build"
    builder.build(area, validate=False, stages=[s for s in builder.STAGES if s.name in ("derive", "store", "statistics", "dumps", "void")])
    settings = Settings(query_timeout=5, query_workers=1, public_url="http://testserver/", rate_limit=False,
                        build_dir=area)
    with TestClient(create_app(settings)) as c:
        with_dumps = c.get("/")
        version = c.app.state.backend.info.version
        assert f"dumps/{version}/" in with_dumps.text
        shutil.rmtree(BuildLayout.of(area, version).dumps / version)
        again = c.get("/", headers={"If-None-Match": with_dumps.headers["ETag"]})
        assert again.status_code == 200 and again.headers["ETag"] != with_dumps.headers["ETag"]
        assert f"dumps/{version}/" not in again.text
        assert c.get("/", headers={"If-None-Match": again.headers["ETag"]}).status_code == 304
