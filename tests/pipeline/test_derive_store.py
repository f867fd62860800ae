"""`arkg build` derives over its on-disk store (no in-memory copy): the same outputs as from the files."""

from __future__ import annotations

import pyoxigraph as ox

from server.pipeline import derive
from server.publish.build import inputs
from server.publish.store import build_store


def test_derive_over_a_build_store_equals_derive_over_the_files(tmp_path):
    files, version = inputs(None)  # every graph but the derived ones, as the build loads them
    build_store(tmp_path / "store", files, version=version)
    store = ox.Store.read_only(str(tmp_path / "store"))
    from_store = derive.derive_outputs(store=store)
    from_files = derive.derive_outputs()
    assert [o.path for o in from_store] == [o.path for o in from_files]
    assert [o.text for o in from_store] == [o.text for o in from_files]
    assert any("arkg:Proposition" in (o.text or "") or "Proposition" in (o.text or "") for o in from_store)


def test_the_builds_derived_lines_are_the_derived_files_in_the_serialisers_form(tmp_path):
    """`arkg build` writes the derived graphs as N-Triples lines itself: the same triples as
    `arkg derive`'s Turtle files, each line exactly as pyoxigraph serialises it (the dumps
    find a triple stated twice by comparing lines)."""
    props, labels = derive.propositions()
    files = {name: tmp_path / f"{name}.nt" for name in ("derived", "asserted")}
    written = derive.write_derived(props, labels, files)
    for out, name in zip(derive.render_outputs(tmp_path, props, labels), ("derived", "asserted")):
        lines = files[name].read_bytes().splitlines(keepends=True)
        assert written[name] == len(lines) > 0
        from_turtle = ox.serialize(ox.parse(out.text, format=ox.RdfFormat.TURTLE), format=ox.RdfFormat.N_TRIPLES)
        assert sorted(lines) == sorted(from_turtle.splitlines(keepends=True))
    assert any(b'"@en .' in line or b'\\"' in line for line in files["derived"].read_bytes().splitlines())
