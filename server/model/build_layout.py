"""Where a build keeps what it made: the one description of a build directory.

``arkg build`` (server/publish/build.py) writes these files; the web server only reads them
and says in ``/health`` which are missing. Both sides name files through this class, never
by string.

The build area (``Settings.build_dir``, default ``var/build``) holds one build per dataset
version, ``<area>/<version>/``, so a server can go on reading the build of the version it
serves while a reload builds the next one beside it. A directory is a build only once its
manifest exists: it is written last.

>>> layout = BuildLayout(Path("var/build"))
>>> layout.store, layout.search_index
(PosixPath('var/build/store'), PosixPath('var/build/search.sqlite'))
>>> BuildLayout.of(Path("var/build"), "b4bfc9e5c5f7").root
PosixPath('var/build/b4bfc9e5c5f7')
>>> BuildLayout.of(Path("var/build"), "../x") is None
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class BuildLayout:
    root: Path

    @classmethod
    def of(cls, area: Path, version: str) -> "BuildLayout | None":
        """The build of dataset ``version`` in the build area (None for a name that cannot be one)."""
        if not _VERSION.fullmatch(version) or ".." in version:
            return None
        return cls(Path(area) / version)

    @classmethod
    def served(cls, area: Path, version: str) -> "BuildLayout":
        """Where a server reads the build of ``version``: its complete build in the area, else
        the area itself (a directory holding some build files directly, as tests write)."""
        layout = cls.of(area, version)
        return layout if layout is not None and layout.complete else cls(Path(area))

    @property
    def complete(self) -> bool:
        """Whether the build finished (its manifest, written last, exists)."""
        return self.manifest.is_file()

    def missing(self) -> list[str]:
        """What a server reading this build will not find, by name (empty when all is there)."""
        if not self.complete:
            return ["build"]
        return [name for name in ("store", "dumps", "void", "figures", "search_index")
                if not getattr(self, name).exists()]

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
