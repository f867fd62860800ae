"""Dumps: what `arkg build` writes, read back against the store, and /dumps/ over HTTP.

The content tests read the session's build (tests/conftest.py: ``build_dir``, made by
:func:`server.publish.build.build`, as `arkg serve` makes it) and compare each dump, parsed
back with pyoxigraph, with the build's store as sets of quads after canonical blank-node
labelling (the ontology and shapes contain blank nodes), and with the source files.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client

import pyoxigraph as ox
import pytest
from fastapi.testclient import TestClient

from server.publish import build as builder
from server.publish import dumps
from server.engine.dataset import DatasetError, dataset_files
from server.engine.worker import open_store

DATA_STAGES = [s for s in builder.STAGES if s.name in ("store", "graphs", "derive", "statistics", "dumps", "void")]


@pytest.fixture(scope="module")
def backend(client):
    return client.app.state.backend


@pytest.fixture(scope="module")
def built(client, backend):
    found = builder.served_dumps(client.app.state.settings.build_dir, backend.info.version)
    assert found is not None, "the session app serves a build (tests/conftest.py: build_dir)"
    return found


@pytest.fixture(scope="module")
def store(backend):
    assert backend.spec.disk_path, "the app opens the build's store"
    return open_store(backend.spec)


def _canonical(quads) -> set[ox.Quad]:
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)  # labels fit for one comparison, not for files
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
    parsed = list(ox.parse(_read(built.directory / kind.name, kind), format=kind.format.engine_format))
    if kind.quads:
        expected = list(store)
        assert {q.graph_name for q in parsed} == {q.graph_name for q in expected}
    else:  # all named graphs merged into one graph
        expected = [ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph()) for t in {q.triple for q in store}]
        assert all(q.graph_name == ox.DefaultGraph() for q in parsed)
    assert len(parsed) == len(expected)
    assert _canonical(parsed) == _canonical(expected)


def test_counts_of_the_dump_pass_equal_the_sparql_counts(store, tmp_path):
    """VoID's counts over distinct triples, tallied while the merged dumps are written (whole
    graphs by aggregates, less the triples an earlier graph states too), are the
    ones SPARQL gives over the union of the graphs."""
    from server.publish import void

    assert len(store) > len({q.triple for q in store}), "some triples are in two graphs: the dumps count them once"
    tally = void.Tally()
    dumps.write_data_dumps(store, tmp_path, tally=tally)
    assert tally.triples and tally.classes and tally.properties
    assert void.statistics_of_store(store, tally) == void.statistics_of_store(store)


def test_lines_whose_hashes_collide_are_compared_as_bytes(built, store, tmp_path, monkeypatch):
    """The merged dumps leave out a line only when an earlier one is the same bytes: with a
    hash that makes most lines collide, the same files come out."""
    dumps.write_data_dumps(store, tmp_path / "hashed")
    monkeypatch.setattr(dumps, "_line_hash", lambda line: len(line) % 7)
    monkeypatch.setattr(dumps, "BLOCK", 4096)  # many blocks, and lines cut at their edges
    dumps.write_data_dumps(store, tmp_path / "colliding")
    for kind in dumps.DUMPS:
        assert (tmp_path / "colliding" / kind.name).read_bytes() == (tmp_path / "hashed" / kind.name).read_bytes(), kind.name


def test_large_data_path_writes_the_same_bytes(built, store, tmp_path, monkeypatch):
    """Above PROCESSES_FROM, TriG and JSON-LD are written by spawned processes: the same files."""
    dumps.write_data_dumps(store, tmp_path / "small")
    monkeypatch.setattr(dumps, "PROCESSES_FROM", 0)
    dumps.write_data_dumps(store, tmp_path / "large")
    for kind in dumps.DUMPS:
        assert (tmp_path / "large" / kind.name).read_bytes() == (tmp_path / "small" / kind.name).read_bytes(), kind.name


def test_quads_dump_equals_the_source_files(built):
    """Not only the store: the files themselves, parsed directly, each into its named graph
    (the derived graphs as `arkg derive` writes them, which the build derives afresh)."""
    from server.engine.dataset import RDF_EXTENSIONS

    expected = []
    for f in dataset_files():
        expected += [ox.Quad(q.subject, q.predicate, q.object, ox.NamedNode(f.graph_iri))
                     for q in ox.parse(path=str(f.path), format=RDF_EXTENSIONS[f.path.suffix])]
    parsed = ox.parse(gzip.decompress((built.directory / "arkg.nq.gz").read_bytes()), format=ox.RdfFormat.N_QUADS)
    assert _canonical(parsed) == _canonical(expected)


def test_turtle_and_trig_dumps_use_the_project_prefixes(built):
    for name in ("arkg.ttl", "arkg.trig"):
        head = (built.directory / name).read_text(encoding="utf-8")[:3000]
        assert "@prefix arkg: <https://w3id.org/arkg/ontology#> ." in head
        assert "@prefix schema: <http://schema.org/> ." in head


def test_gzip_dumps_are_plain_gzip_files(built, store):
    raw = (built.directory / "arkg.nt.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\0\0\0\0"  # gzip magic; mtime 0 for reproducible bytes
    assert gzip.decompress(raw).count(b"\n") == len({q.triple for q in store})  # one line per distinct triple


def test_build_is_deterministic(built, tmp_path):
    """A second build of the same files, from scratch: byte-identical dumps (blank nodes included)."""
    again = builder.build(tmp_path, validate=False, stages=DATA_STAGES)
    copy = builder.served_dumps(tmp_path, again.version)
    assert again.version == built.version
    assert [(f.name, f.sha256) for f in copy.data_files] == [(f.name, f.sha256) for f in built.data_files]


def test_existing_build_is_kept_and_force_rebuilds(tmp_path):
    first = builder.build(tmp_path, validate=False, stages=DATA_STAGES)
    assert first.built and first.layout.complete
    mtime = first.layout.manifest.stat().st_mtime_ns
    again = builder.build(tmp_path, validate=False, stages=DATA_STAGES)
    assert not again.built and first.layout.manifest.stat().st_mtime_ns == mtime
    forced = builder.build(tmp_path, validate=False, stages=DATA_STAGES, force=True)
    assert forced.built and forced.layout.manifest.stat().st_mtime_ns != mtime
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [first.version]  # nothing else left


def test_failed_build_leaves_nothing(tmp_path):
    data = tmp_path / "data"
    (data / "graphs" / "claims").mkdir(parents=True)
    (data / "graphs" / "claims" / "broken.ttl").write_text("<a> <b> .\n")
    area = tmp_path / "area"
    with pytest.raises((builder.BuildFailed, DatasetError)):
        builder.build(area, data, validate=False)
    assert [p.name for p in area.iterdir() if not p.name.endswith(".lock")] == []  # no version, no staging


def test_a_failed_build_keeps_the_previous_one(tmp_path):
    good = builder.build(tmp_path, validate=False, stages=DATA_STAGES)

    def boom(ctx, bar):
        raise builder.BuildFailed("stage failed on purpose")

    with pytest.raises(builder.BuildFailed):
        builder.build(tmp_path, validate=False, force=True, stages=[*DATA_STAGES, builder.Stage("boom", "fails", boom)])
    assert good.layout.complete and builder.served_dumps(tmp_path, good.version) is not None


def test_only_files_listed_in_the_checksums_belong_to_a_build(built, tmp_path):
    stray = built.directory / "stray.txt"
    stray.write_text("not a dump")
    try:
        assert dumps.read_build(built.directory.parent, built.version).file("stray.txt") is None
    finally:
        stray.unlink()
    assert dumps.read_build(built.directory.parent, "..") is None
    assert dumps.read_build(built.directory.parent, "../" + built.version) is None


def test_manifest_says_what_was_built(built, client):
    layout = builder.BuildLayout.of(client.app.state.settings.build_dir, built.version)
    manifest = builder.read_manifest(layout)
    assert manifest["version"] == built.version
    assert [s["name"] for s in manifest["stages"]] == [s.name for s in builder.STAGES]
    assert all(s["seconds"] >= 0 and s["peak_rss_mib"] > 0 for s in manifest["stages"])
    assert {f["graph"] for f in manifest["files"]} >= {"claims", "entities", "ontology", "shapes"}
    assert not {f["graph"] for f in manifest["files"]} & set(builder.DERIVED_GRAPHS)  # derived by the build


@pytest.mark.slow
def test_cli_build(tmp_path):
    from typer.testing import CliRunner

    from server.cli import app

    result = CliRunner().invoke(app, ["build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (version,) = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert builder.served_dumps(tmp_path, version) is not None
    assert f"version {version} built" in result.output
    for stage in builder.STAGES:
        assert stage.name in result.output  # the summary table
    again = CliRunner().invoke(app, ["build", "--out", str(tmp_path)])
    assert again.exit_code == 0 and f"version {version} is up to date" in again.output


def test_without_a_build_dumps_and_health_say_what_is_missing(tmp_path, settings):
    """A server over the files with an empty build area builds nothing: it says so."""
    bare = settings.model_copy(update={"build_dir": tmp_path / "empty", "query_workers": 1})
    from server.web.app import create_app

    with TestClient(create_app(bare)) as c:
        health = c.get("/health").json()
        assert health["build"]["missing"] == ["build"] and "arkg build" in health["build"]["note"]
        index = c.get("/dumps/")
        assert index.status_code == 200 and "arkg build" in index.json()["not_built"]
        assert "arkg build" in c.get("/dumps/", headers={"Accept": "text/html"}).text
        latest = c.get("/dumps/latest/arkg.ttl", follow_redirects=False)
        assert latest.status_code == 404 and "arkg build" in latest.text
        void = c.get("/.well-known/void")
        assert void.status_code == 404 and "arkg build" in void.text
    assert not (tmp_path / "empty").exists()  # nothing was built


# --- HTTP

@pytest.fixture(scope="module")
def current(built):
    return built


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
