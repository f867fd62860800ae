"""Dumps: `arkg build` output read back against the store, and /dumps/ over HTTP.

The content tests build into a temporary directory from the same data the app serves
(its backend's StoreSpec) and compare each dump, parsed back with pyoxigraph, with that
store as sets of quads after canonical blank-node labelling (the ontology and shapes
contain blank nodes). The HTTP tests use the session app, which builds the dumps of its
version into settings.dumps_dir at startup.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client

import pyoxigraph as ox
import pytest

from server.publish import dumps
from server.engine.worker import StoreSpec, open_store


@pytest.fixture(scope="module")
def backend(client):
    return client.app.state.backend


@pytest.fixture(scope="module")
def built(backend, tmp_path_factory):
    return dumps.build(backend.spec, backend.version, tmp_path_factory.mktemp("dumps"), base_iri="https://w3id.org/arkg/")


@pytest.fixture(scope="module")
def store(backend):
    return open_store(backend.spec)


def _canonical(quads) -> set[ox.Quad]:
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return set(dataset)


def _read(path, kind: dumps.DumpKind) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if kind.gzip else data


def test_build_writes_every_dump_and_checksums(built):
    names = [f.name for f in built.files]
    assert names == [d.name for d in dumps.DUMPS] + [dumps.VOID_FILE, dumps.SUMS_FILE]
    lines = (built.directory / dumps.SUMS_FILE).read_text().splitlines()
    assert len(lines) == len(names) - 1
    for line in lines:  # the `sha256sum -c` format: digest, two spaces, name
        digest, name = line.split("  ")
        assert hashlib.sha256((built.directory / name).read_bytes()).hexdigest() == digest
    for f in built.files:
        assert f.size == f.path.stat().st_size > 0


@pytest.mark.parametrize("kind", dumps.DUMPS, ids=lambda k: k.name)
def test_each_dump_parses_back_to_exactly_the_published_data(built, store, kind):
    parsed = list(ox.parse(_read(built.directory / kind.name, kind), format=kind.format.ox))
    if kind.quads:
        expected = list(store)
        assert {q.graph_name for q in parsed} == {q.graph_name for q in expected}
    else:  # all named graphs merged into one graph
        expected = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in {q.triple for q in store}]
        assert all(q.graph_name == ox.DefaultGraph() for q in parsed)
    assert len(parsed) == len(expected)
    assert _canonical(parsed) == _canonical(expected)


def test_quads_dump_equals_the_source_files(backend, built):
    """Not only the store: the files themselves, parsed directly, each into its named graph."""
    from server.engine.dataset import RDF_EXTENSIONS

    expected = []
    for path, graph in backend.spec.files:
        fmt = RDF_EXTENSIONS["." + path.rsplit(".", 1)[-1]]
        expected += [ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(graph)) for q in ox.parse(path=path, format=fmt)]
    parsed = ox.parse(gzip.decompress((built.directory / "arkg.nq.gz").read_bytes()), format=ox.RdfFormat.N_QUADS)
    assert _canonical(parsed) == _canonical(expected)


def test_turtle_dump_uses_the_project_prefixes(built):
    head = (built.directory / "arkg.ttl").read_text(encoding="utf-8")[:3000]
    assert "@prefix arkg: <https://w3id.org/arkg/ontology#> ." in head
    assert "@prefix schema: <http://schema.org/> ." in head


def test_gzip_dumps_are_plain_gzip_files(built, store):
    raw = (built.directory / "arkg.nt.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip magic; mtime 0 for reproducible bytes
    assert gzip.decompress(raw).count(b"\n") == len({q.triple for q in store})  # one line per distinct triple


def test_build_is_deterministic(backend, built, tmp_path):
    again = dumps.build(backend.spec, backend.version, tmp_path, base_iri="https://w3id.org/arkg/", force=True)
    assert [(f.name, f.sha256) for f in again.files] == [(f.name, f.sha256) for f in built.files]


def test_existing_build_is_kept_and_force_rebuilds(backend, tmp_path):
    first = dumps.build(backend.spec, backend.version, tmp_path, base_iri="https://w3id.org/arkg/")
    marker = first.directory / dumps.SUMS_FILE
    mtime = marker.stat().st_mtime_ns
    assert dumps.build(backend.spec, backend.version, tmp_path, base_iri="https://w3id.org/arkg/").files == first.files
    assert marker.stat().st_mtime_ns == mtime
    dumps.build(backend.spec, backend.version, tmp_path, base_iri="https://w3id.org/arkg/", force=True)
    assert [p.name for p in tmp_path.iterdir()] == [backend.version]  # no temporary or old directories left


def test_failed_build_leaves_nothing(tmp_path):
    spec = StoreSpec(files=((str(tmp_path / "missing.ttl"), "https://w3id.org/arkg/graph/claims"),))
    with pytest.raises(OSError):
        dumps.build(spec, "v1", tmp_path / "out", base_iri="https://w3id.org/arkg/")
    assert list((tmp_path / "out").iterdir()) == []  # neither a version directory nor a temporary one
    assert dumps.read_build(tmp_path / "out", "v1") is None


def test_only_files_listed_in_the_checksums_belong_to_a_build(built, tmp_path):
    stray = built.directory / "stray.txt"
    stray.write_text("not a dump")
    try:
        assert dumps.read_build(built.directory.parent, built.version).file("stray.txt") is None
    finally:
        stray.unlink()
    assert dumps.read_build(built.directory.parent, "..") is None
    assert dumps.read_build(built.directory.parent, "../" + built.version) is None


def test_cli_build(tmp_path):
    from typer.testing import CliRunner

    from server.cli import app

    result = CliRunner().invoke(app, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (version,) = [p.name for p in tmp_path.iterdir()]
    assert dumps.read_build(tmp_path, version) is not None
    assert f"version {version}" in result.output


# --- HTTP

@pytest.fixture(scope="module")
def current(client, backend):
    build = dumps.read_build(client.app.state.settings.dumps_dir, backend.info.version)
    assert build is not None, "the app builds the dumps of its version at startup"
    return build


IDENTITY = {"Accept-Encoding": "identity"}


def test_index_lists_versions_and_files_as_json(client, current):
    r = client.get("/dumps/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["current_version"] == current.version
    (listed,) = [v for v in body["versions"] if v["version"] == current.version]
    assert listed["current"] is True
    assert [(f["name"], f["size"], f["sha256"]) for f in listed["files"]] == \
        [(f.name, f.size, f.sha256) for f in current.files]
    assert listed["files"][0]["url"] == f"http://testserver/dumps/{current.version}/arkg.ttl"


def test_index_is_html_for_browsers(client, current):
    r = client.get("/dumps/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert f'href="http://testserver/dumps/{current.version}/arkg.nt.gz"' in r.text
    assert str(current.file("arkg.ttl").size) in r.text
    assert client.get(f"/dumps/{current.version}/", headers={"Accept": "text/html"}).status_code == 200
    assert client.get("/dumps/no-such-version/").status_code == 404


@pytest.mark.parametrize("name,media_type", [
    ("arkg.ttl", "text/turtle; charset=utf-8"), ("arkg.nt.gz", "application/gzip"),
    ("arkg.nq.gz", "application/gzip"), ("arkg.trig", "application/trig; charset=utf-8"),
    ("arkg.jsonld", "application/ld+json; charset=utf-8"), ("void.ttl", "text/turtle; charset=utf-8"),
    ("SHA256SUMS", "text/plain; charset=utf-8")])
def test_files_are_served_with_media_type_size_etag(client, current, name, media_type):
    f = current.file(name)
    r = client.get(f"/dumps/{current.version}/{name}", headers=IDENTITY)
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type
    assert "content-encoding" not in r.headers  # a .gz file is a download, not a transfer coding
    assert int(r.headers["content-length"]) == f.size == len(r.content)
    assert r.content == f.path.read_bytes()
    assert r.headers["etag"] == f'"{f.sha256}"'
    assert "immutable" in r.headers["cache-control"]
    assert r.headers["accept-ranges"] == "bytes"
    head = client.head(f"/dumps/{current.version}/{name}", headers=IDENTITY)
    assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) == f.size


def test_gzip_dump_is_not_recompressed(client, current):
    r = client.get(f"/dumps/{current.version}/arkg.nq.gz", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in r.headers
    assert r.content == current.file("arkg.nq.gz").path.read_bytes()


def test_conditional_get_answers_304(client, current):
    url = f"/dumps/{current.version}/arkg.ttl"
    etag = client.get(url, headers=IDENTITY).headers["etag"]
    r = client.get(url, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": '"something-else"', **IDENTITY}).status_code == 200


def test_range_requests(client, current):
    f = current.file("arkg.ttl")
    data = f.path.read_bytes()
    url = f"/dumps/{current.version}/arkg.ttl"
    r = client.get(url, headers={"Range": "bytes=100-199"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes 100-199/{f.size}"
    assert r.content == data[100:200] and r.headers["content-length"] == "100"
    r = client.get(url, headers={"Range": "bytes=-50"})
    assert r.status_code == 206 and r.content == data[-50:]
    r = client.get(url, headers={"Range": f"bytes={f.size - 10}-"})
    assert r.status_code == 206 and r.content == data[-10:]
    r = client.get(url, headers={"Range": f"bytes={f.size}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{f.size}"
    # If-Range: the range only while the representation is unchanged.
    r = client.get(url, headers={"Range": "bytes=0-9", "If-Range": f'"{f.sha256}"'})
    assert r.status_code == 206 and r.content == data[:10]
    r = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"', **IDENTITY})
    assert r.status_code == 200 and len(r.content) == f.size
    gz = current.file("arkg.nt.gz")
    r = client.get(f"/dumps/{current.version}/arkg.nt.gz", headers={"Range": "bytes=0-1"})
    assert r.status_code == 206 and r.content == b"\x1f\x8b" and "content-encoding" not in r.headers
    assert r.headers["content-range"] == f"bytes 0-1/{gz.size}"


def test_latest_redirects_to_the_current_version(client, current):
    r = client.get("/dumps/latest/arkg.nt.gz", follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == f"http://testserver/dumps/{current.version}/arkg.nt.gz"
    assert client.head("/dumps/latest/arkg.ttl", follow_redirects=False).status_code == 302
    r = client.get("/dumps/latest/", follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == f"http://testserver/dumps/{current.version}/"
    r = client.get("/dumps/latest/nothing.ttl", follow_redirects=False)
    assert r.status_code == 404 and "arkg.ttl" in r.text


@pytest.mark.parametrize("path", [
    "/dumps/%2e%2e/pyproject.toml", "/dumps/..%2F..%2F/pyproject.toml", "/dumps/{v}/..%2F..%2F..%2Fpyproject.toml",
    "/dumps/{v}/%2e%2e", "/dumps/{v}/.hidden", "/dumps/{v}/%2Fetc%2Fpasswd", "/dumps/latest/..%2F..%2Fpyproject.toml",
    "/dumps/{v}/arkg.ttl%00.txt", "/dumps/{v}/ARKG.TTL", "/dumps/nope/arkg.ttl", "/dumps/{v}/arkg.ttl/x"])
def test_paths_outside_the_builds_are_404(client, current, path):
    r = client.get(path.format(v=current.version), follow_redirects=False)
    assert r.status_code == 404, r.text


@pytest.mark.slow
def test_raw_dot_segments_are_refused_by_a_real_server(live_server):
    """Unnormalised ``..`` in the request line (clients like httpx would remove it)."""
    host, port = "127.0.0.1", live_server.port
    for target in ("/dumps/../../pyproject.toml", "/dumps/latest/../../../pyproject.toml",
                   "/dumps/x/../../../../etc/passwd", "/dumps/%2e%2e/%2e%2e/pyproject.toml"):
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.putrequest("GET", target, skip_accept_encoding=True)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
        finally:
            conn.close()
        assert response.status == 404, (target, response.status)
        assert b"[project]" not in body and b"root:" not in body


def test_build_refuses_to_label_other_data_with_a_version(backend, tmp_path):
    with pytest.raises(dumps.DataChanged):
        dumps.build(backend.spec, "000000000000", tmp_path, base_iri="https://w3id.org/arkg/")
    assert list(tmp_path.iterdir()) == []


def test_text_dumps_keep_length_and_etag_when_the_client_accepts_gzip(client, current):
    """No on-the-fly compression under /dumps/: Content-Length, strong ETag and ranges stay exact."""
    plain = client.get(f"/dumps/{current.version}/arkg.ttl")
    asked = client.get(f"/dumps/{current.version}/arkg.ttl", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in asked.headers
    assert asked.headers["content-length"] == plain.headers["content-length"] == str(len(plain.content))
    assert asked.headers["etag"] == plain.headers["etag"]


def test_home_page_lists_the_dumps_and_describes_them_in_schema_org(client, current):
    import json
    import re

    page = client.get("/", headers={"Accept": "text/html"}).text
    assert f"/dumps/{current.version}/arkg.ttl" in page
    (block,) = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, flags=re.DOTALL)
    downloads = json.loads(block)["distribution"]
    assert {d["contentUrl"].rsplit("/", 1)[-1] for d in downloads} >= {"arkg.ttl", "arkg.nt.gz", "arkg.nq.gz"}
