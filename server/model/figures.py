"""The figures pages show, as ``arkg build`` writes them to ``figures.json`` (BuildLayout.figures).

One description for both sides: the build computes them once over the whole dataset and writes
:meth:`Figures.to_json`; the web server reads them with :meth:`Figures.from_json` and never
aggregates the whole graph per request. ``version`` is the dataset version they were computed
for: a server serving another version ignores the file.

>>> f = Figures("v1", claims=3, propositions=2, speakers=1, statuses={"https://w3id.org/arkg/ontology#Contested": 1},
...             kinds={"person": 1}, top={"person": [TopEntry("https://w3id.org/arkg/id/person/a", "A", 3)]})
>>> Figures.from_json(f.to_json()) == f
True
>>> Figures.from_json('{"version": "v1"}') is None  # not the shape this server reads
True
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

TOP_N = 10  # entries of each kind listed on the home page
BROWSE_KINDS = ("article", "person", "organization", "place", "event", "group", "agent", "comment")


@dataclass(frozen=True)
class TopEntry:
    iri: str
    label: str | None
    claims: int  # claims mentioning it (about it, by it, or from it for a source)


@dataclass
class Figures:
    version: str
    claims: int
    propositions: int
    speakers: int
    statuses: dict[str, int] = field(default_factory=dict)  # status IRI -> propositions (empty until derived)
    kinds: dict[str, int] = field(default_factory=dict)  # kind (BROWSE_KINDS) -> things of that kind
    top: dict[str, list[TopEntry]] = field(default_factory=dict)  # kind -> up to TOP_N entries, most claims first

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Figures | None":
        """The figures in ``text``, or None if it is not JSON of this shape."""
        try:
            data = json.loads(text)
            return cls(version=str(data["version"]), claims=int(data["claims"]),
                       propositions=int(data["propositions"]), speakers=int(data["speakers"]),
                       statuses={str(k): int(v) for k, v in data.get("statuses", {}).items()},
                       kinds={str(k): int(v) for k, v in data.get("kinds", {}).items()},
                       top={str(k): [TopEntry(str(e["iri"]), e.get("label"), int(e["claims"])) for e in v]
                            for k, v in data.get("top", {}).items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None
