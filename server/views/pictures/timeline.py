"""Timeline: claims placed by the dates their texts give, and events by their own dates.

Dates are used only as the data states them (``arkg:eventDate``, ``arkg:statementDate`` on
claims, ``schema:startDate`` on events): a year, a month of a year, a day, or a month and day
with no year ("--09-17"). Dates without a year are never given one: they sit in their own
band, "year not stated". Claims in scope without any date are counted, not placed.

A lane is the event a claim is about when it is about one (the fall of Kabul, the Tehran
meeting...), else the claim's speaker; on an event's own page, lanes are speakers.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field

from server.engine.backend import Backend, select
from server.model.namespaces import ARKG
from server.views.pictures.common import (LABEL, QUERY_PREFIXES, RDF, STANCE_WORDS, STANCES, TYPE, Scope, clamp,
                                          details, first, label_of, local)

ROW_CAP = 2000
UNDATED_CAP = 1000  # undated claims counted at most; beyond it the picture says "more than"
STANCE_ORDER = {s: i for i, s in enumerate(STANCES)}  # marks read at most; lanes beyond the limit are cut after reading


@dataclass(frozen=True)
class When:
    """A date as the data gives it, with a sort key; ``year`` is None for "--MM-DD"."""
    value: str
    year: int | None
    month: int | None
    day: int | None

    @property
    def key(self) -> tuple:
        # Dated years first, in order; then the band of month-day dates without a year.
        return (self.year is None, self.year or 0, self.month or 0, self.day or 0)

    @property
    def text(self) -> str:
        month = calendar.month_abbr[self.month] if self.month else ""
        if self.year is None:
            return f"{self.day} {month} (year not stated)"
        return " ".join(str(p) for p in (self.day, month, self.year) if p)

    @property
    def short(self) -> str:
        month = calendar.month_abbr[self.month] if self.month else ""
        return " ".join(str(p) for p in (self.day, month, self.year) if p)


_DATE = re.compile(r"^(?:(-?\d{4})|-)(?:-(\d{2}))?(?:-(\d{2}))?(?:Z|[+-]\d{2}:\d{2})?$")


def parse_when(value: str) -> When | None:
    """``"2022-01-26"``, ``"2020-02"``, ``"1997"`` or ``"--09-17"``; anything else: None.

    >>> parse_when("--09-17").text
    '17 Sep (year not stated)'
    >>> parse_when("2020-02").text
    'Feb 2020'
    >>> parse_when("next week") is None
    True
    """
    m = _DATE.match(value.strip())
    if not m:
        return None
    year, month, day = m.group(1), m.group(2), m.group(3)
    if year is None and not (month and day):
        return None
    return When(value, int(year) if year else None, int(month) if month else None, int(day) if day else None)


@dataclass
class Mark:
    lane: str  # IRI of the event or speaker
    when: When
    kind: str  # "event" (when it happened), "statement" (when it was said), "dated event"
    link: str  # IRI of the claim, or of the event for "dated event"
    stance: str  # local name (Asserts...), "" for an event's own date
    speaker: str | None
    speaker_label: str
    statement: str
    as_written: str
    proposition: str | None


@dataclass
class Lane:
    iri: str
    label: str
    is_event: bool
    marks: list[Mark] = field(default_factory=list)


@dataclass
class Timeline:
    query: str
    lanes: list[Lane]
    dates: list[When]  # the columns, in order
    undated: int  # claims in scope with no date at all (at most UNDATED_CAP + 1)
    more: bool  # lanes left out by the limit
    limit: int
    @property
    def undated_text(self) -> str:
        return f"more than {UNDATED_CAP}" if self.undated > UNDATED_CAP else str(self.undated)

    columns = ("lane", "date", "date_as_written", "date_of", "stance", "speaker", "statement", "link", "proposition")

    @property
    def marks(self) -> list[Mark]:
        return [m for lane in self.lanes for m in lane.marks]

    def rows(self) -> list[dict[str, str]]:
        return [{"lane": lane.label, "date": m.when.value, "date_as_written": m.as_written, "date_of": m.kind,
                 "stance": STANCE_WORDS.get(m.stance, ""), "speaker": m.speaker_label, "statement": m.statement,
                 "link": m.link, "proposition": m.proposition or ""} for lane in self.lanes for m in lane.marks]


def _dated(scope: Scope, by_speaker: bool) -> str:
    """The dated claims in scope (and dated events), required patterns only."""
    about = scope.claims_pattern(as_speaker=True)
    # Events' own dates: every dated event on the home page, the event itself on its page.
    if scope.iri is None:
        # (Typed arkg:Event afterwards: starting from the type would read every event.)
        events = """
  UNION { ?event schema:startDate ?date . BIND("dated event" AS ?kind) BIND(?event AS ?claim) }"""
    elif by_speaker:
        events = f"""
  UNION {{ BIND(<{scope.iri}> AS ?event) ?event schema:startDate ?date . BIND("dated event" AS ?kind) BIND(?event AS ?claim) }}"""
    else:
        events = ""
    return f"""SELECT ?claim ?kind ?date ?stance ?speaker ?event WHERE {{
  {{ {about + " " if about else ""}{{ ?claim arkg:eventDate ?date ; arkg:claimant ?speaker ; arkg:stance ?stance BIND("event" AS ?kind) }}
    UNION {{ ?claim arkg:statementDate ?date ; arkg:claimant ?speaker ; arkg:stance ?stance BIND("statement" AS ?kind) }}
  }}{events}
}}
LIMIT {ROW_CAP}"""


def query(scope: Scope, *, by_speaker: bool = False) -> str:
    """Every dated claim in ``scope`` (with its event, if it is about one), and dated events,
    as one query for readers; ``gather`` runs it in steps (labels and texts looked up after)."""
    lane = "" if by_speaker else """
  OPTIONAL { { ?claim rdf:subject ?about } UNION { ?claim rdf:object ?about } ?about a arkg:Event . }"""
    core = _dated(scope, by_speaker).split("\n", 1)[1].rsplit("\n", 2)[0]
    return f"""{QUERY_PREFIXES}# Dated claims{' about one thing' if scope.iri else ''}: when it happened or when it was said, as the text gives it.
SELECT ?claim ?kind ?date ?asWritten ?stance ?speaker ?speakerLabel ?claimLabel ?about ?event WHERE {{
{core}
  OPTIONAL {{ ?speaker rdfs:label ?speakerLabel }}
  OPTIONAL {{ ?claim rdfs:label ?claimLabel }}
  OPTIONAL {{ ?claim arkg:eventTimeText|arkg:statementTimeText ?asWritten }}
  FILTER(?kind != "dated event" || EXISTS {{ ?event a arkg:Event }}){lane}
}}
LIMIT {ROW_CAP}"""


def undated_query(scope: Scope) -> str:
    """How many claims in ``scope`` carry no date (counted, never placed), up to UNDATED_CAP + 1."""
    about = scope.claims_pattern(as_speaker=True) or "?claim a arkg:Claim ."
    return f"""{QUERY_PREFIXES}SELECT (COUNT(*) AS ?n) WHERE {{ {{ SELECT DISTINCT ?claim WHERE {{
  {about}
  FILTER NOT EXISTS {{ ?claim arkg:eventDate ?d1 }} FILTER NOT EXISTS {{ ?claim arkg:statementDate ?d2 }}
}} LIMIT {UNDATED_CAP + 1} }} }}"""


async def gather(backend: Backend, scope: Scope, *, by_speaker: bool = False, limit: int | None = None) -> Timeline:
    """The lanes with the most marks first, at most ``limit`` of them."""
    limit = clamp(limit)
    rows = await select(backend, QUERY_PREFIXES + _dated(scope, by_speaker))
    claims = {r["claim"] for r in rows if r.get("kind") != "dated event"}
    texts = {ARKG + "eventTimeText", ARKG + "statementTimeText"}
    found = await details(backend, claims, (LABEL, ARKG + "aboutProposition", RDF + "subject", RDF + "object", *sorted(texts)))
    ends = {first(found, c, RDF + end) for c in claims for end in ("subject", "object")}
    propositions = {first(found, c, ARKG + "aboutProposition") for c in claims}
    things = await details(backend, ends | propositions | {r.get("speaker", "") for r in rows} | {r.get("event", "") for r in rows},
                           (LABEL, TYPE))

    def is_event(iri: str) -> bool:
        return ARKG + "Event" in things.get(iri, {}).get(TYPE, [])

    def name(iri: str) -> str:
        return first(things, iri, LABEL) or label_of({"x": iri}, "x")

    lanes: dict[str, Lane] = {}
    seen: set[tuple] = set()
    for r in rows:
        when = parse_when(r.get("date", ""))
        if when is None:
            continue
        kind, claim = r.get("kind", ""), r["claim"]
        if kind == "dated event" and not is_event(claim):  # a dated thing that is not an event
            continue
        key = (claim, kind, when.value)
        if key in seen:  # a second claimant or stance of the same claim
            continue
        seen.add(key)
        event = r.get("event") or next((e for e in (first(found, claim, RDF + "subject"), first(found, claim, RDF + "object"))
                                        if e and is_event(e)), "")
        if kind == "dated event" or (event and not by_speaker):
            lane_iri, is_lane_event = event, True
        else:
            lane_iri, is_lane_event = r.get("speaker", ""), False
        lane = lanes.setdefault(lane_iri, Lane(lane_iri, name(lane_iri), is_lane_event))
        speaker = r.get("speaker")
        written = first(found, claim, ARKG + ("eventTimeText" if kind == "event" else "statementTimeText"))
        lane.marks.append(Mark(lane_iri, when, kind, claim, local(r.get("stance")), speaker,
                               name(speaker) if speaker else "",
                               # The proposition's words ("Ahmad Massoud attended Tehran meeting"), else the claim's label.
                               first(things, first(found, claim, ARKG + "aboutProposition"), LABEL)
                               or first(found, claim, LABEL) or (name(claim) if kind == "dated event" else ""),
                               written, first(found, claim, ARKG + "aboutProposition") or None))
    ordered = sorted(lanes.values(), key=lambda lane: (not lane.is_event, -len(lane.marks), lane.label.lower()))
    kept = ordered[:limit]
    for lane in kept:
        lane.marks.sort(key=lambda m: (m.when.key, STANCE_ORDER.get(m.stance, 9), m.link))
    dates = sorted({m.when for lane in kept for m in lane.marks}, key=lambda w: w.key)
    counted = await select(backend, undated_query(scope))
    undated = int(counted[0]["n"]) if counted and counted[0].get("n") else 0
    return Timeline(query(scope, by_speaker=by_speaker), kept, dates, undated, len(ordered) > limit, limit)
