"""One problem found in the data, in the terms a curator needs: what, where, which file.

Shape messages carry ``{$this}``, ``{$value}``, ``{$path}`` and ``{?var}`` placeholders;
:func:`fill` puts in the nodes, written short (``claim/x-c001``, ``arkg:visited``), for
core constraints too (pyshacl fills them only for SPARQL-based ones).

>>> short("https://w3id.org/arkg/id/claim/trt-tehran-talks-c001")
'claim/trt-tehran-talks-c001'
>>> short("https://w3id.org/arkg/ontology#visited")
'arkg:visited'
>>> short('"Kabul"')
'"Kabul"'
>>> fill("Claim {$this}: {?path} {$value} is unknown", {"this": "https://w3id.org/arkg/id/claim/a-c001",
...      "path": "http://www.w3.org/1999/02/22-rdf-syntax-ns#subject", "value": "https://w3id.org/arkg/id/person/x"})
'Claim claim/a-c001: rdf:subject person/x is unknown'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from server.model.namespaces import ID, PREFIXES

_PLACEHOLDER = re.compile(r"\{[$?]([A-Za-z_][A-Za-z0-9_]*)\}")
# longest namespaces first, so that arkg:'s ontology# wins over the base
_NAMESPACES = sorted([(ID, "")] + [(iri, f"{p}:") for p, iri in PREFIXES.items()],
                     key=lambda item: -len(item[0]))


@dataclass(frozen=True, order=True)
class Violation:
    file: str  # where the focus node is stated ("" if nowhere)
    focus: str  # the node at fault (short form)
    path: str  # the property at fault (short form; "" if none)
    message: str  # what is wrong and what to do, placeholders filled in
    value: str = ""  # the offending value, if any
    shape: str = ""  # the shape or check that found it

    @property
    def where(self) -> str:
        return self.file or "(not stated in any data file)"


def short(node: str | None) -> str:
    """An IRI written short for people: kind/slug for ARKG things, prefix:name for terms."""
    if not node:
        return ""
    for namespace, prefix in _NAMESPACES:
        if node.startswith(namespace) and len(node) > len(namespace):
            return prefix + node[len(namespace):]
    return node


def fill(message: str, bindings: dict[str, str | None]) -> str:
    """Replace ``{$name}`` / ``{?name}`` by the short form of the bound node."""
    def replace(match: re.Match) -> str:
        value = bindings.get(match.group(1))
        return short(value) if value is not None else match.group(0)

    return _PLACEHOLDER.sub(replace, message)


def shorten_iris(text: str) -> str:
    """Shorten every full IRI inside an already filled message (pyshacl writes them long)."""
    return re.sub(r"(?:https?://)[^\s\"'<>(){}]+", lambda m: short(m.group(0)), text)
