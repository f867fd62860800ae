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
from server.views.pictures.common import QUERY_PREFIXES, STANCE_WORDS, STANCES, Scope, clamp, label_of, local

ROW_CAP = 2000
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
    undated: int  # claims in scope with no date at all
    more: bool  # lanes left out by the limit
    limit: int
    columns = ("lane", "date", "date_as_written", "date_of", "stance", "speaker", "statement", "link", "proposition")

    @property
    def marks(self) -> list[Mark]:
        return [m for lane in self.lanes for m in lane.marks]

    def rows(self) -> list[dict[str, str]]:
        return [{"lane": lane.label, "date": m.when.value, "date_as_written": m.as_written, "date_of": m.kind,
                 "stance": STANCE_WORDS.get(m.stance, ""), "speaker": m.speaker_label, "statement": m.statement,
                 "link": m.link, "proposition": m.proposition or ""} for lane in self.lanes for m in lane.marks]


def query(scope: Scope, *, by_speaker: bool = False) -> str:
    """Every dated claim in ``scope`` (with its event, if it is about one), and dated events."""
    about = scope.claims_pattern(as_speaker=True)
    lane = "" if by_speaker else """
  OPTIONAL { { ?claim rdf:subject ?event } UNION { ?claim rdf:object ?event }
             ?event a arkg:Event . OPTIONAL { ?event rdfs:label ?eventLabel } }"""
    # Events' own dates: every dated event on the home page, the event itself on its page.
    if scope.iri is None:
        events = """
  UNION { ?event a arkg:Event ; schema:startDate ?date . BIND("dated event" AS ?kind) BIND(?event AS ?claim)
          OPTIONAL { ?event rdfs:label ?eventLabel } }"""
    elif by_speaker:
        events = f"""
  UNION {{ BIND(<{scope.iri}> AS ?event) ?event schema:startDate ?date . BIND("dated event" AS ?kind)
          BIND(?event AS ?claim) OPTIONAL {{ ?event rdfs:label ?eventLabel }} }}"""
    else:
        events = ""
    return f"""{QUERY_PREFIXES}# Dated claims{' about one thing' if scope.iri else ''}: when it happened or when it was said, as the text gives it.
SELECT ?claim ?kind ?date ?asWritten ?stance ?speaker ?speakerLabel ?claimLabel ?proposition ?event ?eventLabel WHERE {{
  {{ {about + " " if about else ""}{{ ?claim arkg:eventDate ?date BIND("event" AS ?kind)
       OPTIONAL {{ ?claim arkg:eventTimeText ?asWritten }} }}
    UNION {{ ?claim arkg:statementDate ?date BIND("statement" AS ?kind)
       OPTIONAL {{ ?claim arkg:statementTimeText ?asWritten }} }}
    ?claim arkg:claimant ?speaker ; arkg:stance ?stance .
    OPTIONAL {{ ?speaker rdfs:label ?speakerLabel }}
    OPTIONAL {{ ?claim rdfs:label ?claimLabel }}
    OPTIONAL {{ ?claim arkg:aboutProposition ?proposition }}{lane}
  }}{events}
}}
LIMIT {ROW_CAP}"""


def undated_query(scope: Scope) -> str:
    """How many claims in ``scope`` carry no date (counted, never placed)."""
    about = scope.claims_pattern(as_speaker=True) or "?claim a arkg:Claim ."
    return f"""{QUERY_PREFIXES}SELECT (COUNT(DISTINCT ?claim) AS ?n) WHERE {{
  {about}
  FILTER NOT EXISTS {{ ?claim arkg:eventDate ?d1 }} FILTER NOT EXISTS {{ ?claim arkg:statementDate ?d2 }}
}}"""


async def gather(backend: Backend, scope: Scope, *, by_speaker: bool = False, limit: int | None = None) -> Timeline:
    """The lanes with the most marks first, at most ``limit`` of them."""
    limit = clamp(limit)
    text = query(scope, by_speaker=by_speaker)
    rows = await select(backend, text)
    lanes: dict[str, Lane] = {}
    seen: set[tuple] = set()
    for r in rows:
        when = parse_when(r.get("date", ""))
        if when is None:
            continue
        kind = r.get("kind", "")
        key = (r["claim"], kind, when.value)
        if key in seen:  # a second label or event of the same claim
            continue
        seen.add(key)
        if kind == "dated event" or (r.get("event") and not by_speaker):
            lane_iri, lane_label, is_event = r["event"], label_of(r, "event"), True
        else:
            lane_iri, lane_label, is_event = r.get("speaker", ""), label_of(r, "speaker"), False
        lane = lanes.setdefault(lane_iri, Lane(lane_iri, lane_label, is_event))
        lane.marks.append(Mark(lane_iri, when, kind, r["claim"], local(r.get("stance")),
                               r.get("speaker"), label_of(r, "speaker") if r.get("speaker") else "",
                               r.get("claimLabel") or (label_of(r, "event") if kind == "dated event" else ""),
                               r.get("asWritten", ""), r.get("proposition")))
    ordered = sorted(lanes.values(), key=lambda lane: (not lane.is_event, -len(lane.marks), lane.label.lower()))
    kept = ordered[:limit]
    for lane in kept:
        lane.marks.sort(key=lambda m: (m.when.key, STANCE_ORDER.get(m.stance, 9), m.link))
    dates = sorted({m.when for lane in kept for m in lane.marks}, key=lambda w: w.key)
    counted = await select(backend, undated_query(scope))
    undated = int(counted[0]["n"]) if counted and counted[0].get("n") else 0
    return Timeline(text, kept, dates, undated, len(ordered) > limit, limit)


