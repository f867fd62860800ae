"""Remember that a dataset version passed validation, so `arkg serve` starts fast.

The key covers the data (the dataset version hashes every file, shapes included), the
validation code and pyshacl's version: changing any of them validates again. Only passes
are remembered; a failing dataset is validated (and reported) every time.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     before = passed(Path(d), "abc123")
...     remember(Path(d), "abc123")
...     before, passed(Path(d), "abc123"), passed(Path(d), "other")
(False, True, False)
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

import pyshacl


@cache
def _code_version() -> str:
    digest = hashlib.sha256(pyshacl.__version__.encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def _marker(cache_dir: Path, dataset_version: str) -> Path:
    return Path(cache_dir) / "validation" / f"{dataset_version}-{_code_version()}.passed"


def passed(cache_dir: Path, dataset_version: str) -> bool:
    """Whether this dataset version passed validation with this code before."""
    return _marker(cache_dir, dataset_version).is_file()


def remember(cache_dir: Path, dataset_version: str) -> None:
    """Record a pass; a cache that cannot be written only costs the next start its speed."""
    marker = _marker(cache_dir, dataset_version)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text("passed\n", encoding="utf-8")
    except OSError:
        pass
