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
