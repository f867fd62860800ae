"""The data directories are found from a wheel as well as from an editable checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_editable_checkout_finds_the_data():
    from server import paths

    assert (paths.ontology_dir() / "arkg.ttl").is_file()
    assert (paths.graphs_dir() / "claims").is_dir()


def test_wheel_carries_the_data_and_finds_it(tmp_path):
    pytest.importorskip("hatchling", reason="hatchling (the build backend) is needed to build the wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("arkg-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert "server/_data/ontology/arkg.ttl" in names
        assert any(n.startswith("server/_data/graphs/claims/") for n in names)
        z.extractall(tmp_path / "site")
    out = subprocess.run([sys.executable, "-c", "from server import paths; print(paths.data_root())"],
                         cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tmp_path / "site" / "server" / "_data")
