"""The worked example in README.md is true of the data: its queries return what it says."""

from __future__ import annotations

import re
from pathlib import Path

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def sparql_blocks() -> list[str]:
    return re.findall(r"```sparql\n(.*?)```", README, flags=re.DOTALL)


def rows(client, query: str) -> list[dict]:
    r = client.get("/sparql", params={"query": query})
    assert r.status_code == 200, r.text
    return [{k: v["value"] for k, v in b.items()} for b in r.json()["results"]["bindings"]]


def test_who_says_what_about_massoud_at_the_tehran_meeting(client):
    found = rows(client, sparql_blocks()[0])
    stances = sorted(row["stance"] for row in found)
    assert len(found) == 7
    assert stances.count("denies") == 2 and stances.count("asserts") == 4 and stances.count("reports uncertain") == 1
    deniers = {row["speaker"] for row in found if row["stance"] == "denies"}
    assert deniers == {"Habibullah Hesam", "Ali Nazari"}
    for row in found:  # every quote quoted in the README table is the claim's evidence
        assert row["quote"] in README


def test_contested_propositions_query_puts_the_example_first(client):
    found = rows(client, sparql_blocks()[1])
    assert len(found) >= 5
    first = found[0]
    assert first["proposition"].endswith("/proposition/bb56ac07ad9c934b")
    assert (int(first["supporting"]), int(first["denying"])) == (5, 2)
    ask = client.get("/sparql", params={"query": (
        "ASK { GRAPH <https://w3id.org/arkg/graph/asserted> { <https://w3id.org/arkg/id/person/ahmad-massoud> "
        "<https://w3id.org/arkg/ontology#attended> <https://w3id.org/arkg/id/event/tehran-meeting> } }")})
    assert ask.json()["boolean"] is False


def test_the_claims_about_massoud_example_runs(client):
    found = rows(client, sparql_blocks()[2])
    assert len(found) > 50 and {"predicate", "object", "speaker", "stance"} <= set(found[0])


def test_readme_numbers_are_arkg_stats():
    from server.pipeline import stats as statistics

    s = statistics.collect()
    line = re.search(r"In numbers \(`arkg stats`\): (.*?)`\.\./shared", README, flags=re.DOTALL).group(1)
    words = " ".join(line.split())
    expected = (f"{s.totals['claims']} claims about {s.totals['propositions']} propositions — "
                f"{s.statuses['Contested']} contested, {s.statuses['Uncontested']} uncontested, "
                f"{s.statuses['SingleSource']} single source, {s.statuses['OnlyDenied']} only denied, "
                f"{s.statuses['OnlyQuestioned']} only questioned — from {s.totals['speakers']} speakers in "
                f"{s.totals['articles']} articles, with {s.totals['shared accounts']} shared accounts; "
                f"{s.totals['entities']} entities, {s.totals['external links']} external links "
                f"({s.links.get('Wikidata', 0)} Wikidata, {s.links.get('DBpedia', 0)} DBpedia, all from")
    assert words == expected
