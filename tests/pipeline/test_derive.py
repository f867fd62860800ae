"""`arkg derive`: the committed derived graphs are current, the build is deterministic, and
statuses count independent sources (a hedged report asserts; Questions neither asserts nor
denies; a joint statement is one source; a denial about another time contests nothing)."""

from __future__ import annotations

import re

import pyoxigraph as ox
import pytest
from typer.testing import CliRunner

from server.pipeline import curate as curation, derive
from server.cli import app

from tests.validation_tools import ID, ROOT, DataCopy, claim_file, select

runner = CliRunner()
ARKG = "https://w3id.org/arkg/ontology#"


def test_committed_derived_files_are_up_to_date():
    stale = curation.stale(derive.derive_outputs(ROOT))
    assert not stale, f"stale: {stale}; run `arkg derive`"
    assert runner.invoke(app, ["derive", "--check"]).exit_code == 0


def test_same_input_gives_byte_identical_output(tmp_path):
    first = derive.derive_outputs(ROOT)
    data = DataCopy(tmp_path)
    for path in sorted(data.path("graphs/claims").glob("*.ttl")):  # same triples, claims in reverse order
        head, *blocks = path.read_text(encoding="utf-8").split("\n\n")
        path.write_text("\n\n".join([head, *reversed(blocks)]) + "\n", encoding="utf-8")
    again = derive.derive_outputs(data.root)
    assert [o.text for o in again] == [o.text for o in first]
    assert [o.text for o in derive.derive_outputs(ROOT)] == [o.text for o in first]


def test_outputs_parse_without_blank_nodes_and_asserted_only_holds_uncontested():
    propositions, asserted = (o.text for o in derive.derive_outputs(ROOT))
    status = {}
    for quad in ox.parse(propositions, format=ox.RdfFormat.TURTLE):
        assert not any(isinstance(t, ox.BlankNode) for t in (quad.subject, quad.object))
        if quad.predicate.value == ARKG + "status":
            status[quad.subject.value] = quad.object.value.removeprefix(ARKG)
    assert set(status.values()) <= {"Contested", "Uncontested", "SingleSource", "OnlyDenied", "OnlyQuestioned"}
    kept = [q for q in ox.parse(asserted, format=ox.RdfFormat.TURTLE) if q.predicate.value == ARKG + "supportingClaim"]
    assert kept and {status[q.subject.value] for q in kept} == {"Uncontested"}
    assert "uncontested in this corpus" in asserted
    assert sum(s == "Uncontested" for s in status.values()) == len({q.subject.value for q in kept})


def test_a_contested_proposition_has_supporters_and_deniers():
    props, _ = derive.propositions(ROOT)
    contested = [p for p in props if p.status == "Contested"]
    assert contested
    for p in contested:
        assert p.supporters and p.deniers


def _claim_block(text: str, claim: str) -> str:
    start = re.search(rf"^<{re.escape(claim)}> ", text, flags=re.MULTILINE).start()
    end = text.find("\n\n", start)
    return text[start:end if end >= 0 else len(text)]


def _copy_claim(data: DataCopy, claim: str, new_id: str, *, claimant: str | None = None, stance: str | None = None) -> None:
    """Add a claim like ``claim`` (same triple and evidence) as ``new_id``, maybe by another speaker."""
    relative = claim_file(claim)
    text = data.path(relative).read_text(encoding="utf-8")
    block = _claim_block(text, claim).replace(claim, claim.rsplit("-c", 1)[0] + "-" + new_id)
    if claimant:
        block = re.sub(r"arkg:claimant <[^>]+>", f"arkg:claimant <{claimant}>", block)
    if stance:
        block = re.sub(r"arkg:stance arkg:\w+", f"arkg:stance arkg:{stance}", block)
    data.append(relative, block)


def _status(root, claim: str) -> derive.Proposition:
    props, _ = derive.propositions(root)
    return next(p for p in props if claim in p.claims)


@pytest.fixture(scope="module")
def single():
    """A single-source proposition with one asserting claim, and two speakers that did not make it."""
    props, _ = derive.propositions(ROOT)
    prop = next(p for p in props if p.status == "SingleSource" and len(p.claims) == 1
                and next(iter(p.claims.values())).stance == ARKG + "Asserts")
    others = [r["a"] for r in select("?a a arkg:Person")[:3]]
    claim, info = next(iter(prop.claims.items()))
    speaker = info.claimant
    return claim, [o for o in others if o != speaker][:2]


def test_status_counts_speakers_not_claims(tmp_path, single):
    claim, _ = single
    data = DataCopy(tmp_path)
    _copy_claim(data, claim, "c901")  # the same speaker says it again
    prop = _status(data.root, claim)
    assert prop.status == "SingleSource" and len(prop.claims_with(derive.SUPPORTING)) == 2


def test_a_hedged_report_asserts_and_a_second_speaker_makes_it_uncontested(tmp_path, single):
    claim, (other, _) = single
    data = DataCopy(tmp_path)
    _copy_claim(data, claim, "c902", claimant=other, stance="ReportsUncertain")
    assert _status(data.root, claim).status == "Uncontested"


def test_a_denial_by_another_speaker_contests_a_hedged_report(tmp_path, single):
    claim, (other, third) = single
    data = DataCopy(tmp_path)
    data.edit_claim(claim, r"arkg:stance arkg:\w+", "arkg:stance arkg:ReportsUncertain")
    _copy_claim(data, claim, "c903", claimant=other, stance="Denies")
    _copy_claim(data, claim, "c904", claimant=third, stance="Questions")
    prop = _status(data.root, claim)
    assert prop.status == "Contested" and prop.deniers == {other}


def test_a_stale_proposition_link_is_refused(tmp_path, single):
    claim, _ = single
    data = DataCopy(tmp_path)
    data.edit_claim(claim, r"arkg:aboutProposition <[^>]+>", f"arkg:aboutProposition <{ID}proposition/0000000000000000>")
    with pytest.raises(derive.DeriveError, match="recompile with `arkg curate`"):
        derive.derive_outputs(data.root)


def test_two_signatories_of_one_account_are_one_source(tmp_path, single):
    claim, (other, _) = single
    data = DataCopy(tmp_path)
    account = claim.rsplit("-c", 1)[0].replace("/claim/", "/article/") + "#test-joint-statement"
    data.edit_claim(claim, r"^(    arkg:stance [^\n]*\n)", rf"\1    arkg:independentSource <{account}> ;\n")
    _copy_claim(data, claim, "c905", claimant=other)  # the co-signatory, same account
    prop = _status(data.root, claim)
    assert len(prop.supporters) == 2 and len(prop.supporting_sources) == 1
    assert prop.status == "SingleSource"
    assert prop.numbers()["speakerCount"] == 2 and prop.numbers()["independentSourceCount"] == 1


def test_the_joint_release_propositions_are_not_uncontested():
    props, _ = derive.propositions(ROOT)
    joint = [p for p in props if any("waltz-graham" in info.source for info in p.claims.values())]
    assert joint
    for p in joint:
        others = {info.source for info in p.claims.values() if "waltz-graham" not in info.source}
        if not others:
            assert p.status != "Uncontested", p.iri


def test_a_denial_about_another_time_does_not_contest(tmp_path, single):
    claim, (other, _) = single
    data = DataCopy(tmp_path)
    data.edit_claim(claim, r"^(    arkg:stance [^\n]*\n)", r'\1    arkg:eventDate "--09-06"^^xsd:gMonthDay ;\n')
    _copy_claim(data, claim, "c906", claimant=other, stance="Denies")
    data.edit_claim(claim.rsplit("-c", 1)[0] + "-c906", r'arkg:eventDate "--09-06"', 'arkg:eventDate "--09-03"')
    props, _ = derive.propositions(data.root)
    prop = next(p for p in props if claim in p.claims)
    assert prop.status == "SingleSource" and prop.numbers()["timeSeparatedDenialCount"] == 1
    assert (prop.iri, claim, claim.rsplit("-c", 1)[0] + "-c906") in derive.time_separated_pairs(props)


REVIEWED = ROOT / "graphs" / "curation" / "review" / "time-separated.yaml"


def test_time_separated_pairs_are_none_or_explained():
    import yaml

    explained = {(r["support"], r["denial"]) for r in (yaml.safe_load(REVIEWED.read_text(encoding="utf-8")) or {}).get("pairs") or []} \
        if REVIEWED.is_file() else set()
    found = {(s.rsplit("/", 1)[-1], d.rsplit("/", 1)[-1]) for _, s, d in derive.time_separated_pairs(derive.propositions(ROOT)[0])}
    assert found <= explained, f"explain these in {REVIEWED.name} or fix the claims: {sorted(found - explained)}"


def test_the_fall_of_panjshir_is_not_contested():
    props, _ = derive.propositions(ROOT)
    fall = [p for p in props if p.p.value == ARKG + "captured" and p.o.value == ID + "place/panjshir-province"
            and p.s.value == ID + "organization/taliban"]
    assert fall and all(p.status != "Contested" for p in fall)
