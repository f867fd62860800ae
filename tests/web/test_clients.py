"""Real clients against a live server: SPARQLWrapper with each of its return formats, and
the request shape of Java's HttpClient (``Upgrade: h2c``) over a raw socket, and Apache
Jena's ``rsparql`` where Debian's libapache-jena-java and a JRE are installed."""

from __future__ import annotations

import csv
import io
import shutil
import socket
import subprocess
import time
import warnings
import zipfile
from pathlib import Path
from urllib.parse import quote

import pyoxigraph as ox
import pytest
from SPARQLWrapper import POST, POSTDIRECTLY, SPARQLWrapper, URLENCODED

pytestmark = pytest.mark.slow

PERSON = "https://w3id.org/arkg/id/person/ahmad-massoud"
QUERIES = {
    "SELECT": "SELECT ?s ?t WHERE { ?s a ?t } LIMIT 3",
    "ASK": "ASK { ?s a ?t }",
    "CONSTRUCT": "CONSTRUCT { ?s a ?t } WHERE { ?s a ?t } LIMIT 5",
    "DESCRIBE": f"DESCRIBE <{PERSON}>",
}
RESULTS = {"json": ox.QueryResultsFormat.JSON, "xml": ox.QueryResultsFormat.XML,
           "csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV}
GRAPHS = {"turtle": ox.RdfFormat.TURTLE, "n3": ox.RdfFormat.N3, "rdf": ox.RdfFormat.RDF_XML,
          "rdf+xml": ox.RdfFormat.RDF_XML, "xml": ox.RdfFormat.RDF_XML, "json-ld": ox.RdfFormat.JSON_LD,
          "json": ox.RdfFormat.JSON_LD}
RETURN_FORMATS = ["json", "xml", "turtle", "n3", "rdf", "rdf+xml", "csv", "tsv", "json-ld"]  # SPARQLWrapper's 9
METHODS = {"GET": None, "POST form": URLENCODED, "POST direct": POSTDIRECTLY}


def asked(form: str, return_format: str) -> ox.QueryResultsFormat | ox.RdfFormat | None:
    """The format the answer must be in, or None where the format fits no format of that query
    form (SPARQLWrapper then sends ``Accept: */*`` and the server's default answers)."""
    table = RESULTS if form in ("SELECT", "ASK") else GRAPHS
    return table.get(return_format)


def default_for(form: str) -> ox.QueryResultsFormat | ox.RdfFormat:
    return ox.QueryResultsFormat.JSON if form in ("SELECT", "ASK") else ox.RdfFormat.TURTLE


def check_answer(form: str, body: bytes, fmt) -> None:
    """The body parses in ``fmt`` and holds what the query asks for."""
    if fmt is ox.QueryResultsFormat.CSV:  # lossy: pyoxigraph will not read it back; the csv module does
        rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
        if form == "ASK":
            assert rows[-1] == ["true"], rows
        else:
            assert rows[0] == ["s", "t"] and len(rows) == 4 and all(row[0] and row[1] for row in rows[1:])
    elif isinstance(fmt, ox.QueryResultsFormat):
        parsed = ox.parse_query_results(body, format=fmt)
        if form == "ASK":
            assert isinstance(parsed, ox.QueryBoolean) and bool(parsed)
        else:
            rows = list(parsed)
            assert len(rows) == 3 and all(row["s"] is not None for row in rows)
    else:
        triples = list(ox.parse(body, format=fmt))
        if form == "CONSTRUCT":
            assert len(triples) == 5
        else:
            assert any(t.subject == ox.NamedNode(PERSON) for t in triples)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("form", QUERIES)
@pytest.mark.parametrize("return_format", RETURN_FORMATS)
def test_sparqlwrapper_every_return_format_and_method(live_server, return_format, form, method):
    client = SPARQLWrapper(live_server.url + "/sparql")
    client.setQuery(QUERIES[form])
    client.setReturnFormat(return_format)
    if METHODS[method]:
        client.setMethod(POST)
        client.setRequestMethod(METHODS[method])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Sending Accept header '*/*' ..." for misfits
        response = client.query()
    body = response.response.read()
    media = response.response.headers["Content-Type"].split(";")[0]
    fmt = asked(form, return_format) or default_for(form)
    assert response.response.status == 200
    expected_media = fmt.media_type.split(";")[0]
    if fmt is ox.RdfFormat.N3:  # Turtle is served: an N3 reader reads it
        expected_media = ox.RdfFormat.TURTLE.media_type
    assert media == expected_media, (return_format, form, method, media)
    check_answer(form, body, fmt)


def test_sparqlwrapper_converts_what_it_asked_for(live_server):
    """SPARQLWrapper's own converters accept the answers (JSON dict, rdflib Graph, XML DOM)."""
    client = SPARQLWrapper(live_server.url + "/sparql")
    client.setQuery(QUERIES["SELECT"])
    client.setReturnFormat("json")
    assert len(client.queryAndConvert()["results"]["bindings"]) == 3
    client.setQuery(QUERIES["CONSTRUCT"])
    for return_format in ("rdf+xml", "json-ld"):
        client.setReturnFormat(return_format)
        assert len(client.queryAndConvert()) == 5
    client.setQuery(QUERIES["ASK"])
    client.setReturnFormat("xml")
    assert client.queryAndConvert().getElementsByTagName("boolean")[0].firstChild.data == "true"


# What the JDK's HttpClient sends on every HTTP/1.1 request (it offers an upgrade to HTTP/2).
H2C = (b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
       b"HTTP2-Settings: AAEAAEAAAAIAAAAAAAMAAAAAAAQBAAAAAAUAAEAA\r\n")


def _exchange(port: int, request: bytes, responses: int = 1) -> list[bytes]:
    """Send ``request`` ``responses`` times on one connection; the raw responses, in order."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for _ in range(responses):
            sock.sendall(request)
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                assert line, "connection closed before a full response head"
                head += line
            length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            out.append(head + reader.read(length))
    return out


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
@pytest.mark.parametrize("content_type, body", [
    ("application/x-www-form-urlencoded", b"query=" + quote("ASK { ?s a ?t }").encode()),
    ("application/sparql-query", b"ASK { ?s a ?t }"),
])
def test_java_clients_h2c_upgrade_offer_is_ignored_and_the_body_kept(live_server, framing, content_type, body):
    if framing == "chunked":
        framed = b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    else:
        framed = b"Content-Length: %d\r\n\r\n" % len(body) + body
    request = (b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\n" + H2C
               + b"Content-Type: " + content_type.encode() + b"\r\nAccept: application/sparql-results+json\r\n"
               + framed)
    for response in _exchange(live_server.port, request, responses=2):  # and the connection stays usable
        assert response.startswith(b"HTTP/1.1 200 "), response[:300]
        assert response.endswith(b'"boolean":true}')


def test_java_clients_h2c_head_and_body_in_separate_packets(live_server):
    body = b"ASK { ?s a ?t }"
    parts = [b"POST /sparql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade, HTTP2-Settings\r\n",
             b"Upgrade: h2c\r\nHTTP2-Settings: AAEAAEAAAAIAAAAAAAMAAAAAAAQBAAAAAAUAAEAA\r\n"
             b"Content-Type: application/sparql-query\r\nAccept: application/sparql-results+json\r\n"
             b"Content-Length: %d\r\n\r\n" % len(body), body]
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        for part in parts:
            sock.sendall(part)
            time.sleep(0.05)  # separate segments: the server sees the head in pieces
        answer = b""
        while not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b'"boolean":true}')


def test_java_clients_h2c_get_is_served(live_server):
    request = (b"GET /sparql?query=" + quote("ASK { ?s a ?t }").encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               + H2C + b"Accept: application/sparql-results+json\r\n\r\n")
    (response,) = _exchange(live_server.port, request)
    assert response.startswith(b"HTTP/1.1 200 ") and response.endswith(b'"boolean":true}')


DEBIAN_JARS = Path("/usr/share/java")
# slf4j bindings and bridges that Debian's dependency closure brings together; two of them on
# one class path stop Jena at start ("Detected both log4j-over-slf4j.jar AND ... slf4j-log4j12").
_LOGGING_BRIDGES = ("log4j-over-slf4j", "slf4j-log4j12", "slf4j-jdk14", "slf4j-simple", "slf4j-jcl",
                    "slf4j-migrator", "jcl-over-slf4j", "jul-to-slf4j")


def _debian_closure(package: str) -> list[str]:
    """The jars of ``package`` and of every -java package it depends on (dpkg's view)."""
    seen, todo, jars = set(), [package], []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        depends = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", name], capture_output=True, text=True).stdout
        for alternatives in depends.split(","):
            dep = alternatives.split("|")[0].strip().split(" ")[0].split(":")[0]
            if dep.endswith("-java"):
                todo.append(dep)
        listed = subprocess.run(["dpkg", "-L", name], capture_output=True, text=True).stdout.split()
        jars += [f for f in listed if f.startswith(str(DEBIAN_JARS) + "/") and f.endswith(".jar")]
    return [j for j in jars if not any(bridge in Path(j).name for bridge in _LOGGING_BRIDGES)]


def _xerces_messages(into: Path) -> Path:
    """Debian's jena-core 4.5.0 moves Jena's bundled Xerces classes to the package ``xerces``
    but leaves their message files under ``org/apache/jena/ext/xerces/``; without them Jena
    stops at start with "RuntimeException: internal error" (XSSimpleTypeDecl.applyFacets1).
    A class-path directory with the files where the classes look for them."""
    prefix = "org/apache/jena/ext/xerces/"
    with zipfile.ZipFile(DEBIAN_JARS / "jena-core.jar") as jar:
        for name in jar.namelist():
            if name.startswith(prefix) and not name.endswith((".class", "/")):
                target = into / "xerces" / name[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(jar.read(name))
    return into


def _jena_command(scratch: Path) -> list[str] | None:
    """Jena's rsparql from Debian's libapache-jena-java: the package's ``rsparql`` script if it
    ships one (4.5.0 does not), else ``java -cp <its jars> arq.rsparql``; None if not installed."""
    script = shutil.which("rsparql")
    if script:
        return [script]
    java = shutil.which("java")
    if not java or not shutil.which("dpkg-query") or not (DEBIAN_JARS / "jena-cmds.jar").exists():
        return None
    jars = _debian_closure("libapache-jena-java")
    return [java, "-cp", ":".join([*jars, str(_xerces_messages(scratch))]), "arq.rsparql"]


@pytest.mark.parametrize("post", [True, False])
def test_jena_rsparql(live_server, post, tmp_path):
    command = _jena_command(tmp_path)
    if command is None:
        pytest.skip("Jena's rsparql needs Debian's libapache-jena-java and a JRE (java); not installed here")
    query = tmp_path / "query.rq"
    query.write_text(QUERIES["SELECT"])
    args = [*command, "--service", live_server.url + "/sparql", "--results", "json", "--query", str(query)]
    if post:  # the JDK's HttpClient then sends the body with its "Upgrade: h2c" offer
        args.insert(len(command), "--post")
    run = subprocess.run(args, capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    rows = list(ox.parse_query_results(run.stdout, format=ox.QueryResultsFormat.JSON))
    assert len(rows) == 3
