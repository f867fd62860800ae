"""Jinja2 for the HTML pages: one autoescaping environment, links mapped to the public URL.

Every value from the data reaches HTML through autoescaping (``{{ }}``) or ``tojson``
(inside ``<script type="application/ld+json">``); nothing is marked safe. Only ``http(s)``
IRIs become links, so an IRI such as ``javascript:...`` in the data stays text.

>>> from server.model.urls import UrlMap
>>> urls = UrlMap("http://127.0.0.1:8000/", "https://w3id.org/arkg/")
>>> page_url(urls, "https://w3id.org/arkg/id/claim/a-c001#quote")
'http://127.0.0.1:8000/doc/claim/a-c001.html#quote'
>>> page_url(urls, "https://w3id.org/arkg/ontology#visited")
'http://127.0.0.1:8000/ontology#visited'
>>> page_url(urls, "http://www.wikidata.org/entity/Q6279")
'http://www.wikidata.org/entity/Q6279'
>>> page_url(urls, "javascript:alert(1)") is None
True
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from starlette.concurrency import run_in_threadpool

from server import __version__
from server.model.urls import UrlMap

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def page_url(urls: UrlMap, iri: str) -> str | None:
    """Where a reader's browser should go for ``iri``: our HTML page, or the IRI itself if it is a web link."""
    base = urls.base_iri
    if iri.startswith(base + "id/"):
        path, _, fragment = iri[len(base) + 3:].partition("#")
        return f"{urls.public_url}doc/{path}.html" + (f"#{fragment}" if fragment else "")
    if iri.startswith(base):
        return urls.public(iri)
    if iri.startswith(("http://", "https://")):
        return iri
    return None


@pass_context
def _href(context, iri: str) -> str | None:
    return page_url(context["urls"], iri)


@pass_context
def _public(context, path: str) -> str:
    """Absolute public URL of a path of this server (``"sparql"`` -> ``http://host/sparql``)."""
    return context["urls"].public_url + path.lstrip("/")


@pass_context
def _query_url(context, query: str) -> str:
    """The query page running ``query``: a link that runs an example, or shares a query."""
    return context["urls"].public_url + "query?" + urlencode({"query": query})


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"], default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(href=_href, public=_public, query_url=_query_url)
    return env


environment = _environment()


def compile_all() -> int:
    """Compile every template now; how many. Jinja compiles a template the first time it is
    rendered: 45 ms for all of them, so the first entity page after a start took 105-112 ms
    against 35-40 for the next ones (5M, 2026-12-07). Called once by each server process as it
    starts."""
    names = environment.list_templates()
    for name in names:
        environment.get_template(name)
    return len(names)


def _digest() -> str:
    """Changes when a template or the stylesheet changes, so page ETags change with them."""
    h = hashlib.blake2b(__version__.encode(), digest_size=6)
    for path in sorted([*TEMPLATES.rglob("*"), *STATIC.rglob("*")]):
        if path.is_file():
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


TEMPLATE_DIGEST = _digest()


async def render(name: str, **context) -> str:
    """Render template ``name`` off the event loop (big pages take milliseconds)."""
    template = environment.get_template(name)
    return await run_in_threadpool(template.render, **context)
