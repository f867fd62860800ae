"""The readable validation report: violations grouped by the file to edit.

>>> from .violations import Violation
>>> print(render([Violation("graphs/claims/a.ttl", "claim/a-c001", "rdf:subject", "Claim claim/a-c001 must ...")],
...              triples=10, files=2, seconds=1.0))
ARKG validation FAILED: 1 violation (10 triples from 2 files, 1.0 s)
<BLANKLINE>
graphs/claims/a.ttl
  claim/a-c001 · rdf:subject
    Claim claim/a-c001 must ...
>>> print(render([], triples=10, files=2, seconds=1.0, corpus="seeds"))
ARKG validation passed: 0 violations (10 triples from 2 files, 1.0 s; quotes and hashes checked against seeds)
"""

from __future__ import annotations

from itertools import groupby

from server.validation.violations import Violation


def render(violations: list[Violation], *, triples: int, files: int, seconds: float,
           corpus: str | None = None, engine: str | None = None) -> str:
    """The report text; the first line says passed or FAILED and how many violations."""
    facts = f"{triples} triples from {files} files, {seconds:.1f} s"
    if engine:
        facts += f", {engine}"
    if corpus:
        facts += f"; quotes and hashes checked against {corpus}"
    count = f"{len(violations)} violation{'s' if len(violations) != 1 else ''}"
    if not violations:
        return f"ARKG validation passed: {count} ({facts})"
    lines = [f"ARKG validation FAILED: {count} ({facts})"]
    for where, group in groupby(sorted(violations), key=lambda v: v.where):
        lines += ["", where]
        for v in group:
            head = f"  {v.focus}" + (f" · {v.path}" if v.path else "")
            lines += [head, f"    {v.message}"]
    return "\n".join(lines)
