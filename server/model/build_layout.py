"""Where a build keeps what it made: the one description of a build directory.

``arkg build`` (server/publish/) writes these files; the web server only reads them and says
in ``/health`` which are missing. Both sides name files through this class, never by string.

>>> layout = BuildLayout(Path("var/build"))
>>> layout.store, layout.search_index
(PosixPath('var/build/store'), PosixPath('var/build/search.sqlite'))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BuildLayout:
    root: Path

    @property
    def store(self) -> Path:
        """The on-disk pyoxigraph store every server process opens read-only."""
        return self.root / "store"

    @property
    def dumps(self) -> Path:
        """Versioned dumps: ``dumps/<version>/`` with SHA256SUMS."""
        return self.root / "dumps"

    @property
    def void(self) -> Path:
        """The VoID + DCAT description (Turtle, canonical IRIs)."""
        return self.root / "void.ttl"

    @property
    def figures(self) -> Path:
        """Precomputed figures and top lists that pages show (JSON)."""
        return self.root / "figures.json"

    @property
    def search_index(self) -> Path:
        """The SQLite FTS5 search index (labels, alternative labels, quotes)."""
        return self.root / "search.sqlite"

    @property
    def manifest(self) -> Path:
        """What was built, from which dataset version, when: written last, read first."""
        return self.root / "build.json"
