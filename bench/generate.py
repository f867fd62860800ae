"""The benchmark's data: `arkg synth` (server/pipeline/synth.py), kept here under its old name.

    .venv/bin/python bench/generate.py --triples 100000 --out bench/data/100k/dataset
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from server.pipeline.synth import GENERATOR_VERSION, generate  # noqa: E402,F401  (bench/run.py uses both)

if __name__ == "__main__":
    from server.cli import app

    app(["synth", *sys.argv[1:]])
