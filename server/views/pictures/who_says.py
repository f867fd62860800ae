"""Who says what: propositions x speakers, each cell the stance a speaker takes, with the quote.

Two scopes: every proposition the derived graph marks ``arkg:Contested`` (the /contested
page), or every proposition about one thing (its subject or object). Propositions with the
most claims come first, at most ``limit``; statuses are read from the derived graph, never
recomputed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.engine.backend import Backend, select
from server.model.namespaces import ARKG
from server.views.pictures.common import (LABEL, QUERY_PREFIXES, STANCE_WORDS, STANCES, STATUS_WORDS, Scope, clamp,
                                          details, first, label_of, local)
from server.views.things import term

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


def _pick(scope: Scope, limit: int) -> str:
    if scope.iri is None:
        pattern = "?proposition arkg:status arkg:Contested ; arkg:hasClaim ?c ."
    else:
        pattern = f"{scope.claims_pattern('c')} ?c arkg:aboutProposition ?proposition ."
    return (f"SELECT ?proposition (COUNT(DISTINCT ?c) AS ?n) WHERE {{ {pattern} }}\n"
            f"    GROUP BY ?proposition ORDER BY DESC(?n) ?proposition LIMIT {limit + 1}")


def query(scope: Scope, *, limit: int) -> str:
    """The claims of the ``limit`` propositions (contested, or about one thing) with the most
    claims, as one query for readers; ``gather`` runs the same in steps (see ``details``)."""
    title = "Every contested proposition" if scope.iri is None else "Every proposition about one thing"
    return f"""{QUERY_PREFIXES}# {title}: who takes which stance, with the quote ("who says what").
SELECT ?proposition ?propositionLabel ?status ?n ?claim ?speaker ?speakerLabel ?stance ?quote WHERE {{
  {{ {_pick(scope, limit)} }}
  ?claim arkg:aboutProposition ?proposition ; arkg:claimant ?speaker ; arkg:stance ?stance .
  OPTIONAL {{ ?proposition rdfs:label ?propositionLabel }}
  OPTIONAL {{ ?proposition arkg:status ?status }}
  OPTIONAL {{ ?speaker rdfs:label ?speakerLabel }}
  OPTIONAL {{ ?claim arkg:evidence/oa:hasSelector/oa:exact ?quote }}
}}
ORDER BY DESC(?n) ?proposition ?speaker ?claim"""


async def gather(backend: Backend, scope: Scope, *, limit: int | None = None) -> Matrix:
    limit = clamp(limit)
    picked = await select(backend, f"{QUERY_PREFIXES}{_pick(scope, limit)}")
    counts = {r["proposition"]: int(r.get("n", "0")) for r in picked}
    rows: dict[str, Row] = {}
    speakers: dict[str, Speaker] = {}
    claims = []
    if counts:
        values = " ".join(term(p) for p in sorted(counts))
        claims = await select(backend, f"""{QUERY_PREFIXES}SELECT ?proposition ?claim ?speaker ?stance WHERE {{
          VALUES ?proposition {{ {values} }} ?claim arkg:aboutProposition ?proposition ; arkg:claimant ?speaker ; arkg:stance ?stance }}""")
    quotes: dict[str, str] = {}
    if claims:
        values = " ".join(term(c) for c in sorted({r["claim"] for r in claims}))
        for r in await select(backend, f"""{QUERY_PREFIXES}SELECT ?claim ?quote WHERE {{ VALUES ?claim {{ {values} }}
          ?claim arkg:evidence ?ev . ?ev oa:hasSelector ?sel . ?sel oa:exact ?quote }}"""):
            quotes.setdefault(r["claim"], r["quote"])
    found = await details(backend, set(counts) | {r["speaker"] for r in claims}, (LABEL, ARKG + "status"))
    seen: set[str] = set()
    for r in sorted(claims, key=lambda r: (r["proposition"], r["claim"])):
        if r["claim"] in seen:  # a second claimant or stance of the same claim
            continue
        seen.add(r["claim"])
        row = rows.get(r["proposition"])
        if row is None:
            row = rows[r["proposition"]] = Row(r["proposition"], first(found, r["proposition"], LABEL) or label_of(r, "proposition"),
                                               local(first(found, r["proposition"], ARKG + "status")), counts[r["proposition"]])
        speaker = speakers.setdefault(r["speaker"], Speaker(r["speaker"], first(found, r["speaker"], LABEL) or label_of(r, "speaker"), 0))
        speaker.claims += 1
        row.cells.setdefault(r["speaker"], []).append(
            Cell(row.iri, r["speaker"], local(r.get("stance")), r["claim"], quotes.get(r["claim"], "")))
    ordered = sorted(rows.values(), key=lambda row: (-row.claims, row.label.lower()))
    kept = ordered[:limit]
    for row in kept:
        for cells in row.cells.values():
            cells.sort(key=lambda c: (STANCES.index(c.stance) if c.stance in STANCES else 9, c.claim))
    used = {s for row in kept for s in row.cells}
    columns = sorted((speakers[s] for s in used), key=lambda s: (-s.claims, s.label.lower()))
    return Matrix(query(scope, limit=limit), kept, columns[:MAX_SPEAKERS], max(0, len(columns) - MAX_SPEAKERS),
                  len(ordered) > limit, limit)
