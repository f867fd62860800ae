"""The pictures' data (server/views/pictures/) read from the real store through the real backend."""

from __future__ import annotations

from functools import partial

import pytest

from server.views.pictures import meetings, timeline, who_says
from server.views.pictures.common import Scope

ID = "https://w3id.org/arkg/id/"
MASSOUD, TEHRAN = ID + "person/ahmad-massoud", ID + "event/tehran-meeting"
PROPOSITION = ID + "proposition/bb56ac07ad9c934b"  # Ahmad Massoud attended the Tehran meeting (README)


@pytest.fixture(scope="module")
def gather(client):
    backend = client.app.state.backend

    def run(fn, *args, **kwargs):
        return client.portal.call(partial(fn, backend, *args, **kwargs))
    return run


def test_parse_when_keeps_missing_years_missing():
    assert timeline.parse_when("--09-17").year is None
    assert timeline.parse_when("2020-02").key < timeline.parse_when("--01-01").key  # yearless dates sort last
    assert timeline.parse_when("2022-01-26").text == "26 Jan 2022"
    assert timeline.parse_when("early September") is None


def test_timeline_places_only_dated_claims(gather):
    tl = gather(timeline.gather, Scope())
    assert tl.lanes and tl.undated > 0
    claims = [m for m in tl.marks if m.kind != "dated event"]
    assert claims and all(m.stance in ("Asserts", "ReportsUncertain", "Denies", "Questions") for m in claims)
    # Every placed date is one the data states, as it states it (no year added to "--MM-DD").
    values = {m.when.value for m in tl.marks}
    assert "--08-15" in values and not any(v.startswith("2021-08-15") for v in values)
    assert [d.key for d in tl.dates] == sorted(d.key for d in tl.dates)
    assert any(lane.is_event for lane in tl.lanes) and any(not lane.is_event for lane in tl.lanes)


def test_timeline_of_an_entity_is_its_claims(gather):
    tl = gather(timeline.gather, Scope(MASSOUD))
    everything = gather(timeline.gather, Scope())
    assert tl.marks and len(tl.marks) < len(everything.marks)
    assert tl.undated < everything.undated


def test_timeline_limit_keeps_the_busiest_lanes(gather):
    tl = gather(timeline.gather, Scope(), limit=2)
    assert len(tl.lanes) == 2 and tl.more


def test_contested_matrix_is_the_derived_contested_set(gather, client):
    m = gather(who_says.gather, Scope())
    assert m.rows and all(row.status == "Contested" for row in m.rows)
    first = m.rows[0]
    assert first.iri == PROPOSITION and first.claims == 7
    stances = {c.stance for cells in first.cells.values() for c in cells}
    assert {"Asserts", "Denies", "ReportsUncertain"} <= stances
    assert all(c.quote for cells in first.cells.values() for c in cells)
    # The same set the derived graph names, counted independently through the endpoint.
    rows = client.get("/sparql", params={"query": "PREFIX arkg: <https://w3id.org/arkg/ontology#> "
                                                  "SELECT (COUNT(*) AS ?n) WHERE { ?p arkg:status arkg:Contested }"},
                      headers={"Accept": "application/sparql-results+json"}).json()["results"]["bindings"]
    assert len(m.rows) == int(rows[0]["n"]["value"])


def test_matrix_about_an_entity(gather):
    m = gather(who_says.gather, Scope(TEHRAN))
    assert m.rows and PROPOSITION in {row.iri for row in m.rows}
    assert len(m.table()) == sum(len(cells) for row in m.rows for cells in row.cells.values())


def test_meetings_network_edges_and_statuses(gather):
    net = gather(meetings.gather, Scope())
    assert net.edges and not net.sampled
    assert {e.predicate for e in net.edges} <= set(meetings.PREDICATES)
    top = net.edges[0]
    assert (top.subject, top.predicate, top.object) == (MASSOUD, "attended", TEHRAN)
    assert top.status == "Contested" and top.claims == 7
    assert {n.iri for n in net.nodes} == {e.subject for e in net.edges} | {e.object for e in net.edges}
    assert any(n.is_event for n in net.nodes)


def test_meetings_neighbourhood_reaches_through_events(gather):
    net = gather(meetings.gather, Scope(MASSOUD))
    ends = {e.subject for e in net.edges} | {e.object for e in net.edges}
    assert MASSOUD in ends
    # Others who attended the meeting he attended are his neighbours' links.
    assert any(e.object == TEHRAN and e.subject != MASSOUD for e in net.edges)


def test_limits_bound_every_picture(gather):
    assert len(gather(meetings.gather, Scope(), limit=3).edges) == 3
    assert len(gather(who_says.gather, Scope(MASSOUD), limit=2).rows) == 2
