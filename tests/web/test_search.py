"""/search, /search/quotes and /opensearch.xml over HTTP, and the header's type-ahead in a real Chromium."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from server.model.namespaces import ID
from server.settings import Settings
from server.web.app import create_app

MASSOUD = ID + "person/ahmad-massoud"
JSON = {"Accept": "application/json"}


def test_json_is_shaped_like_wbsearchentities(client):
    r = client.get("/search", params={"q": "Masud", "limit": 3}, headers=JSON)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["searchinfo"]["search"] == "Masud" and body["success"] == 1
    assert len(body["search"]) == 3 and body["search-continue"] == 3
    first = body["search"][0]
    assert {"id", "concepturi", "url", "label", "description", "match", "aliases"} <= set(first)
    assert first["concepturi"] == MASSOUD and first["id"] == "person/ahmad-massoud"
    assert first["url"] == "http://testserver/doc/person/ahmad-massoud.html"
    assert first["label"] == "Ahmad Massoud" and first["description"].startswith("Leader of the National Resistance")
    assert first["match"] == {"type": "alias", "language": "en", "text": "Masud"} and first["aliases"] == ["Masud"]
    assert first["type"] == "person" and first["claims"] > 100
    assert client.get(first["url"]).status_code == 200  # the link resolves


def test_format_json_and_continuation(client):
    first = client.get("/search", params={"q": "panjshir", "format": "json", "limit": 2}).json()
    second = client.get("/search", params={"q": "panjshir", "format": "json", "limit": 2,
                                           "page": 2}).json()
    assert first["search-continue"] == 2
    assert not {h["id"] for h in first["search"]} & {h["id"] for h in second["search"]}
    places = client.get("/search", params={"q": "panjshir", "format": "json", "type": "place", "limit": 5}).json()
    assert [h["id"] for h in places["search"]][:2] == ["place/panjshir-province", "place/panjshir-valley"]
    assert {h["type"] for h in places["search"]} == {"place"}


def test_wikidata_parameters_search_and_continue(client):
    first = client.get("/search", params={"search": "panjshir", "format": "json", "limit": 2}).json()
    again = client.get("/search", params={"search": "panjshir", "format": "json", "limit": 2,
                                          "continue": first["search-continue"]}).json()
    page2 = client.get("/search", params={"q": "panjshir", "format": "json", "limit": 2, "page": 2}).json()
    assert again["search"] == page2["search"] and again["search"]
    assert client.get("/search", params={"q": "x", "format": "json", "limit": 2, "continue": 3}).status_code == 400


def test_label_match_has_no_aliases(client):
    hit = client.get("/search", params={"q": "Amrullah Saleh", "format": "json"}).json()["search"][0]
    assert hit["match"]["type"] == "label" and "aliases" not in hit


def test_html_results_show_label_type_spelling_description_and_claims(client):
    r = client.get("/search", params={"q": "Maasod"}, headers={"Accept": "text/html"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    first = r.text.split('<ol class="search-results"', 1)[1].split("</li>", 1)[0]
    assert 'href="http://testserver/doc/person/ahmad-massoud.html">Ahmad Massoud</a>' in first
    assert "person" in first and "“Maasod”" in first and "claims" in first and "Leader of the National" in first


def test_search_page_without_query_is_the_form(client):
    r = client.get("/search")
    assert r.status_code == 200 and 'name="q"' in r.text


def test_quotes_link_to_their_claims(client):
    body = client.get("/search/quotes", params={"q": "Ali Nazari also claimed that Massoud did not attend",
                                                "format": "json"}).json()
    first = body["search"][0]
    assert "Ali Nazari also claimed that Massoud did not attend" in first["quote"]
    assert first["url"].startswith("http://testserver/doc/claim/")
    assert client.get(first["url"]).status_code == 200
    assert any(part["match"] and part["text"] == "Nazari" for part in first["snippet"])
    html = client.get("/search/quotes", params={"q": "did not attend"}).text
    assert "<mark>attend</mark>" in html and 'href="http://testserver/doc/claim/' in html


def test_header_search_box_on_every_page(client):
    for path in ("/", "/doc/person/ahmad-massoud.html", "/ontology", "/search?q=x"):
        html = client.get(path, headers={"Accept": "text/html"}).text
        assert '<form class="site-search" role="search" method="get" action="http://testserver/search"' in html, path
        assert 'rel="search" type="application/opensearchdescription+xml"' in html
        assert '<script src="http://testserver/static/search.js" defer>' in html
    js = client.get("/static/search.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")


def test_opensearch_description(client):
    r = client.get("/opensearch.xml")
    assert r.headers["content-type"].startswith("application/opensearchdescription+xml")
    root = ET.fromstring(r.content)
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    templates = {u.get("type"): u.get("template") for u in root.findall("os:Url", ns)}
    assert templates["text/html"] == "http://testserver/search?q={searchTerms}"
    suggest = templates["application/x-suggestions+json"].replace("{searchTerms}", "saleh")
    body = client.get(suggest.replace("http://testserver", "")).json()
    assert body[0] == "saleh" and body[1][0] == "Amrullah Saleh" and body[3][0].endswith("/doc/person/amrullah-saleh.html")


@pytest.mark.parametrize("query, status, says", [
    ("q=", 400, "Give something"), ("q=%20%20", 400, "Give something"),
    ("q=" + "a" * 201, 400, "at most 200"), ("q=%ff%fe", 400, "UTF-8"), ("q=Mas%C3", 400, "UTF-8"),
    ("q=x&type=claim", 400, "Unknown type"), ("q=x&limit=500", 400, "limit"), ("q=x&limit=ten", 400, "whole number"),
    ("q=x&page=0", 400, "page"), ("q=x&page=99999", 400, "page"), ("q=x&format=yaml", 400, "format"),
    ("q=%00", 400, "NUL"),
])
def test_bad_input_gets_a_clear_4xx(client, query, status, says):
    for path in ("/search", "/search/quotes"):
        if "type=" in query and path.endswith("quotes"):
            continue
        r = client.get(f"{path}?{query}&format=json" if "format=" not in query else f"{path}?{query}")
        assert r.status_code == status, (path, query, r.text)
        assert says in r.text


@pytest.mark.parametrize("q", ['"', '"Massoud', "Massoud*", "NEAR(a b)", "-", ":", "a:b", "--", "?!", "'", "*",
                               "Massoud OR Saleh", "x' OR '1'='1", "\\", "%", "_", "()", "NOT", "AND"])
def test_fts_and_sql_syntax_never_errors(client, q):
    for path in ("/search", "/search/quotes"):
        r = client.get(path, params={"q": q, "format": "json"})
        assert r.status_code == 200, (path, q, r.text)
        assert isinstance(r.json()["search"], list)


def test_no_index_built_is_503_saying_to_build(tmp_path):
    settings = Settings(query_timeout=5, query_workers=2, public_url="http://testserver/", rate_limit=False,
                        build_dir=tmp_path)
    with TestClient(create_app(settings)) as c:
        for path in ("/search?q=x", "/search/quotes?q=x"):
            r = c.get(path)
            assert r.status_code == 503 and "search index not built" in r.text and "arkg build" in r.text


def test_searches_spend_the_clients_budget(build_dir):
    # A budget of 1 ms of query time per minute: the first search spends it, the next is refused.
    settings = Settings(query_timeout=5, query_workers=2, public_url="http://testserver/", rate_limit=True,
                        client_query_seconds_per_minute=0.001, build_dir=build_dir)
    with TestClient(create_app(settings)) as c:
        statuses = [c.get("/search", params={"q": "Massoud", "format": "json"}).status_code for _ in range(3)]
        assert statuses[0] == 200 and statuses[-1] == 429
        assert c.get("/search/quotes", params={"q": "Massoud"}).status_code == 429


# --- in a real browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                  "(apt-get install chromium); browser tests need it")
def test_type_ahead_in_chromium(live_server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    origin, host = live_server.url, urlsplit(live_server.url).netloc
    errors, foreign, api_calls = [], [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, timeout=60_000,
                                    args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                                          "--disable-background-networking", "--disable-component-update"])
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.set_default_timeout(20_000)

            def route(r):
                url = r.request.url
                if url.startswith(("data:", "about:")) or urlsplit(url).netloc == host:
                    if "format=json" in url:
                        api_calls.append(url)
                    r.continue_()
                else:
                    foreign.append(url)
                    r.abort()

            context.route("**/*", route)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(origin + "/")
            box = page.get_by_role("searchbox", name="Search ARKG by name")
            box.press_sequentially("Maaso", delay=40)
            first = page.locator("ul.suggestions li a").first
            first.wait_for()
            assert first.inner_text() == "Ahmad Massoud"
            assert api_calls and all(urlsplit(u).netloc == host for u in api_calls)  # from ARKG itself
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "search-type-ahead.png"))
            box.press("ArrowDown")
            box.press("Enter")
            page.wait_for_url(origin + "/doc/person/ahmad-massoud.html")
            assert page.locator("h1").inner_text() == "Ahmad Massoud"
            # Without the suggestions the box is a form: Enter opens the results page.
            page.goto(origin + "/ontology")
            box = page.get_by_role("searchbox", name="Search ARKG by name")
            box.fill("saleh")
            box.press("Enter")
            page.wait_for_url(origin + "/search?q=saleh")
            assert page.locator("ol.search-results li a").first.inner_text() == "Amrullah Saleh"
            page.screenshot(path=str(ARTIFACTS / "search-results.png"))
            assert not errors, errors
            assert not foreign, foreign
        finally:
            browser.close()


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium")
def test_search_box_works_without_javascript(live_server):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, timeout=60_000,
                                    args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.goto(live_server.url + "/")
            page.get_by_role("searchbox", name="Search ARKG by name").fill("Amssod")
            page.get_by_role("button", name="Search", exact=True).click()
            page.wait_for_url(live_server.url + "/search?q=Amssod")
            assert page.locator("ol.search-results li a").first.inner_text() == "Ahmad Massoud"
        finally:
            browser.close()


# --- reload: the new data's build brings its own index

NEW_SPELLING = "Masudovski"  # test-only: added to a private copy of the data, never published


def test_reload_serves_the_new_builds_search_index(tmp_path):
    import subprocess

    import httpx

    from tests.conftest import ARKG, LiveServer
    from tests.reliability_tools import copy_dataset

    data = copy_dataset(tmp_path / "data")
    server = LiveServer("--data-dir", str(data), "--query-timeout", "30")
    try:
        def search():
            r = httpx.get(server.url + "/search", params={"q": NEW_SPELLING, "format": "json"}, timeout=30)
            assert r.status_code == 200, r.text
            return r.json()["search"]

        assert all(hit["match"]["text"] != NEW_SPELLING for hit in search())
        with open(data / "graphs" / "entities" / "entities.ttl", "a") as f:
            f.write(f'\n<{MASSOUD}> <http://www.w3.org/2004/02/skos/core#altLabel> "{NEW_SPELLING}"@en .\n')
        result = subprocess.run([*ARKG, "reload", str(server.proc.pid), "--url", server.url],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        first = search()[0]
        assert (first["concepturi"], first["match"]["text"], first["rank"]) == (MASSOUD, NEW_SPELLING, "exact")
    finally:
        server.stop()
