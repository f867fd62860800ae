"""The pictures over HTTP: SVG is valid XML whose links resolve, CSV matches the table, bad input is a 4xx."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from tests.web.test_reliability_limits import limited_server  # noqa: F401  (fixture: a server with tiny budgets)

SVG = "{http://www.w3.org/2000/svg}"
MASSOUD = "https://w3id.org/arkg/id/person/ahmad-massoud"
TEHRAN = "https://w3id.org/arkg/id/event/tehran-meeting"
DUSHANBE_TALKS = "https://w3id.org/arkg/id/event/planned-dushanbe-talks"  # an event with dated claims
CASES = [("timeline", None), ("meetings", None), ("who-says-what", None), ("timeline", MASSOUD),
         ("who-says-what", MASSOUD), ("meetings", MASSOUD), ("timeline", DUSHANBE_TALKS), ("meetings", TEHRAN)]


def _params(about):
    return {"about": about} if about else {}


def _local(client, url: str) -> str:
    parts = urlsplit(url)
    assert parts.netloc in ("", "testserver"), f"link off the host: {url}"
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.mark.parametrize("name,about", CASES)
def test_svg_is_xml_and_every_link_resolves(client, name, about):
    r = client.get(f"/pictures/{name}.svg", params=_params(about))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(r.content)  # valid XML or it raises
    assert root.tag == SVG + "svg" and root.find(SVG + "title").text
    assert not list(root.iter(SVG + "script"))  # no scripts in a picture
    hrefs = {a.get("href") for a in root.iter(SVG + "a")}
    assert hrefs and None not in hrefs
    for href in sorted(hrefs):
        got = client.get(_local(client, href), follow_redirects=True)
        assert got.status_code == 200, f"{href} -> {got.status_code}"


class _Table(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows, self._cell, self._in = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell)
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


@pytest.mark.parametrize("name,about", CASES)
def test_csv_parses_and_matches_the_table(client, name, about):
    got = client.get(f"/pictures/{name}.csv", params=_params(about))
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.text)))
    page = client.get(f"/pictures/{name}", params=_params(about))
    assert page.status_code == 200
    table = _Table()
    table.feed(page.text)
    assert table.rows == rows
    assert len(rows) > 1


def test_query_link_opens_the_query_page_with_the_pictures_query(client):
    r = client.get("/pictures/meetings.query", follow_redirects=False)
    assert r.status_code == 303 and "/query?query=" in r.headers["location"]
    page = client.get(_local(client, r.headers["location"]))
    assert page.status_code == 200 and "arkg:attended" in page.text and "Tehran meeting" in page.text


def test_limit_bounds_and_more_link(client):
    page = client.get("/pictures/timeline", params={"limit": 2})
    assert page.status_code == 200 and ">more</a>" in page.text and "limit=8" in page.text
    rows = list(csv.DictReader(io.StringIO(client.get("/pictures/timeline.csv", params={"limit": 2}).text)))
    assert len({r["lane"] for r in rows}) == 2


def test_contested_page_lists_every_contested_proposition(client):
    page = client.get("/contested")
    assert page.status_code == 200
    assert "Ahmad Massoud attended Tehran meeting" in page.text
    rows = list(csv.DictReader(io.StringIO(client.get("/pictures/who-says-what.csv", params={"limit": 200}).text)))
    assert rows and {r["status"] for r in rows} == {"contested"}
    assert {r["proposition_label"] for r in rows} <= set(page.text.split("<td>")[i].split("</td>")[0]
                                                         for i in range(1, page.text.count("<td>") + 1))


HOSTS = [("/", None, ("timeline", "meetings")),
         ("/doc/person/ahmad-massoud.html", MASSOUD, ("timeline", "who-says-what", "meetings")),
         ("/doc/event/planned-dushanbe-talks.html", DUSHANBE_TALKS, ("timeline", "who-says-what", "meetings"))]


class _Links(HTMLParser):
    """The links of one element's HTML, by their text."""
    def __init__(self):
        super().__init__()
        self.links, self._href = {}, None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = ""

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.setdefault(self._text.strip(), self._href)
            self._href = None

    def handle_data(self, data):
        if self._href is not None:
            self._text += data


def _figure(html: str, name: str) -> str:
    """The HTML of the picture ``name`` on a page (``<figure id="pic-name">`` to its end)."""
    start = html.index(f'<figure class="picture" id="pic-{name}">')
    return html[start:html.index("</figure>", start)]


@pytest.mark.parametrize("path,about,names", HOSTS)
def test_host_pages_show_each_picture_with_its_table_downloads_and_query(client, path, about, names):
    html = client.get(path).text
    assert html.count('<figure class="picture"') == len(names)
    for name in names:
        fig = _figure(html, name)
        assert "<svg" in fig and "<object" not in fig  # the picture itself, inline: no second request
        table = _Table()
        table.feed(fig.split('<details class="picture-table">', 1)[1])
        csv_rows = list(csv.reader(io.StringIO(client.get(f"/pictures/{name}.csv", params=_params(about)).text)))
        assert len(csv_rows) > 1 and table.rows == csv_rows, name
        links = _Links()
        links.feed(fig.split('<p class="picture-links">', 1)[1])
        for text, media in (("SVG", "image/svg+xml"), ("CSV", "text/csv"), ("on its own page", "text/html")):
            got = client.get(_local(client, links.links[text]))
            assert got.status_code == 200 and got.headers["content-type"].startswith(media), (name, text)
        assert list(csv.reader(io.StringIO(client.get(_local(client, links.links["CSV"])).text))) == csv_rows
        query = links.links["the SPARQL query behind it"]
        behind = client.get(f"/pictures/{name}.query", params=_params(about), follow_redirects=False)
        assert behind.status_code == 303 and behind.headers["location"] == query  # the query the picture runs
        ran = client.get(_local(client, query))
        assert ran.status_code == 200 and 'class="error"' not in ran.text, name
    assert ("/contested" in html) == (about is None)


def test_later_pages_of_a_document_link_to_the_pictures(client, monkeypatch):
    """Pictures on page 1 only; page 2 links to them (pages of 3 here, with fresh memos, so Massoud's spans pages)."""
    from collections import OrderedDict

    from server.views import documents
    from server.web import pages

    monkeypatch.setattr(documents, "PAGE_SIZE", 3)
    monkeypatch.setattr(documents, "memo", documents.DocumentMemo())
    monkeypatch.setattr(pages, "_rendered", OrderedDict())
    first = client.get("/doc/person/ahmad-massoud.html").text
    assert 'rel="next"' in first and first.count('<figure class="picture"') == 3
    second = client.get("/doc/person/ahmad-massoud.html", params={"page": 2}).text
    assert '<figure class="picture"' not in second and 'ahmad-massoud.html#pictures">on the first page</a>' in second


def test_home_pictures_are_computed_once_per_dataset_version(client, monkeypatch):
    from collections import OrderedDict

    from server.views import per_version
    from server.web import pages, pictures

    made, real = [], pictures.figure

    async def counted(backend, name, **options):
        made.append(name)
        return await real(backend, name, **options)

    monkeypatch.setattr(pictures, "figure", counted)
    monkeypatch.setattr(per_version, "cache", per_version.PerVersion())  # nothing computed yet
    monkeypatch.setattr(pages, "_pages", OrderedDict())  # and the page rendered afresh each time
    monkeypatch.setattr(pages, "PAGES_SIZE", 0)
    first, second = client.get("/"), client.get("/")
    assert first.status_code == second.status_code == 200 and first.text == second.text
    assert sorted(made) == ["meetings", "timeline"]  # the second request reused the first's pictures


@pytest.mark.parametrize("path,status", [
    ("/pictures/nope.svg", 404), ("/pictures/timeline.svg?limit=0", 400), ("/pictures/timeline.svg?limit=100000", 400),
    ("/pictures/timeline.svg?about=http://example.org/x", 400), ("/pictures/meetings.csv?about=not%20an%20iri", 400),
    ("/pictures/timeline.svg?about=https://w3id.org/arkg/id/claim/trt-tehran-talks-c001", 400)])
def test_bad_input_is_a_clear_4xx(client, path, status):
    r = client.get(path)
    assert r.status_code == status and r.text.strip()


@pytest.mark.slow
@pytest.mark.parametrize("path,spender", [("/pictures/meetings.svg", "192.0.2.171"), ("/pictures/timeline.csv", "192.0.2.172"),
                                          ("/contested", "192.0.2.173")])
def test_pictures_are_charged_like_queries(limited_server, path, spender):
    """A client whose query budget is spent gets 429 on a picture too; another client does not."""
    from tests.web.test_reliability_limits import RUNAWAY, ask
    import httpx

    other = "198.51.100.98"
    for _ in range(2):  # 2 x 3 s of a 5 s/min budget
        assert ask(limited_server, RUNAWAY, spender).status_code == 503
    got = httpx.get(limited_server.url + path, headers={"X-Forwarded-For": spender}, timeout=30)
    assert got.status_code == 429 and got.headers["Retry-After"], (got.status_code, got.text[:300])
    fine = httpx.get(limited_server.url + path, headers={"X-Forwarded-For": other}, timeout=30)
    assert fine.status_code == 200, fine.text[:300]
