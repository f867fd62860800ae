"""Hostile input against the real app (in process, real store and worker processes).

- the corpus of known-nasty SPARQL in tests/nasty_queries/corpus.yaml, each with its expected
  status, while a canary listener on 127.0.0.1 proves no request ever left the server;
- hypothesis property tests over /sparql parameters, headers, encodings and bytes;
- path campaigns under /id, /doc, /dumps, /ontology;
- HTML/JS injection into error pages and the query page.

Pass everywhere: no 5xx (except 503 for a query stopped at its time limit), no hang, and
every 4xx carries a message.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from server.web.app import create_app
from server.settings import Settings

from tests.reliability_tools import Listener

CORPUS = yaml.safe_load((Path(__file__).parent / "nasty_queries" / "corpus.yaml").read_text(encoding="utf-8"))
TIMEOUT = 2.0  # the query time limit of the app under attack
HANG = TIMEOUT * 2 + 10  # no request may take longer than this
SPARQL_JSON = "application/sparql-results+json"


@pytest.fixture(scope="module")
def listener():
    with Listener() as canary:
        yield canary


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The app with a short time limit, its own dumps directory, and no per-client limits."""
    settings = Settings(query_timeout=TIMEOUT, query_workers=2, public_url="http://testserver/",
                        rate_limit=False, dumps_dir=tmp_path_factory.mktemp("dumps"))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def check_answer(response, *, allow_503: bool = False) -> None:
    """The campaign's pass criterion for one response."""
    status = response.status_code
    assert status < 500 or (allow_503 and status == 503), f"{status}: {response.text[:500]}"
    if 400 <= status < 600 and response.request.method != "HEAD":
        assert response.text.strip(), f"{status} without a message"


# --- the corpus

def _expand(case: dict, listener: Listener) -> dict:
    def sub(text: str) -> str:
        many = "".join(f"&default-graph-uri=urn:g{i}" for i in range(2000))
        return (text.replace("{LISTENER}", listener.url).replace("{PORT}", str(listener.port))
                .replace("{MANY_GRAPHS}", many))

    query = sub(case.get("query", ""))
    if "nest" in case:
        open_, close, depth = case["nest"]
        inner = query[query.index("{") + 1:query.rindex("}")] if open_ == "{" else None
        if open_ == "{":
            query = "ASK " + "{" * depth + inner + "}" * depth
        elif "FILTER(" in query:
            query = "ASK { FILTER(" + "(" * depth + "1" + ")" * depth + ") }"
        else:
            query = "ASK { ?s <urn:p> " + "(" * depth + "1" + ")" * depth + " }"
    if "chain" in case:
        op, term, n = case["chain"]
        query = query.replace("FILTER(1)", "FILTER(" + op.join([term] * n) + ")") if "FILTER" in query \
            else "ASK { " + op.join([term] * n) + " }"
    if "values" in case:
        query = query.replace("{VALUES}", " ".join(f"<urn:x:{i}>" for i in range(case["values"])))
    if "repeat" in case:
        text, times = case["repeat"]
        query = text * times + query
    return {**case, "query": query, "raw": sub(case.get("raw", "")),
            "params": {k: sub(v) for k, v in (case.get("params") or {}).items()}}


def send(client: TestClient, case: dict):
    how = case.get("send", "get")
    headers = {"Accept": SPARQL_JSON}
    params = case["params"]
    if how == "get":
        return client.get("/sparql", params={"query": case["query"], **params}, headers=headers)
    if how == "form":
        return client.post("/sparql", data={"query": case["query"], **params}, headers=headers)
    if how == "direct":
        return client.post("/sparql", content=case["query"].encode("utf-8"), params=params,
                           headers={**headers, "Content-Type": "application/sparql-query"})
    if how == "update":
        return client.post("/sparql", content=case["query"].encode("utf-8"),
                           headers={**headers, "Content-Type": "application/sparql-update"})
    if how == "raw-get":
        return client.get("/sparql?" + case["raw"], headers=headers)
    if how == "raw-post":
        body = bytes.fromhex(case["body_hex"]) if "body_hex" in case else case["raw"].encode("utf-8")
        return client.post("/sparql", content=body, params=params,
                           headers={**headers, "Content-Type": case["content_type"]})
    raise ValueError(how)


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_nasty_query(hostile, listener, case):
    case = _expand(case, listener)
    expected = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
    started = time.monotonic()
    response = send(hostile, case)
    assert time.monotonic() - started < HANG
    assert response.status_code in expected, f"{response.status_code}: {response.text[:300]}"
    check_answer(response, allow_503=503 in expected)
    if "says" in case:
        assert case["says"] in response.text
    assert hostile.get("/health").status_code == 200


def test_no_request_ever_left_the_server(hostile, listener):
    """Run after the corpus (same module): the canary was never contacted."""
    for case in CORPUS:
        if "{LISTENER}" in case.get("query", "") + case.get("raw", "") + str(case.get("params", "")):
            send(hostile, _expand(case, listener))
    time.sleep(0.5)
    assert listener.hits == []


def test_the_canary_would_notice(listener):
    """Positive control: pyoxigraph itself, without the guard, does call a SERVICE."""
    before = len(listener.hits)
    with pytest.raises(Exception):
        list(ox.Store().query(f"SELECT * WHERE {{ SERVICE <{listener.url}> {{ ?s ?p ?o }} }}"))
    assert len(listener.hits) > before
    del listener.hits[before:]


def test_from_is_a_graph_name_not_a_fetch(listener):
    """pyoxigraph reads FROM <http://...> as the name of a graph in the store; it fetches nothing."""
    store = ox.Store()
    store.add(ox.Quad(ox.NamedNode("urn:s"), ox.NamedNode("urn:p"), ox.Literal("o"), ox.NamedNode(listener.url)))
    rows = list(store.query(f"SELECT ?o FROM <{listener.url}> WHERE {{ ?s ?p ?o }}"))
    assert [r["o"].value for r in rows] == ["o"]
    assert list(ox.Store().query(f"SELECT * FROM <{listener.url}> FROM NAMED <{listener.url}> WHERE {{ ?s ?p ?o }}")) == []
    time.sleep(0.2)
    assert listener.hits == []


# --- property tests

FRAGMENTS = ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "*", "{", "}", "(", ")", ".", ";", ",",
             "?s", "?p", "?o", "$x", "<urn:a>", "<https://w3id.org/arkg/id/person/x>", "a", "\"str\"",
             "'x'@en", "\"\"\"long\"\"\"", "1", "-2.5e3", "true", "FILTER", "REGEX", "STR", "BIND", "AS",
             "OPTIONAL", "UNION", "MINUS", "GRAPH", "VALUES", "UNDEF", "LIMIT 3", "OFFSET 1", "ORDER BY",
             "GROUP BY", "COUNT", "DISTINCT", "PREFIX ex: <http://example.org/>", "ex:x", "BASE <urn:b/>",
             "SERVICE", "FROM", "NAMED", "#c\n", "\n", "\\u0041", "^^", "|", "/", "+", "!", "&&", "||",
             "EXISTS", "NOT", "IN", "LANG", "SUBSTR", "NOW()", "RAND()", "UUID()", "BNODE()", "[]", "_:b"]

query_text = st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=30).map(" ".join),
    st.text(max_size=200),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=100),
)
header_text = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=80)
media_types = st.sampled_from([
    "application/sparql-results+json", "application/sparql-results+xml", "text/csv", "text/turtle",
    "application/ld+json", "text/html", "*/*", "text/*", "application/*", "image/png", "",
    "application/json;q=0", "text/csv;q=abc", "*/*;q=-1", "text/html;q=1.5, */*;q=0.1", ";;;", ",,,",
    "application/sparql-results+json; charset=latin-1"])
accept = st.one_of(media_types, header_text, st.lists(media_types, max_size=4).map(", ".join))
content_types = st.one_of(st.sampled_from([
    "application/x-www-form-urlencoded", "application/sparql-query", "application/sparql-update",
    "application/sparql-query; charset=utf-16", "application/x-www-form-urlencoded; charset=ascii",
    "text/plain", "application/json", "multipart/form-data", "", ";", "APPLICATION/SPARQL-QUERY"]), header_text)
PARAMS = ["query", "update", "default-graph-uri", "named-graph-uri", "format", "using-graph-uri", "x"]
param_lists = st.lists(st.tuples(st.sampled_from(PARAMS), st.one_of(query_text, st.sampled_from(
    ["json", "ttl", "html", "https://w3id.org/arkg/graph/claims", "http://testserver/graph/claims", ""]))),
    max_size=5)

FUZZ = hsettings(max_examples=150, deadline=None, derandomize=True, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CASES_RUN: dict[str, int] = {}


def _count(name: str) -> None:
    CASES_RUN[name] = CASES_RUN.get(name, 0) + 1


@FUZZ
@given(query=query_text, accept=accept, method=st.sampled_from(["GET", "HEAD", "form", "direct"]))
def test_fuzz_sparql_queries(hostile, query, accept, method):
    _count("sparql-queries")
    headers = {"Accept": accept}
    started = time.monotonic()
    if method in ("GET", "HEAD"):
        response = hostile.request(method, "/sparql", params={"query": query}, headers=headers)
    elif method == "form":
        response = hostile.post("/sparql", data={"query": query}, headers=headers)
    else:
        response = hostile.post("/sparql", content=query.encode("utf-8"),
                                headers={**headers, "Content-Type": "application/sparql-query"})
    assert time.monotonic() - started < HANG
    check_answer(response, allow_503=True)


@FUZZ
@given(items=param_lists, accept=accept, content_type=content_types, post=st.booleans())
def test_fuzz_parameters_and_headers(hostile, items, accept, content_type, post):
    _count("parameters-headers")
    from urllib.parse import urlencode

    encoded = urlencode(items)
    headers = {"Accept": accept}
    if post:
        body = encoded.encode() if "form" in content_type else (items[0][1] if items else "").encode()
        response = hostile.post("/sparql", content=body, headers={**headers, "Content-Type": content_type})
    else:
        response = hostile.get("/sparql?" + encoded, headers=headers)
    check_answer(response, allow_503=True)


@FUZZ
@given(raw=st.binary(max_size=200), where=st.sampled_from(["query-string", "form", "direct"]))
def test_fuzz_raw_bytes(hostile, raw, where):
    _count("raw-bytes")
    if where == "query-string":
        response = hostile.get("/sparql?query=" + quote(raw, safe=""))
    elif where == "form":
        response = hostile.post("/sparql", content=b"query=" + raw,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        response = hostile.post("/sparql", content=raw, headers={"Content-Type": "application/sparql-query"})
    check_answer(response, allow_503=True)


@FUZZ
@given(data=st.data())
def test_fuzz_service_smuggling(hostile, listener, data):
    """SERVICE to the canary, spelled every way the grammar allows: refused, never sent."""
    _count("service-smuggling")
    pick = lambda options: data.draw(st.sampled_from(options))  # noqa: E731
    keyword = pick(["SERVICE", "service", "SeRvIcE", "\\u0053ERVICE", "SERV\\u0049CE", "\\U00000053ERVICE"])
    prologue = pick(["", f"PREFIX x: <{listener.url}>", f"BASE <{listener.url}>", "PREFIX x: <urn:x:>",
                     f"PREFIX : <{listener.url}> PREFIX x: <urn:other:>"])
    target = pick([f"<{listener.url}>", "x:", "x:sparql", ":", "<>", "<sparql>", "?e",
                   f"<http\\u003A//127.0.0.1:{listener.port}/>", f"<{listener.url}#frag>"])
    gap = pick([" ", "\n", " # comment\n ", "\t", " SILENT ", " SILENT\n"])
    around = pick(["", "OPTIONAL", "MINUS", "FILTER EXISTS", "FILTER NOT EXISTS", "{ SELECT * WHERE"])
    close = " }" if around.startswith("{ SELECT") else ""
    values = f"VALUES ?e {{ <{listener.url}> }} " if target == "?e" else ""
    query = (f"{prologue} SELECT * WHERE {{ {values}{around} {{ {keyword}{gap}{target} {{ ?s ?p ?o }} }}{close} }}")
    response = hostile.get("/sparql", params={"query": query}, headers={"Accept": SPARQL_JSON})
    check_answer(response)
    assert response.status_code != 200, f"accepted: {query}"
    assert listener.hits == [], f"{query} reached the canary"


# --- paths

ROUTE_PREFIXES = ["/id/", "/doc/", "/dumps/", "/dumps/latest/", "/ontology", "/ontology.", "/.well-known/", "/static/"]
TRAVERSALS = ["..", "%2e%2e", "%2E%2E", "..%2f", "%2e%2e%2f", "..%5c", "%252e%252e", "....//", ".%00.",
              "%c0%ae%c0%ae", "/etc/passwd", "%2fetc%2fpasswd", "..;", "~root", "%00", "a" * 5000]
SECRETS = [b"root:x:0:0", b"[build-system]", b"BEGIN RSA", b"import ", b"SECRET"]


def _path_response_ok(response) -> None:
    check_answer(response)
    body = response.content
    for secret in SECRETS:
        assert secret not in body, f"{response.request.url} leaked {secret!r}"


@pytest.mark.parametrize("prefix", ROUTE_PREFIXES)
@pytest.mark.parametrize("attack", TRAVERSALS)
def test_path_traversal(hostile, prefix, attack):
    for path in (prefix + attack, prefix + attack + "/" + attack + "/etc/passwd",
                 prefix + "person/" + attack, prefix + attack + "/pyproject.toml",
                 prefix + "../../../../pyproject.toml"):
        response = hostile.get(path, follow_redirects=False)
        assert response.status_code in (200, 301, 302, 303, 307, 308, 400, 404, 405, 406), \
            f"{path}: {response.status_code}"
        _path_response_ok(response)


segment = st.one_of(st.text(max_size=60), st.sampled_from(TRAVERSALS + ["person", "claim", "x.ttl", "x.html",
                                                                         "index.html", "SHA256SUMS", "latest"]))


@FUZZ
@given(prefix=st.sampled_from(["/id/", "/doc/", "/dumps/", "/dumps/latest/", "/ontology.", "/"]),
       parts=st.lists(segment, min_size=1, max_size=3), accept=accept)
def test_fuzz_paths(hostile, prefix, parts, accept):
    _count("paths")
    path = prefix + "/".join(quote(p, safe="") for p in parts)
    response = hostile.get(path, headers={"Accept": accept}, follow_redirects=False)
    assert response.status_code < 500, f"{path}: {response.status_code} {response.text[:300]}"
    _path_response_ok(response)


def test_over_long_and_unknown_segments(hostile):
    for path in ("/id/person/" + "x" * 60_000, "/doc/person/" + "y" * 60_000, "/id/nosuchkind/x",
                 "/doc/person/x.exe", "/doc/nosuchkind/x.ttl", "/dumps/" + "0" * 500 + "/",
                 "/dumps/latest/nosuchfile.ttl", "/ontology.exe", "/ontology.ttl.gz"):
        response = hostile.get(path, follow_redirects=False)
        assert response.status_code in (400, 404, 406), f"{path[:80]}: {response.status_code}"
        _path_response_ok(response)


# --- injection into pages

XSS = ["<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'><svg onload=alert(1)>",
       "javascript:alert(1)", "</title><script>alert(1)</script>"]


@pytest.mark.parametrize("payload", XSS)
def test_error_pages_show_input_as_text(hostile, payload):
    html = {"Accept": "text/html"}
    responses = [
        hostile.get("/sparql", params={"query": payload}, headers=html),
        hostile.get("/sparql", params={"query": "ASK {}", "format": payload}, headers=html),
        hostile.get("/sparql", params={"query": f"SELECT * FROM <{payload}> {{}}"}, headers=html),
        hostile.get("/sparql", params={"query": "ASK {}", "default-graph-uri": payload}, headers=html),
        hostile.get("/id/person/" + quote(payload, safe=""), headers=html),
        hostile.get("/doc/" + quote(payload, safe="") + "/x", headers=html),
        hostile.get("/dumps/" + quote(payload, safe="") + "/", headers=html),
        hostile.post("/sparql", content=payload, headers={**html, "Content-Type": payload[:40]}),
    ]
    for response in responses:
        check_answer(response)
        assert_inert(response.text, payload, str(response.request.url))


def assert_inert(html: str, payload: str, where: str) -> None:
    """``payload`` may appear only as text: no tag, attribute or javascript: link made of it."""
    if any(c in payload for c in "<>\"'"):
        assert payload not in html, f"{where}: payload echoed unescaped"
    assert not re.search(r"<(script|img|svg)\b[^>]*(alert|onerror|onload)", html, re.I), where
    assert not re.search(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", html, re.I), where


@pytest.mark.parametrize("payload", XSS)
def test_query_page_shows_parameters_as_text(hostile, payload):
    response = hostile.get("/query", params={"query": payload, "format": payload, "x": payload},
                           headers={"Accept": "text/html"})
    check_answer(response)
    assert_inert(response.text, payload, "/query")


# --- schemathesis over the OpenAPI description

def test_schemathesis_openapi(hostile):
    """Every operation of /openapi.json, with schemathesis-generated cases sent in process."""
    import warnings

    import schemathesis
    from hypothesis import given as hgiven

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        openapi = hostile.get("/openapi.json").json()
    schema = schemathesis.openapi.from_dict(openapi)
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @hsettings(max_examples=25, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))
        @hgiven(case=operation.as_strategy())
        def run(case):
            nonlocal ran
            ran += 1
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            method, url = kwargs.pop("method"), kwargs.pop("url")
            kwargs = {k: v for k, v in kwargs.items() if k in ("headers", "params", "json", "data", "content", "cookies")}
            if "data" in kwargs and isinstance(kwargs["data"], (bytes, str)):
                kwargs["content"] = kwargs.pop("data")
            started = time.monotonic()
            response = hostile.request(method, url, follow_redirects=False, **kwargs)
            assert time.monotonic() - started < HANG
            check_answer(response, allow_503=True)

        run()
    CASES_RUN["schemathesis"] = ran
    print(f"\nschemathesis: {ran} cases over {len(openapi['paths'])} paths")
    assert ran >= 100


def test_report_cases_run():
    """Print how many cases the property tests ran (recorded in bench/README.md)."""
    print("\nfuzz cases run:", CASES_RUN, "total", sum(CASES_RUN.values()))


# --- transport-level abuse against a real uvicorn process

def _raw(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes; return what the server answers before it closes (or the timeout)."""
    import socket

    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(request)
        except OSError:  # the server answered and closed before reading everything
            pass
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except OSError:
            pass
    return data


@pytest.mark.slow
def test_transport_level_abuse(tmp_path):
    import httpx
    import psutil

    from tests.conftest import LiveServer

    server = LiveServer("--query-timeout", "3", env={"ARKG_DUMPS_DIR": str(tmp_path / "dumps"), "ARKG_BODY_TIMEOUT": "2"})
    try:
        huge_url = b"GET /sparql?query=" + b"%20" * (1 << 20) + b"ASK%20%7B%7D HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        answer = _raw(server.port, huge_url)
        assert answer.startswith(b"HTTP/1.1 4") and answer.split(b"\r\n\r\n", 1)[1].strip(), answer[:200]
        answer = _raw(server.port, b"\x00\xff\xfe GARBAGE\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400") and b"Invalid HTTP request" in answer
        # A request head over max_body_bytes + 64 KiB: 431 and closed, nothing buffered (protocol.py).
        rss = psutil.Process(server.proc.pid).memory_info().rss
        for request in (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (8 << 20) + b"\r\n\r\n",
                        b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200_000)) + b"\r\n"):
            answer = _raw(server.port, request)
            assert answer == b"" or (answer.startswith(b"HTTP/1.1 431") and b"POST body" in answer), answer[:200]
        assert psutil.Process(server.proc.pid).memory_info().rss - rss < 32 << 20
        many = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(2000)) + b"\r\n"
        assert _raw(server.port, many + b"").startswith(b"HTTP/1.1 200")  # under the cap: served
        assert _raw(server.port, b"GET /health HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200")
        chunks = b"".join(b"10000\r\n" + b" " * 0x10000 + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"
        answer = _raw(server.port, b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                      b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:200]  # the server may reset first
        # A client that promises a body and never sends it holds only its own connection,
        # and only for body_timeout (2 s here): then 408 and the connection is closed.
        import socket
        import time

        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as stalled:
            stalled.sendall(b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                            b"Content-Length: 100\r\n\r\nASK {}")
            started = time.monotonic()
            assert httpx.get(server.url + "/sparql", params={"query": "ASK {}"}, timeout=10).status_code == 200
            answer = b""
            while chunk := stalled.recv(65536):  # ends when the server closes
                answer += chunk
            assert 1.5 < time.monotonic() - started < 15
            assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 2 s (6 bytes came)" in answer, answer
        assert httpx.get(server.url + "/health", timeout=10).status_code == 200
    finally:
        server.stop()
