"""Where the data directories are, installed editable or as a wheel.

A wheel carries ``ontology/``, ``graphs/`` and ``shapes/`` under ``server/_data``
(see pyproject.toml); a source checkout has them beside ``server/``.

>>> (data_root() / "ontology").is_dir()
True
"""

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    """The directory holding ontology/, graphs/ and shapes/."""
    bundled = _PACKAGE / "_data"
    if (bundled / "ontology").is_dir():
        return bundled
    return _PACKAGE.parent


def ontology_dir() -> Path:
    return data_root() / "ontology"


def graphs_dir() -> Path:
    return data_root() / "graphs"


def default_corpus_dir() -> Path:
    """``../shared/seeds`` beside the checkout, where CI and developers keep the corpus."""
    return _PACKAGE.parent.parent / "shared" / "seeds"
