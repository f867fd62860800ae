"""Mutation tests: every kind of error the shapes exist for, made in a copy of the real data,
must be reported with its message, on the right node and property.

One copy carries all the SHACL mutations, each on a different node, and is validated once
(the shapes are checked in one 3 s run instead of thirty); every mutation is its own test
case, which fails if its violation is missing. A separate case breaks a copy in one way
only and requires exactly that one violation, so the broken copies are not reporting noise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
import pytest

from server.pipeline import derive
from server.validation.violations import short
from server.validation.run import validate

from tests.validation_tools import CORPUS, ID, ROOT, DataCopy, claim_file, claims, select

ARTICLES = "graphs/sources/articles.ttl"
ENTITIES = "graphs/entities/entities.ttl"
OBJECT_PROPERTY = "?claim rdf:predicate ?p ; rdf:object ?o . ?p a owl:ObjectProperty ."


@dataclass(frozen=True)
class Expect:
    focus: str  # full IRI
    path: str  # short form, e.g. "rdf:subject"
    fragment: str  # a piece of the message

    def found_in(self, violations) -> bool:
        return any(v.focus == short(self.focus) and v.path == self.path and self.fragment in v.message
                   for v in violations)


class Picker:
    """Hands out claims no other mutation touches, so mutations cannot mask each other."""

    def __init__(self, alone: bool = False):
        self.used: set[str] = set()
        # alone: only claims that are the single claim of their proposition, so that a broken
        # triple does not also break the agreement with fellow claims (OnePropositionOneTriple)
        self.extra = ("?claim arkg:aboutProposition ?prop . FILTER NOT EXISTS { ?fellow arkg:aboutProposition ?prop . "
                      "FILTER (?fellow != ?claim) }") if alone else ""

    def claim(self, where: str = "") -> str:
        claim = claims(where + " " + self.extra, exclude=self.used)[0]
        self.used.add(claim)
        return claim


MUTATIONS = {}


def mutation(fn):
    MUTATIONS[fn.__name__] = fn
    return fn


# --- listed first: it reserves the claims of a contested proposition
@mutation
def asserted_triple_with_denial(data: DataCopy, pick: Picker):
    contested = next(p for p in derive.propositions(data.root)[0] if p.status == "Contested")
    pick.used.update(contested.claims)
    data.append("graphs/asserted/asserted.ttl", f"{contested.s} {contested.p} {contested.o} .")
    return [Expect(c, "arkg:aboutProposition", "stated as a plain triple")
            for c in contested.claims_with(derive.DENYING)]


def _missing(prop: str, fragment: str):
    def apply(data: DataCopy, pick: Picker):
        claim = pick.claim()
        data.edit_claim(claim, rf"^    {prop} [^\n]*\n", "")
        return [Expect(claim, prop, fragment)]
    return apply


for _prop, _name, _fragment in [
        ("rdf:subject", "subject", "must have exactly one rdf:subject"),
        ("rdf:predicate", "predicate", "must have exactly one rdf:predicate"),
        ("rdf:object", "object", "must have exactly one rdf:object"),
        ("arkg:claimant", "claimant", "must have exactly one arkg:claimant"),
        ("arkg:stance", "stance", "must have exactly one arkg:stance"),
        ("prov:wasDerivedFrom", "article", "must name exactly one article or reader comment"),
        ("arkg:evidence", "evidence", "must have exactly one arkg:evidence")]:
    MUTATIONS[f"claim_without_{_name}"] = _missing(_prop, _fragment)


@mutation
def predicate_outside_closed_set(data: DataCopy, pick: Picker):
    claim = pick.claim()
    data.edit_claim(claim, r"^    rdf:predicate \S+ ;", "    rdf:predicate <https://w3id.org/arkg/ontology#hostedAndPaidFor> ;")
    return [Expect(claim, "rdf:predicate", "outside the closed set of claim predicates")]


@mutation
def predicate_that_is_not_a_claim_predicate(data: DataCopy, pick: Picker):
    claim = pick.claim()
    data.edit_claim(claim, r"^    rdf:predicate \S+ ;", "    rdf:predicate <http://schema.org/location> ;")
    return [Expect(claim, "rdf:predicate", "outside the closed set of claim predicates")]


@mutation
def literal_where_entity_is_due(data: DataCopy, pick: Picker):
    claim = pick.claim(OBJECT_PROPERTY)
    data.edit_claim(claim, r"^    rdf:object \S+ ;", '    rdf:object "Dushanbe" ;')
    return [Expect(claim, "rdf:object", 'is the literal "Dushanbe"')]


@mutation
def unknown_iri_as_object(data: DataCopy, pick: Picker):
    claim = pick.claim(OBJECT_PROPERTY)
    data.edit_claim(claim, r"^    rdf:object \S+ ;", f"    rdf:object <{ID}place/atlantis> ;")
    return [Expect(claim, "rdf:object", "is not a known entity")]


@mutation
def unknown_iri_as_subject(data: DataCopy, pick: Picker):
    claim = pick.claim()
    data.edit_claim(claim, r"^    rdf:subject <[^>]+> ;", f"    rdf:subject <{ID}person/nobody-of-that-name> ;")
    return [Expect(claim, "rdf:subject", "is not a known entity")]


@mutation
def domain_violation(data: DataCopy, pick: Picker):
    claim = pick.claim("?claim rdf:predicate ?p . ?p rdfs:domain prov:Agent .")
    event = select("?e a arkg:Event")[0]["e"]
    data.edit_claim(claim, r"^    rdf:subject <[^>]+> ;", f"    rdf:subject <{event}> ;")
    return [Expect(claim, "rdf:subject", "needs a prov:Agent there")]


@mutation
def range_violation(data: DataCopy, pick: Picker):
    claim = pick.claim("?claim rdf:predicate ?p . ?p rdfs:range arkg:Place .")
    person = select("?p a arkg:Person")[0]["p"]
    data.edit_claim(claim, r"^    rdf:object \S+ ;", f"    rdf:object <{person}> ;")
    return [Expect(claim, "rdf:object", "needs a arkg:Place there")]


@mutation
def range_violation_of_a_union_range(data: DataCopy, pick: Picker):
    claim = pick.claim("?claim rdf:predicate ?p . ?p rdfs:range/owl:unionOf ?members .")
    event = select("?e a arkg:Event")[0]["e"]
    data.edit_claim(claim, r"^    rdf:object \S+ ;", f"    rdf:object <{event}> ;")
    return [Expect(claim, "rdf:object", "needs one of the classes of arkg:AgentGroupOrPlace")]


@mutation
def entity_object_for_datatype_predicate(data: DataCopy, pick: Picker):
    claim = pick.claim("?claim rdf:predicate arkg:characterisedAs .")
    person = select("?p a arkg:Person")[0]["p"]
    data.edit_claim(claim, r"^    rdf:object [^\n]* ;$", f"    rdf:object <{person}> ;")
    return [Expect(claim, "rdf:object", "a datatype property whose range is xsd:string")]


@mutation
def stance_outside_scheme(data: DataCopy, pick: Picker):
    claim = pick.claim("?claim arkg:stance arkg:Asserts .")
    data.edit_claim(claim, r"^    arkg:stance arkg:Asserts ;", "    arkg:stance arkg:Contested ;")
    return [Expect(claim, "arkg:stance", "outside arkg:StanceScheme")]


@mutation
def offsets_not_spanning_the_quote(data: DataCopy, pick: Picker):
    claim = pick.claim()
    data.edit_claim(claim, r"oa:end (\d+) \.", lambda m: f"oa:end {int(m.group(1)) + 5} .")
    return [Expect(claim, "oa:end", "oa:end - oa:start is")]


@mutation
def event_date_before_1900(data: DataCopy, pick: Picker):
    claim = pick.claim()
    data.edit_claim(claim, r"^(    arkg:stance [^\n]*\n)", r'\1    arkg:eventDate "1899-12-31"^^xsd:date ;\n')
    return [Expect(claim, "arkg:eventDate", "outside 1900..today")]


@mutation
def statement_date_in_the_future(data: DataCopy, pick: Picker):
    claim = pick.claim()
    data.edit_claim(claim, r"^(    arkg:stance [^\n]*\n)", r'\1    arkg:statementDate "2999-01"^^xsd:gYearMonth ;\n')
    return [Expect(claim, "arkg:statementDate", "outside 1900..today")]


@mutation
def publication_date_in_the_future(data: DataCopy, pick: Picker):
    row = select("?a schema:datePublished ?d")[0]
    data.replace(ARTICLES, f'schema:datePublished "{row["d"]}"', f'schema:datePublished "3{row["d"][1:]}"')
    return [Expect(row["a"], "schema:datePublished", "outside 1900..today")]


def _anonymous(index: int, prop: str, target: str):
    def apply(data: DataCopy, pick: Picker):
        agent = select("?a a arkg:AnonymousAgent")[index]["a"]
        article = select(f"<{agent}> dcterms:source ?s")[0]["s"].rsplit("/", 1)[-1]
        relative = f"graphs/entities/agents-{article}.ttl"
        data.append(relative, f"<{agent}> <{prop}> <{target}> .")
        return [Expect(agent, short(prop), "anonymous agents are never linked externally")]
    return apply


MUTATIONS["anonymous_speaker_with_wikidata_link"] = _anonymous(
    0, "http://www.w3.org/2002/07/owl#sameAs", "http://www.wikidata.org/entity/Q4115189")
MUTATIONS["anonymous_speaker_with_dbpedia_match"] = _anonymous(
    1, "http://www.w3.org/2004/02/skos/core#exactMatch", "http://dbpedia.org/resource/Sandbox")


@mutation
def two_entities_share_a_wikidata_id(data: DataCopy, pick: Picker):
    linked = select("?e owl:sameAs ?wd . FILTER STRSTARTS(STR(?wd), STR(wd:))")[0]
    other = select("?p a arkg:Person . FILTER NOT EXISTS { ?p owl:sameAs ?any }")[0]["p"]
    data.append(ENTITIES, f"<{other}> <http://www.w3.org/2002/07/owl#sameAs> <{linked['wd']}> .")
    return [Expect(other, "owl:sameAs", "share the Wikidata id"),
            Expect(linked["e"], "owl:sameAs", "share the Wikidata id")]


@mutation
def entity_without_label(data: DataCopy, pick: Picker):
    person = select("?p a arkg:Person")[1]["p"]
    data.edit_block(ENTITIES, person, r"^    rdfs:label [^\n]*\n", "")
    return [Expect(person, "rdfs:label", "needs exactly one English rdfs:label")]


@mutation
def entity_without_description(data: DataCopy, pick: Picker):
    place = select("?p a arkg:Place")[0]["p"]
    data.edit_block(ENTITIES, place, r"schema:description ", "schema:disambiguatingDescription ")
    return [Expect(place, "schema:description", "needs exactly one English one-line schema:description")]


@mutation
def entity_without_type(data: DataCopy, pick: Picker):
    data.append(ENTITIES, f'<{ID}person/someone-untyped> <http://schema.org/description> "Someone."@en .')
    return [Expect(f"{ID}person/someone-untyped", "rdf:type", "no rdf:type")]


@mutation
def article_with_malformed_sha256(data: DataCopy, pick: Picker):
    row = select("?a arkg:sha256 ?h")[0]
    data.replace(ARTICLES, f'"{row["h"]}"', f'"{row["h"][:-1]}"')
    return [Expect(row["a"], "arkg:sha256", "64 lowercase hex digits")]


@mutation
def article_without_source_file(data: DataCopy, pick: Picker):
    row = select("?a arkg:sourceFile ?f ; a schema:NewsArticle")[0]
    data.replace(ARTICLES, f'    arkg:sourceFile "{row["f"]}" ;\n', "")
    return [Expect(row["a"], "arkg:sourceFile", "needs exactly one arkg:sourceFile")]


@mutation
def ontology_addition_without_label_comment_domain_range(data: DataCopy, pick: Picker):
    term = "https://w3id.org/arkg/ontology#frobnicated"
    data.append("ontology/arkg.ttl", f"<{term}> a owl:ObjectProperty, arkg:ClaimPredicate .")
    return [Expect(term, "rdfs:label", "has no rdfs:label"), Expect(term, "rdfs:comment", "has no rdfs:comment"),
            Expect(term, "rdfs:domain", "has no rdfs:domain"), Expect(term, "rdfs:range", "has no rdfs:range")]


# --- issue 13: independent sources, roles, counts, links
@mutation
def status_contradicts_counts(data: DataCopy, pick: Picker):
    single = next(p for p in derive.propositions(ROOT)[0]  # the real data: the copy is broken by now
                  if p.status == "SingleSource" and not set(p.claims) & pick.used)
    pick.used.update(single.claims)
    data.edit_block("graphs/derived/propositions.ttl", single.iri, r"arkg:status arkg:SingleSource", "arkg:status arkg:Uncontested")
    return [Expect(single.iri, "arkg:status", "contradicts its counts")]


@mutation
def joint_statement_with_one_signatory(data: DataCopy, pick: Picker):
    account = select("?a a arkg:JointStatement")[0]["a"]
    relative = claim_file(account.replace("/article/", "/claim/").split("#")[0] + "-c001")
    data.edit_block(relative, account, r"prov:wasAttributedTo <[^>]+> , ", "prov:wasAttributedTo ")
    return [Expect(account, "prov:wasAttributedTo", "fewer than two signatories")]


@mutation
def title_literal_where_role_exists(data: DataCopy, pick: Picker):
    claim = pick.claim("?claim rdf:predicate arkg:holdsRole ; rdf:object arkg:FormerVicePresident .")
    data.edit_claim(claim, r"^    rdf:predicate \S+ ;", "    rdf:predicate arkg:holdsTitle ;")
    data.edit_claim(claim, r"^    rdf:object \S+ ;", '    rdf:object "Former Afghan Vice President" ;')
    return [Expect(claim, "rdf:object", "the role concept")]


@mutation
def link_not_from_reference_file(data: DataCopy, pick: Picker):
    person = select("?p a arkg:Person . FILTER NOT EXISTS { ?p owl:sameAs ?any }")[-1]["p"]
    target = "http://www.wikidata.org/entity/Q42"
    owl = "http://www.w3.org/2002/07/owl#"
    data.append(ENTITIES, f"<{person}> <{owl}sameAs> <{target}> .\n"
                f"<{person}#link-made-up> a <{owl}Axiom> ; <{owl}annotatedSource> <{person}> ; "
                f"<{owl}annotatedProperty> <{owl}sameAs> ; <{owl}annotatedTarget> <{target}> ; "
                f'<https://w3id.org/arkg/ontology#verifiedIn> "a guess" .')
    return [Expect(person, "owl:sameAs", "not from the reference file")]


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """One copy of the data with every mutation applied; validated once."""
    data, pick = DataCopy(tmp_path_factory.mktemp("broken")), Picker()
    expected = {name: apply(data, pick) for name, apply in MUTATIONS.items()}
    return expected, validate(data.root)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_mutation_is_reported(broken, name):
    expected, result = broken
    assert not result.passed
    for expect in expected[name]:
        assert expect.found_in(result.violations), (
            f"{name}: no violation on {short(expect.focus)} {expect.path} saying {expect.fragment!r}; got:\n"
            + "\n".join(f"{v.focus} {v.path}: {v.message}" for v in result.violations
                        if v.focus == short(expect.focus)))


def test_every_violation_names_a_file_and_says_where(broken):
    _, result = broken
    for v in result.violations:  # the message itself names the node at fault
        assert v.focus in v.message, v
    stated = [v for v in result.violations if v.file]
    assert stated and all(v.file.startswith(("graphs/", "ontology/")) for v in stated)
    claim_files = {v.file for v in stated if v.focus.startswith("claim/")}
    assert all("(from graphs/curation/" in f for f in claim_files), claim_files


def test_one_mutation_gives_exactly_its_violation(tmp_path):
    data, pick = DataCopy(tmp_path), Picker(alone=True)
    (expect,) = MUTATIONS["unknown_iri_as_object"](data, pick)
    result = validate(data.root)
    assert len(result.violations) == 1, result.text
    assert expect.found_in(result.violations)
    assert result.text.startswith("ARKG validation FAILED: 1 violation")
    assert "(from graphs/curation/" in result.text


# --- with the corpus: what only the texts can show
needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the corpus {CORPUS} is absent: "
                                  "quote and hash checks need the article texts")


@needs_corpus
def test_corpus_mutations_are_reported(tmp_path):
    data, pick = DataCopy(tmp_path), Picker()
    shifted = pick.claim()  # same length, wrong place: only the text can tell
    data.edit_claim(shifted, r"oa:start (\d+) ;", lambda m: f"oa:start {int(m.group(1)) + 1} ;")
    data.edit_claim(shifted, r"oa:end (\d+) \.", lambda m: f"oa:end {int(m.group(1)) + 1} .")
    prefixed = pick.claim('?claim arkg:evidence/oa:hasSelector/oa:prefix ?p . FILTER (STRLEN(?p) > 5)')
    data.edit_claim(prefixed, r'oa:prefix "[^\n]*" ;', 'oa:prefix "not what precedes" ;')
    article = select("?a arkg:sha256 ?h")[-1]
    data.replace(ARTICLES, f'"{article["h"]}"', f'"{hashlib.sha256(b"another text").hexdigest()}"')

    assert validate(data.root).passed  # the graph alone cannot see any of these
    result = validate(data.root, corpus=CORPUS)
    expected = [Expect(shifted, "oa:exact", "is not at oa:start"), Expect(prefixed, "oa:prefix", "does not match the text"),
                Expect(article["a"], "arkg:sha256", "hashes to")]
    for expect in expected:
        assert expect.found_in(result.violations), result.text


@pytest.mark.slow
def test_fast_engine_agrees_with_pyshacl_alone(broken, tmp_path_factory):
    """The SPARQL constraints run set-at-a-time through pyoxigraph (server/validation/sparql.py);
    pyshacl running every constraint itself (35 s instead of 3 s) must find the same."""
    expected, fast = broken
    data, pick = DataCopy(tmp_path_factory.mktemp("reference")), Picker()
    for apply in MUTATIONS.values():
        apply(data, pick)
    reference = validate(data.root, reference=True)
    assert {(v.focus, v.path) for v in reference.violations} == {(v.focus, v.path) for v in fast.violations}
