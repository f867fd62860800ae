"""What a person sees, in a real browser: Debian's Chromium driven by Playwright against `arkg serve`.

Each test fails on any console error, uncaught page error, or request to a host other than
the server (such requests are also blocked, so the pages must work offline). Screenshots go
to test-artifacts/ (not committed). Without /usr/bin/chromium these tests skip; the browser
is never downloaded (no `playwright install`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000  # per action: bounded waits

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed at /usr/bin/chromium "
                                                     "(apt-get install chromium); browser tests need it"),
]


@dataclass
class Watched:
    page: object
    origin: str
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def clean(self) -> None:
        assert not self.errors, f"console or page errors: {self.errors}"
        assert not self.foreign, f"requests to other hosts: {self.foreign}"

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True, timeout=60_000)
        yield chromium
        chromium.close()


@pytest.fixture
def watched(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    w = Watched(page, live_server.url)
    server = urlsplit(live_server.url).netloc

    def route(r):
        url = r.request.url
        if url.startswith(("data:", "about:")) or urlsplit(url).netloc == server:
            r.continue_()
        else:
            w.foreign.append(url)
            r.abort()

    context.route("**/*", route)
    page.on("console", lambda message: message.type == "error" and w.errors.append(message.text))
    page.on("pageerror", lambda error: w.errors.append(str(error)))
    yield w
    context.close()


def test_home_page(watched):
    page = watched.page
    response = page.goto(watched.origin + "/")
    assert response.status == 200
    assert page.locator("h1").inner_text() == "ARKG, the Afghan Resistance Knowledge Graph"
    claims = page.locator(".figures div", has_text="Claims").locator("dd").inner_text()
    assert int(claims) > 400
    assert page.get_by_role("link", name="/dumps/").get_attribute("href") == watched.origin + "/dumps/"
    assert page.get_by_role("link", name="/.well-known/void").is_visible()
    assert page.get_by_role("link", name="CC BY 4.0").first.is_visible()
    # The stylesheet applied: the header bar is dark, not the browser default.
    background = page.locator("header.site").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(23, 50, 74)"
    watched.shot("home")
    watched.clean()


def test_entity_page_from_its_uri(watched):
    page = watched.page
    page.goto(watched.origin + "/id/person/ahmad-massoud")  # 303 to the HTML page for a browser
    assert page.url == watched.origin + "/doc/person/ahmad-massoud.html"
    assert page.locator("h1").inner_text() == "Ahmad Massoud"
    assert page.get_by_text("Also written:").is_visible()
    assert page.get_by_role("heading", name="Claims about Ahmad Massoud").is_visible()
    first = page.locator("section.proposition").first
    assert first.locator(".side-for .claim").count() > 0
    assert "denied" in first.locator(".side-against h4").inner_text().lower()  # shown in capitals by CSS
    watched.shot("entity")
    watched.clean()


def test_proposition_page_side_by_side(watched):
    page = watched.page
    page.goto(watched.origin + "/doc/person/ahmad-massoud.html")
    contested = page.locator("section.proposition").filter(has=page.locator(".side-against .claim")).first
    contested.get_by_role("link", name="who says what").click()
    page.wait_for_url(re.compile(r".*/doc/proposition/[0-9a-f]{16}\.html$"))
    assert page.get_by_text("Who says what").is_visible()
    for_side, against = page.locator(".side-for").first, page.locator(".side-against").first
    assert for_side.locator(".claim").count() > 0 and against.locator(".claim").count() > 0
    left, right = for_side.bounding_box(), against.bounding_box()
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 5  # side by side
    assert against.locator("blockquote").first.inner_text().startswith("“")  # the quote is shown
    watched.shot("proposition")
    watched.clean()


def test_query_page_runs_an_example_and_a_typed_query(watched):
    page = watched.page
    response = page.goto(watched.origin + "/sparql")  # a browser gets the query page, not the Service Description
    assert response.headers["content-type"].startswith("text/html")
    assert page.locator("textarea#query-text").is_visible()
    examples = page.locator("a.example")
    if examples.count():
        name = examples.first.inner_text()
        examples.first.click()
        page.wait_for_load_state()
        assert page.locator("#results-table tbody tr").count() > 0, f"example {name!r} returned no rows"
        assert page.locator("textarea#query-text").input_value().strip()  # the query is in the editor
        watched.shot("query-example")
    page.locator("textarea#query-text").fill(
        "PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        "SELECT ?name WHERE { <https://w3id.org/arkg/id/person/ahmad-massoud> rdfs:label ?name }")
    page.get_by_role("button", name="Run query").click()
    page.wait_for_url(re.compile(r".*/query\?query=.*"))
    assert page.locator("#results-table td").first.inner_text().startswith("Ahmad Massoud")
    assert page.locator(".result-summary").inner_text().startswith("1 row")
    downloads = {a.inner_text(): a.get_attribute("href") for a in page.locator(".downloads a").all()}
    assert set(downloads) == {"json", "xml", "csv", "tsv"}
    assert downloads["csv"].startswith(watched.origin + "/sparql?query=") and downloads["csv"].endswith("format=csv")
    assert page.locator("a#share").get_attribute("href") == page.url  # the shareable URL is this page
    watched.shot("query-results")
    watched.clean()


def test_query_page_shows_errors_without_losing_the_query(watched):
    page = watched.page
    page.goto(watched.origin + "/query")
    page.locator("textarea#query-text").fill("SELEC nonsense")
    page.get_by_role("button", name="Run query").click()
    page.wait_for_url(re.compile(r".*/query\?query=.*"))
    assert "SPARQL" in page.get_by_role("alert").inner_text()
    assert page.locator("textarea#query-text").input_value() == "SELEC nonsense"
    # The 400 answer itself is logged by Chromium as a failed resource load; nothing else may be.
    watched.errors[:] = [e for e in watched.errors if "400" not in e]
    watched.clean()
