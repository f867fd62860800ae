"""Helpers for the validation tests: a throw-away copy of the data to break, and finders
that pick the claims to break from the real data (so the tests follow curation changes)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pyoxigraph as ox

from server.model.namespaces import ARKG, ID, sparql_prefixes
from server.engine.dataset import dataset_files, load_store

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "seeds"


class DataCopy:
    """ontology/, graphs/ and shapes/ copied under ``root``, with text edits that must hit."""

    def __init__(self, root: Path):
        self.root = root
        for part in ("ontology", "graphs", "shapes"):
            shutil.copytree(ROOT / part, root / part, ignore=shutil.ignore_patterns("*.yaml", "*.md"))

    def path(self, relative: str) -> Path:
        return self.root / relative

    def replace(self, relative: str, old: str, new: str) -> None:
        """Replace the one occurrence of ``old``."""
        text = self.path(relative).read_text(encoding="utf-8")
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {relative}"
        self.path(relative).write_text(text.replace(old, new), encoding="utf-8")

    def append(self, relative: str, turtle: str) -> None:
        with self.path(relative).open("a", encoding="utf-8") as fh:
            fh.write("\n" + turtle + "\n")

    def edit_block(self, relative: str, subject: str, pattern: str, new: str) -> None:
        """Apply the regex ``pattern`` -> ``new`` once inside the block of statements that
        starts with ``<subject>`` at the start of a line (up to the next blank line)."""
        text = self.path(relative).read_text(encoding="utf-8")
        match = re.search(rf"^<{re.escape(subject)}> ", text, flags=re.MULTILINE)
        assert match, f"no block for {subject} in {relative}"
        start = match.start()
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end
        block, count = re.subn(pattern, new, text[start:end], count=1, flags=re.MULTILINE)
        assert count == 1, f"{pattern!r} not found in the block of {subject}"
        self.path(relative).write_text(text[:start] + block + text[end:], encoding="utf-8")

    def edit_claim(self, claim: str, pattern: str, new: str) -> None:
        """Apply the regex ``pattern`` -> ``new`` once inside the Turtle block of ``claim``
        (the claim with its evidence and selectors, up to the next blank line)."""
        self.edit_block(claim_file(claim), claim, pattern, new)


def claim_file(claim: str) -> str:
    """``graphs/claims/<article>.ttl`` for a claim IRI ``.../claim/<article>-cNNN``."""
    article = claim.rsplit("/", 1)[-1].rsplit("-c", 1)[0]
    return f"graphs/claims/{article}.ttl"


_STORE: ox.Store | None = None


def real_store() -> ox.Store:
    global _STORE
    if _STORE is None:
        _STORE = load_store([f for f in dataset_files(ROOT) if f.graph != "shapes"])
    return _STORE


def select(where: str) -> list[dict[str, str]]:
    """Rows of ``SELECT * WHERE { where }`` over the real data, values as plain strings, sorted."""
    rows = real_store().query(sparql_prefixes() + f"SELECT * WHERE {{ {where} }}", use_default_graph_as_union=True)
    names = [v.value for v in rows.variables]
    found = [{n: r[n].value for n in names if r[n] is not None} for r in rows]
    return sorted(found, key=lambda row: sorted(row.items()))


def claims(where: str = "", exclude: set[str] = frozenset()) -> list[str]:
    """Claim IRIs (sorted) matching ``where`` (a pattern on ?claim), skipping ``exclude``."""
    rows = select(f"?claim a arkg:Claim . {where}")
    return [c for c in dict.fromkeys(r["claim"] for r in rows) if c not in exclude]


__all__ = ["ARKG", "CORPUS", "ID", "ROOT", "DataCopy", "claim_file", "claims", "select"]
