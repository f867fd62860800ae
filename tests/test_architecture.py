"""The architecture rules of README's "Inside server/", checked on the real import graph.

The layer and forbidden-import contracts live in pyproject.toml (``[tool.importlinter]``)
and run through import-linter's own command; the cycle check covers what a layers contract
cannot see: cycles between modules of one folder, function-level imports included.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_hold():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    out = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0 broken" in out.stdout


def test_no_import_cycles_anywhere():
    graph = grimp.build_graph("server")
    g = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            if imported.startswith("server"):
                g.add_edge(module, imported)
    # A package's __init__ importing its own submodules is not a cycle of behaviour.
    g.remove_edges_from([(a, b) for a, b in list(g.edges) if b.startswith(a + ".")])
    cycles = list(nx.simple_cycles(g, length_bound=6))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + [c[0]]) for c in cycles[:5])
