"""Templates at start-up (server/web/templating.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from server.web import templating
from server.web.app import create_app


def test_every_template_is_compiled_before_the_first_page(settings, monkeypatch):
    from server.web import pages

    templating.environment.cache.clear()
    monkeypatch.setattr(pages, "_rendered", type(pages._rendered)())  # no page kept rendered by other tests
    with TestClient(create_app(settings)) as client:
        read = []
        real = templating.environment.loader.get_source
        monkeypatch.setattr(templating.environment.loader, "get_source",
                            lambda env, name: read.append(name) or real(env, name))
        for path in ("/", "/doc/person/ahmad-massoud.html", "/doc/article/trt-tehran-talks.html",
                     "/doc/claim/trt-tehran-talks-c001.html"):
            assert client.get(path).status_code == 200
        assert read == []  # compiled at start-up: no template read from disk for these pages


def test_compile_all_compiles_each_template_once():
    templating.environment.cache.clear()
    assert templating.compile_all() == len(templating.environment.list_templates()) > 0
    assert len(templating.environment.cache) == len(templating.environment.list_templates())
