"""`arkg stats`: the tables are printed and their numbers agree with counts made here."""

from __future__ import annotations

from typer.testing import CliRunner

from server.pipeline import derive, stats
from server.cli import app

from tests.validation_tools import ROOT, select

runner = CliRunner()


def test_stats_prints_every_table():
    outcome = runner.invoke(app, ["stats"], env={"COLUMNS": "200"})
    assert outcome.exit_code == 0, outcome.output
    for title in ("ARKG in numbers", "Claims by stance", "Propositions by status", "Entities by type",
                  "External links", "Speakers", "Per article"):
        assert title in outcome.output
    claims = len(select("?claim a arkg:Claim"))
    assert f"│ claims             │ {claims:>5} │" in outcome.output


def test_numbers_agree_with_independent_counts():
    s = stats.collect(ROOT)
    assert s.totals["claims"] == len(select("?c a arkg:Claim"))
    assert s.totals["speakers"] == len({r["w"] for r in select("?c arkg:claimant ?w")})
    assert s.entity_types["Person"] == len(select("?p a arkg:Person"))
    assert s.links["Wikidata"] == len(select("?e owl:sameAs ?w . FILTER STRSTARTS(STR(?w), STR(wd:))"))
    props, _ = derive.propositions(ROOT)
    assert s.statuses["Contested"] == sum(p.status == "Contested" for p in props)
    articles = {r["a"] for r in select("?a arkg:sourceFile ?f ; a ?t . FILTER (?t != schema:Comment)")}
    assert len(s.articles) == len(articles) == s.totals["articles"]
    assert sum(a["claims"] for a in s.articles.values()) == s.totals["claims"]
