"""Dereferenceable URIs: 303 See Other by content negotiation, documents, 404/406/400, public URL, ETags."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from server.settings import get_settings

BASE = "https://w3id.org/arkg/"
FOAF = "http://xmlns.com/foaf/0.1/"
DCTERMS = "http://purl.org/dc/terms/"
HYDRA = "http://www.w3.org/ns/hydra/core#"
PERSON = "person/ahmad-massoud"
CLAIM = "claim/trt-tehran-talks-c001"
BIG = "article/trt-tehran-talks"  # hundreds of claims point at it: more than one page
MEDIA = {"html": "text/html", "ttl": "text/turtle", "jsonld": "application/ld+json",
         "nt": "application/n-triples", "rdf": "application/rdf+xml"}
OX = {"ttl": ox.RdfFormat.TURTLE, "jsonld": ox.RdfFormat.JSON_LD, "nt": ox.RdfFormat.N_TRIPLES,
      "rdf": ox.RdfFormat.RDF_XML}


def parse(response, ext: str) -> set[ox.Triple]:
    return {ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(response.content, format=OX[ext])}


@pytest.mark.parametrize("accept, ext", [
    ("text/turtle", "ttl"),
    ("application/ld+json", "jsonld"),
    ("application/n-triples", "nt"),
    ("application/rdf+xml", "rdf"),
    ("text/html", "html"),
    (None, "html"),  # documented default
    ("*/*", "html"),
    ("text/turtle;q=0.5, application/ld+json", "jsonld"),
    ("application/rdf+xml;q=0.9, text/turtle;q=0.95, */*;q=0.1", "ttl"),
    ("application/*", "jsonld"),
    ("text/html;q=0, text/*", "ttl"),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "html"),  # a browser
])
def test_thing_uri_redirects_303_by_accept(client, accept, ext):
    headers = {"Accept": accept} if accept is not None else {}
    for method in ("GET", "HEAD"):
        r = client.request(method, f"/id/{PERSON}", headers=headers, follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == f"http://testserver/doc/{PERSON}.{ext}"
        assert "accept" in r.headers["vary"].lower()


def test_redirect_target_serves_the_chosen_format(client):
    r = client.get(f"/id/{PERSON}", headers={"Accept": "application/n-triples"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/n-triples")
    assert ox.Triple(ox.NamedNode(BASE + "doc/" + PERSON), ox.NamedNode(FOAF + "primaryTopic"),
                     ox.NamedNode(BASE + "id/" + PERSON)) in parse(r, "nt")


@pytest.mark.parametrize("ext", list(MEDIA))
def test_suffixed_documents(client, ext):
    r = client.get(f"/doc/{CLAIM}.{ext}")
    assert r.status_code == 200
    assert r.headers["content-type"].split(";")[0] == MEDIA[ext]
    assert r.headers["etag"]
    assert "content-location" not in r.headers
    if ext != "html":
        triples = parse(r, ext)
        assert ox.Triple(ox.NamedNode(BASE + "doc/" + CLAIM), ox.NamedNode(FOAF + "primaryTopic"),
                         ox.NamedNode(BASE + "id/" + CLAIM)) in triples


@pytest.mark.parametrize("accept, ext", [("text/turtle", "ttl"), ("application/ld+json", "jsonld"),
                                         (None, "html"), ("application/rdf+xml", "rdf")])
def test_unsuffixed_document_negotiates_with_content_location(client, accept, ext):
    r = client.get(f"/doc/{PERSON}", headers={"Accept": accept} if accept else {})
    assert r.status_code == 200
    assert r.headers["content-location"] == f"http://testserver/doc/{PERSON}.{ext}"
    assert "accept" in r.headers["vary"].lower()
    assert r.headers["content-type"].split(";")[0] == MEDIA[ext]


def test_claim_document_holds_evidence_labels_and_metadata(client):
    triples = parse(client.get(f"/doc/{CLAIM}.nt"), "nt")
    subjects = {t.subject.value for t in triples}
    for fragment in ("#evidence", "#quote", "#position"):
        assert BASE + "id/" + CLAIM + fragment in subjects
    exact = [t.object.value for t in triples if t.predicate.value == "http://www.w3.org/ns/oa#exact"]
    assert exact == ["It was recently Tehran's turn to host peace talks"]
    labels = {t.subject.value: t.object.value for t in triples
              if t.predicate.value == "http://www.w3.org/2000/01/rdf-schema#label"}
    assert labels[BASE + "id/organization/trt-world"] == "TRT World"  # the claimant, mentioned
    assert labels[BASE + "ontology#hosted"] == "hosted"  # the relation
    doc = ox.NamedNode(BASE + "doc/" + CLAIM)
    formats = {t.object.value for t in triples if t.subject == doc and t.predicate.value == DCTERMS + "hasFormat"}
    assert formats == {f"{BASE}doc/{CLAIM}.{ext}" for ext in MEDIA}
    assert ox.Triple(doc, ox.NamedNode(DCTERMS + "license"),
                     ox.NamedNode("https://creativecommons.org/licenses/by/4.0/")) in triples


def test_entity_document_holds_what_points_at_it(client):
    triples = parse(client.get("/doc/person/joe-biden.ttl"), "ttl")
    me = ox.NamedNode(BASE + "id/person/joe-biden")
    assert ox.Triple(me, ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs"),
                     ox.NamedNode("http://www.wikidata.org/entity/Q6279")) in triples
    pointing = {t.subject.value for t in triples if t.object == me}
    assert any(s.startswith(BASE + "id/claim/") for s in pointing)
    assert BASE + "id/person/joe-biden#link-wikidata" in {t.subject.value for t in triples}


def test_large_document_is_paginated(client):
    first = client.get(f"/doc/{BIG}.ttl")
    assert first.status_code == 200
    assert 'rel="next"' in first.headers["link"]
    triples = parse(first, "ttl")
    doc = ox.NamedNode(BASE + "doc/" + BIG)
    nexts = [t.object.value for t in triples if t.subject == doc and t.predicate.value == HYDRA + "next"]
    assert nexts == [f"{BASE}doc/{BIG}?page=2"]
    last = [t.object.value for t in triples if t.subject == doc and t.predicate.value == HYDRA + "last"][0]
    pages = int(last.rsplit("=", 1)[1])
    me = ox.NamedNode(BASE + "id/" + BIG)

    def pointing(ts):  # data triples pointing at the article (the documents' own metadata aside)
        return {t for t in ts if t.object == me and t.predicate.value != FOAF + "primaryTopic"}

    seen = pointing(triples)
    for page in range(2, pages + 1):
        r = client.get(f"/doc/{BIG}", params={"page": page}, headers={"Accept": "text/turtle"})
        assert r.status_code == 200
        assert r.headers["content-location"] == f"http://testserver/doc/{BIG}.ttl?page={page}"
        page_triples = parse(r, "ttl")
        page_doc = ox.NamedNode(f"{BASE}doc/{BIG}?page={page}")
        assert ox.Triple(page_doc, ox.NamedNode(FOAF + "primaryTopic"), me) in page_triples
        assert ox.Triple(page_doc, ox.NamedNode(HYDRA + "previous"),
                         ox.NamedNode(f"{BASE}doc/{BIG}" + (f"?page={page - 1}" if page > 2 else ""))) in page_triples
        seen |= pointing(page_triples)
    # Every triple pointing at the article, over all pages, exactly as the endpoint counts them.
    count = client.get("/sparql", params={"query": f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?s ?p "
                                                     f"WHERE {{ ?s ?p <{me.value}> }} }}"},
                       headers={"Accept": "text/csv"}).text.split()[1]
    assert len(seen) == int(count)
    assert client.get(f"/doc/{BIG}.ttl", params={"page": pages + 1}).status_code == 404


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5"])
def test_bad_page_is_400(client, page):
    r = client.get(f"/doc/{BIG}.ttl", params={"page": page})
    assert r.status_code == 400
    assert "page" in r.text


@pytest.mark.parametrize("path", [
    "/id/person/nobody-at-all", "/doc/person/nobody-at-all", "/doc/person/nobody-at-all.ttl",
    "/id/spaceship/ahmad-massoud", "/doc/spaceship/ahmad-massoud.html",
    "/id/person/Ahmad-Massoud", "/id/person/ahmad_massoud", "/id/person/%2E%2E", "/doc/person/..%2Fetc.ttl",
    "/id/person/ahmad%2Fmassoud", "/id/person/ahmad-massoud/extra", "/doc/person/ahmad-massoud.exe",
    "/id/person/ahmad-massoud.ttl", "/id/person/", "/id/claim/trt-tehran-talks-c001%23evidence",
])
def test_unknown_or_malformed_is_404(client, path):
    for method in ("GET", "HEAD"):
        r = client.request(method, path, headers={"Accept": "text/turtle"}, follow_redirects=False)
        assert r.status_code == 404, (method, path, r.text)


def test_404_is_a_short_page_for_browsers_and_text_for_others(client):
    r = client.get("/id/person/nobody-at-all", headers={"Accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "https://w3id.org/arkg/id/person/nobody-at-all" in r.text and len(r.text) < 2000
    r = client.get("/id/spaceship/x", headers={"Accept": "text/turtle"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
    assert "Kinds: person" in r.text


def test_overlong_slug_is_400(client):
    r = client.get("/id/person/" + "a" * 5000)
    assert r.status_code == 400
    assert "at most" in r.text


@pytest.mark.parametrize("path", [f"/id/{PERSON}", f"/doc/{PERSON}"])
def test_nothing_acceptable_is_406(client, path):
    r = client.get(path, headers={"Accept": "image/png, application/pdf"}, follow_redirects=False)
    assert r.status_code == 406
    assert "text/turtle" in r.text  # says what is offered


@pytest.mark.parametrize("path", [f"/doc/{PERSON}.ttl", f"/doc/{PERSON}.html", "/ontology.ttl", "/"])
def test_etag_and_304(client, path):
    first = client.get(path)
    etag = first.headers["etag"]
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": 'W/"other"'}).status_code == 200
    head = client.head(path)
    assert head.status_code == 200 and head.headers["etag"] == etag and head.content == b""


def test_negotiated_and_suffixed_forms_have_distinct_etags(client):
    tags = {client.get(f"/doc/{PERSON}.{ext}").headers["etag"] for ext in MEDIA}
    assert len(tags) == len(MEDIA)


def test_public_url_maps_onto_the_canonical_base(app, client, settings):
    """Behind a proxy at another URL: redirects and HTML links use it; RDF keeps canonical IRIs."""
    public = "https://arkg.example.org/data/"
    app.dependency_overrides[get_settings] = lambda: settings.model_copy(update={"public_url": public})
    try:
        r = client.get(f"/id/{PERSON}", headers={"Accept": "text/turtle"}, follow_redirects=False)
        assert r.headers["location"] == f"{public}doc/{PERSON}.ttl"
        r = client.get(f"/doc/{PERSON}", headers={"Accept": "application/ld+json"})
        assert r.headers["content-location"] == f"{public}doc/{PERSON}.jsonld"
        assert f"<{public}doc/{PERSON}.ttl>" in r.headers["link"]
        page = client.get(f"/doc/{CLAIM}.html").text
        assert f'href="{public}doc/organization/trt-world.html"' in page
        assert f'href="{public}static/arkg.css"' in page
        assert "testserver" not in page
        home = client.get("/").text
        assert f'href="{public}sparql"' in home and f'href="{public}dumps/"' in home
        assert f'href="{public}.well-known/void"' in home
        turtle = client.get(f"/doc/{PERSON}.ttl").text
        assert "arkg.example.org" not in turtle and "https://w3id.org/arkg/" in turtle
    finally:
        app.dependency_overrides[get_settings] = lambda: settings
    assert client.get(f"/id/{PERSON}", follow_redirects=False).headers["location"].startswith("http://testserver/")
