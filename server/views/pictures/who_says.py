"""Who says what: propositions x speakers, each cell the stance a speaker takes, with the quote.

Two scopes: every proposition the derived graph marks ``arkg:Contested`` (the /contested
page), or every proposition about one thing (its subject or object). Propositions with the
most claims come first, at most ``limit``; statuses are read from the derived graph, never
recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.engine.backend import Backend, select
from server.views.pictures.common import (QUERY_PREFIXES, STANCE_WORDS, STANCES, STATUS_WORDS, Scope, clamp,
                                          label_of, local)

MAX_SPEAKERS = 40  # columns shown; the table and CSV keep every speaker of the rows shown


@dataclass
class Cell:
    proposition: str
    speaker: str
    stance: str  # local name: Asserts, ReportsUncertain, Denies, Questions
    claim: str
    quote: str


@dataclass
class Row:
    iri: str
    label: str
    status: str  # local name, "" if not derived
    claims: int
    cells: dict[str, list[Cell]] = field(default_factory=dict)  # speaker IRI -> its claims


@dataclass
class Speaker:
    iri: str
    label: str
    claims: int


@dataclass
class Matrix:
    query: str
    rows: list[Row]
    speakers: list[Speaker]  # columns, most claims first
    hidden_speakers: int  # speakers beyond MAX_SPEAKERS (still in the table)
    more: bool
    limit: int
    columns = ("proposition", "proposition_label", "status", "speaker", "speaker_label", "stance", "quote", "claim")

    def table(self) -> list[dict[str, str]]:
        labels = {s.iri: s.label for s in self.speakers}
        return [{"proposition": row.iri, "proposition_label": row.label, "status": STATUS_WORDS.get(row.status, ""),
                 "speaker": c.speaker, "speaker_label": labels.get(c.speaker, c.speaker), "stance": STANCE_WORDS.get(c.stance, ""),
                 "quote": c.quote, "claim": c.claim}
                for row in self.rows for speaker in sorted(row.cells, key=lambda s: labels.get(s, s).lower())
                for c in row.cells[speaker]]


def query(scope: Scope, *, limit: int) -> str:
    """The claims of the ``limit`` propositions (contested, or about one thing) with the most claims."""
    if scope.iri is None:
        pick = "?proposition arkg:status arkg:Contested ; arkg:hasClaim ?c ."
        title = "Every contested proposition"
    else:
        pick = f"{scope.claims_pattern('c')} ?c arkg:aboutProposition ?proposition ."
        title = "Every proposition about one thing"
    return f"""{QUERY_PREFIXES}# {title}: who takes which stance, with the quote ("who says what").
SELECT ?proposition ?propositionLabel ?status ?n ?claim ?speaker ?speakerLabel ?stance ?quote WHERE {{
  {{ SELECT ?proposition (COUNT(DISTINCT ?c) AS ?n) WHERE {{ {pick} }}
    GROUP BY ?proposition ORDER BY DESC(?n) ?proposition LIMIT {limit + 1} }}
  ?claim arkg:aboutProposition ?proposition ; arkg:claimant ?speaker ; arkg:stance ?stance .
  OPTIONAL {{ ?proposition rdfs:label ?propositionLabel }}
  OPTIONAL {{ ?claim rdfs:label ?claimLabel }}
  OPTIONAL {{ ?proposition arkg:status ?status }}
  OPTIONAL {{ ?speaker rdfs:label ?speakerLabel }}
  OPTIONAL {{ ?claim arkg:evidence/oa:hasSelector/oa:exact ?quote }}
}}
ORDER BY DESC(?n) ?proposition ?speaker ?claim"""


async def gather(backend: Backend, scope: Scope, *, limit: int | None = None) -> Matrix:
    limit = clamp(limit)
    text = query(scope, limit=limit)
    rows: dict[str, Row] = {}
    speakers: dict[str, Speaker] = {}
    seen: set[str] = set()
    for r in await select(backend, text):
        if r["claim"] in seen:  # a second label or selector of the same claim
            continue
        seen.add(r["claim"])
        row = rows.get(r["proposition"])
        if row is None:
            row = rows[r["proposition"]] = Row(r["proposition"], r.get("propositionLabel") or label_of(r, "proposition"),
                                               local(r.get("status")), int(r.get("n", "0")))
        speaker = speakers.setdefault(r["speaker"], Speaker(r["speaker"], label_of(r, "speaker"), 0))
        speaker.claims += 1
        row.cells.setdefault(r["speaker"], []).append(
            Cell(row.iri, r["speaker"], local(r.get("stance")), r["claim"], r.get("quote", "")))
    ordered = sorted(rows.values(), key=lambda row: (-row.claims, row.label.lower()))
    kept = ordered[:limit]
    for row in kept:
        for cells in row.cells.values():
            cells.sort(key=lambda c: (STANCES.index(c.stance) if c.stance in STANCES else 9, c.claim))
    used = {s for row in kept for s in row.cells}
    columns = sorted((speakers[s] for s in used), key=lambda s: (-s.claims, s.label.lower()))
    return Matrix(text, kept, columns[:MAX_SPEAKERS], max(0, len(columns) - MAX_SPEAKERS), len(ordered) > limit, limit)
