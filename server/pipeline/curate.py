"""Compile curated claims (``graphs/curation/*.yaml``) into Turtle.

Curators write each claim as a short YAML record with its verbatim quote; this module
finds the quote in the article text and computes the code-point offsets, the short
prefix and suffix, the proposition IRI and the typed dates, so nobody counts characters
by hand. The output is deterministic: the same YAML and corpus give the same bytes.

Outputs, per article slug ``a``:

- ``graphs/claims/a.ttl``            the claims and their evidence (graph ``claims``)
- ``graphs/entities/agents-a.ttl``   the article's anonymous/collective speakers (``entities``)
- ``graphs/sources/comments-a.ttl``  the article's reader comments (``sources``)

>>> proposition_slug("https://w3id.org/arkg/id/person/x",
...                  "https://w3id.org/arkg/ontology#visited",
...                  NamedNode("https://w3id.org/arkg/id/place/y"))
'2a6a4b250395dc93'
>>> locate("He said “yes” and he said “yes”.", "said “yes”", occurrence=2)
(21, 31)
>>> typed_date("--09-17")
(<Literal value=--09-17 datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#gMonthDay>>, 'MonthDay')
>>> ntriples_line("http://a/s", "http://a/p", Literal('say "hi"', language="en"))
'<http://a/s> <http://a/p> "say \\\\"hi\\\\""@en .'
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pyoxigraph import Literal, NamedNode, RdfFormat, Triple, serialize

from server.model.namespaces import ARKG, ID, NS, PREFIXES, entity_iri

CONTEXT_CHARS = 32  # length of oa:prefix / oa:suffix
XSD = PREFIXES["xsd"]
STANCES = {"Asserts", "Denies", "ReportsUncertain", "Questions"}
# role concepts (arkg:RoleScheme in the ontology) are written ``o: role/VicePresident``
ROLE_REF = re.compile(r"role/([A-Z][A-Za-z]+)")
ACCOUNT_KINDS = {"Account", "JointStatement", "RelayedAccount"}
_ACCOUNT_COMMENT = {
    "Account": "What was said once, counted as one independent source however many claims rest on it.",
    "JointStatement": "One statement signed by several speakers: one independent source, not one per signatory.",
    "RelayedAccount": "One source relaying what several parties think: one independent source, not one per party.",
}
# vocabulary prefixes only: entity, claim and proposition IRIs stay whole, as curators search for them
TURTLE_PREFIXES = {k: v for k, v in PREFIXES.items() if k not in ("wd", "dbr", "sh", "void", "dcat")}
RDF = NS["rdf"]


class CurationError(ValueError):
    """A curated record that cannot be compiled; the message says which and why."""


@dataclass(frozen=True)
class Output:
    path: Path
    text: str | None  # None: the file must not exist (an article without agents or comments)


def ntriples_line(s: str, p: str, o: NamedNode | Literal) -> str:
    """The N-Triples line ``<s> <p> o .`` of a triple, written by pyoxigraph's N-Triples
    serialiser (the canonical form the proposition hash is defined over)."""
    triple = Triple(NamedNode(s), NamedNode(p), o)
    return serialize([triple], format=RdfFormat.N_TRIPLES).decode("utf-8").rstrip("\n")


def proposition_slug(s: str, p: str, o: NamedNode | Literal) -> str:
    """First 16 hex digits of SHA-256 over the N-Triples line ``<s> <p> o .``."""
    return hashlib.sha256(ntriples_line(s, p, o).encode("utf-8")).hexdigest()[:16]


def locate(text: str, quote: str, *, occurrence: int = 1) -> tuple[int, int]:
    """Code-point (start, end) of the ``occurrence``-th appearance of ``quote``."""
    start = -1
    for _ in range(occurrence):
        start = text.find(quote, start + 1)
        if start < 0:
            break
    if start < 0:
        raise CurationError(f"quote not found (occurrence {occurrence}): {quote!r}")
    return start, start + len(quote)


_DATE_FORMS = [
    (re.compile(r"^\d{4}-\d{2}-\d{2}$"), "date", "Day"),
    (re.compile(r"^\d{4}-\d{2}$"), "gYearMonth", "Month"),
    (re.compile(r"^\d{4}$"), "gYear", "Year"),
    (re.compile(r"^--\d{2}-\d{2}$"), "gMonthDay", "MonthDay"),
]


def typed_date(value: str) -> tuple[Literal, str]:
    """Typed literal and precision concept for a date as the text states it."""
    value = str(value)
    for pattern, dtype, precision in _DATE_FORMS:
        if pattern.match(value):
            return Literal(value, datatype=NamedNode(XSD + dtype)), precision
    raise CurationError(
        f"date {value!r} is not YYYY-MM-DD, YYYY-MM, YYYY or --MM-DD; keep vaguer times as *_time_text"
    )


def _ref(ref: str, where: str) -> NamedNode:
    """``kind/slug`` to the entity IRI."""
    if not isinstance(ref, str) or ref.count("/") != 1:
        raise CurationError(f"{where}: {ref!r} is not a kind/slug reference")
    kind, slug = ref.split("/")
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug):
        raise CurationError(f"{where}: slug {slug!r} must be lowercase ASCII words joined by '-'")
    return NamedNode(entity_iri(kind, slug))


def _object(claim: dict, where: str) -> NamedNode | Literal:
    if "o" in claim:
        ref = claim["o"]
        role = ROLE_REF.fullmatch(ref) if isinstance(ref, str) else None
        if role:
            return NamedNode(ARKG + role.group(1))
        return _ref(ref, where)
    if "o_literal" not in claim:
        raise CurationError(f"{where}: needs o (kind/slug) or o_literal")
    dtype = claim.get("o_datatype")
    if dtype:
        prefix, _, local = dtype.partition(":")
        return Literal(str(claim["o_literal"]).lower() if local == "boolean" else str(claim["o_literal"]),
                       datatype=NamedNode(PREFIXES[prefix] + local))
    return Literal(str(claim["o_literal"]))


def turtle(banner: str, blocks: list[list[Triple]]) -> str:
    """Turtle text of ``blocks`` (each a group of triples about one thing), written by
    pyoxigraph's serialiser: prefixes once, a blank line between blocks, input order kept."""
    out = [banner]
    for i, block in enumerate(blocks):
        text = serialize(block, format=RdfFormat.TURTLE, prefixes=TURTLE_PREFIXES).decode("utf-8")
        lines = text.splitlines(keepends=True)
        body = [line for line in lines if not line.startswith("@prefix ")]
        if i == 0:
            out.extend(line for line in lines if line.startswith("@prefix "))
        out.append("\n")
        out.extend(line.replace("\t", "    ") for line in body)
    return "".join(out)


def _t(s, p, o) -> Triple:
    return Triple(s, p, o)


def _int(n: int) -> Literal:
    return Literal(str(n), datatype=NamedNode(XSD + "integer"))


def _en(text: str) -> Literal:
    return Literal(text, language="en")


def compile_article(doc: dict, corpus: Path, graphs: Path) -> list[Output]:
    """Compile one curation document into its Turtle outputs."""
    article = doc["article"]
    text = (corpus / doc["seed"]).read_text(encoding="utf-8")
    article_iri = NamedNode(entity_iri("article", article))
    banner = (
        f"# GENERATED by `arkg curate` from graphs/curation/{article}.yaml; edit that file, not this one.\n"
    )
    outputs = []

    agent_blocks = []
    for agent in doc.get("agents") or []:
        iri = _ref(f"agent/{agent['slug']}", f"agent {agent['slug']}")
        if not agent["slug"].startswith(article + "-"):
            raise CurationError(f"agent {agent['slug']}: slug must start with the article slug {article}-")
        block = [_t(iri, RDF.type, NS["arkg"].AnonymousAgent), _t(iri, RDF.type, NS["prov"].Agent),
                 _t(iri, NS["rdfs"].label, _en(agent["label"])),
                 _t(iri, NS["schema"].description,
                    _en(agent.get("description", "Speaker described in the article as: " + agent["label"])))]
        if agent.get("acted_on_behalf_of"):
            block.append(_t(iri, NS["prov"].actedOnBehalfOf, _ref(agent["acted_on_behalf_of"], agent["slug"])))
        block.append(_t(iri, NS["dcterms"].source, article_iri))
        agent_blocks.append(block)
    # no file at all for an article without such speakers (an empty one would only hold prefixes)
    outputs.append(Output(graphs / "entities" / f"agents-{article}.ttl",
                          turtle(banner, agent_blocks) if agent_blocks else None))

    comment_blocks = []
    for comment in doc.get("comments") or []:
        iri = NamedNode(entity_iri("comment", f"{article}-{comment['id']}"))
        start, end = locate(text, comment["quote"], occurrence=comment.get("occurrence", 1))
        block = [_t(iri, RDF.type, NS["schema"].Comment),
                 _t(iri, NS["schema"].isPartOf, article_iri),
                 _t(iri, NS["arkg"].sourceFile, Literal(doc["seed"])),
                 _t(iri, NS["schema"].position, _int(start))]
        if comment.get("author_name"):
            block.append(_t(iri, NS["arkg"].commentAuthorName, Literal(str(comment["author_name"]))))
        block.append(_t(iri, NS["rdfs"].label, _en("Reader comment " + comment["id"] + " on " + doc.get("title", article))))
        comment_blocks.append(block)
        comment_blocks.append([_t(article_iri, NS["schema"].comment, iri)])
    outputs.append(Output(graphs / "sources" / f"comments-{article}.ttl",
                          turtle(banner, comment_blocks) if comment_blocks else None))

    blocks = []
    accounts = {}
    for account in doc.get("accounts") or []:
        slug = account["slug"]
        where = f"{article} account {slug}"
        iri = NamedNode(f"{article_iri.value}#{slug}")
        kind = account.get("kind", "Account")
        if kind not in ACCOUNT_KINDS:
            raise CurationError(f"{where}: kind {kind!r} is not one of {sorted(ACCOUNT_KINDS)}")
        signatories = [_ref(a, where) for a in account.get("attributed_to") or []]
        if not signatories:
            raise CurationError(f"{where}: attributed_to names nobody")
        if kind == "JointStatement" and len(signatories) < 2:
            raise CurationError(f"{where}: a JointStatement needs two or more signatories")
        quote = account["quote"]
        start, end = locate(text, quote, occurrence=account.get("occurrence", 1))
        block = [_t(iri, RDF.type, NS["arkg"][kind]), _t(iri, RDF.type, NS["prov"].Entity),
                 _t(iri, NS["rdfs"].label, _en(account["label"])),
                 _t(iri, NS["rdfs"].comment, _en(account.get("comment") or _ACCOUNT_COMMENT[kind]))]
        block += [_t(iri, NS["prov"].wasAttributedTo, who) for who in signatories]
        block += [_t(iri, NS["dcterms"].source, article_iri),
                  _t(iri, NS["oa"].hasSelector, NamedNode(f"{iri.value}-quote"))]
        blocks.append(block)
        blocks.append(_quote_selector(NamedNode(f"{iri.value}-quote"), quote, text, start, end))
        accounts[slug] = iri

    seen = set()
    for claim in doc.get("claims") or []:
        cid = claim.get("id")
        where = f"{article} {cid}"
        if not cid or cid in seen:
            raise CurationError(f"{where}: missing or repeated id")
        seen.add(cid)
        stance = claim.get("stance")
        if stance not in STANCES:
            raise CurationError(f"{where}: stance {stance!r} is not one of {sorted(STANCES)}")
        s = _ref(claim["s"], where)
        p = NamedNode(ARKG + claim["p"])
        o = _object(claim, where)
        claimant = _ref(claim["claimant"], where)
        quote = claim["quote"]
        start, end = locate(text, quote, occurrence=claim.get("occurrence", 1))
        iri = NamedNode(f"{ID}claim/{article}-{cid}")
        prop = NamedNode(f"{ID}proposition/{proposition_slug(s.value, p.value, o)}")
        source = _ref(claim["source"], where) if claim.get("source") else article_iri
        arkg = NS["arkg"]
        block = [_t(iri, RDF.type, arkg.Claim), _t(iri, RDF.type, RDF.Statement),
                 _t(iri, NS["rdfs"].label, _en(claim.get("label") or _default_label(claim))),
                 _t(iri, RDF.subject, s), _t(iri, RDF.predicate, p), _t(iri, RDF.object, o),
                 _t(iri, arkg.claimant, claimant), _t(iri, arkg.stance, arkg[stance])]
        for inter in claim.get("intermediaries") or []:
            block.append(_t(iri, arkg.intermediary, _ref(inter, where)))
        if claim.get("account"):
            if claim["account"] not in accounts:
                raise CurationError(f"{where}: account {claim['account']!r} is not declared under accounts:")
            block.append(_t(iri, arkg.independentSource, accounts[claim["account"]]))
        block.append(_t(iri, NS["prov"].wasDerivedFrom, source))
        precisions = set()
        for key, prop_name in (("event_date", "eventDate"), ("statement_date", "statementDate")):
            if claim.get(key) is not None:
                lit, precision = typed_date(claim[key])
                precisions.add(precision)
                block.append(_t(iri, arkg[prop_name], lit))
        for key, prop_name in (("event_time_text", "eventTimeText"), ("statement_time_text", "statementTimeText")):
            if claim.get(key):
                if claim[key] not in text:
                    raise CurationError(f"{where}: {key} {claim[key]!r} is not verbatim in the text")
                block.append(_t(iri, arkg[prop_name], Literal(str(claim[key]))))
        if claim.get("event_time_text") or claim.get("statement_time_text"):
            if not precisions:
                precisions.add("TextOnly")
        for precision in sorted(precisions):
            block.append(_t(iri, arkg.timePrecision, arkg[precision]))
        if claim.get("note"):
            block.append(_t(iri, NS["skos"].editorialNote, Literal(str(claim["note"]))))
        evidence = NamedNode(f"{iri.value}#evidence")
        block += [_t(iri, arkg.evidence, evidence), _t(iri, arkg.aboutProposition, prop),
                  _t(evidence, RDF.type, NS["oa"].SpecificResource),
                  _t(evidence, NS["oa"].hasSource, article_iri),
                  _t(evidence, NS["oa"].hasSelector, NamedNode(f"{iri.value}#quote")),
                  _t(evidence, NS["oa"].hasSelector, NamedNode(f"{iri.value}#position"))]
        block += _quote_selector(NamedNode(f"{iri.value}#quote"), quote, text, start, end)
        position = NamedNode(f"{iri.value}#position")
        block += [_t(position, RDF.type, NS["oa"].TextPositionSelector),
                  _t(position, NS["oa"].start, _int(start)), _t(position, NS["oa"].end, _int(end))]
        blocks.append(block)
    outputs.append(Output(graphs / "claims" / f"{article}.ttl", turtle(banner, blocks)))
    return outputs


def _quote_selector(iri: NamedNode, quote: str, text: str, start: int, end: int) -> list[Triple]:
    return [_t(iri, RDF.type, NS["oa"].TextQuoteSelector),
            _t(iri, NS["oa"].exact, Literal(quote)),
            _t(iri, NS["oa"].prefix, Literal(text[max(0, start - CONTEXT_CHARS):start])),
            _t(iri, NS["oa"].suffix, Literal(text[end:end + CONTEXT_CHARS]))]


def _default_label(claim: dict) -> str:
    obj = claim.get("o") or repr(claim.get("o_literal"))
    return f"{claim['claimant']} {claim['stance'].lower()}: {claim['s']} {claim['p']} {obj}"


LINKS_FILE = Path("links") / "external-ids.yaml"
WIKIDATA = PREFIXES["wd"]
DBPEDIA = PREFIXES["dbr"]


def compile_links(doc: dict, graphs: Path) -> Output:
    """``graphs/entities/links.ttl``: for each reference row whose entity is in the data,
    owl:sameAs to Wikidata and skos:exactMatch to DBpedia, each reified as an owl:Axiom that
    records where the identifier was verified."""
    owl, arkg = NS["owl"], NS["arkg"]
    blocks = []
    for row in doc.get("links") or []:
        where = f"{LINKS_FILE} {row.get('name')!r}"
        if not row.get("entity"):
            if not row.get("not_in_data"):
                raise CurationError(f"{where}: needs entity (kind/slug) or not_in_data (why not)")
            continue
        entity = _ref(row["entity"], where)
        targets = []
        if row.get("wikidata"):
            targets.append(("wikidata", owl.sameAs, NamedNode(WIKIDATA + str(row["wikidata"]))))
        if row.get("enwiki_title"):
            targets.append(("dbpedia", NS["skos"].exactMatch, NamedNode(DBPEDIA + str(row["enwiki_title"]))))
        if not targets:
            raise CurationError(f"{where}: neither wikidata nor enwiki_title")
        blocks.append([_t(entity, pred, target) for _, pred, target in targets])
        for kind, pred, target in targets:
            axiom = NamedNode(f"{entity.value}#link-{kind}")
            blocks.append([_t(axiom, RDF.type, owl.Axiom), _t(axiom, owl.annotatedSource, entity),
                           _t(axiom, owl.annotatedProperty, pred), _t(axiom, owl.annotatedTarget, target),
                           _t(axiom, arkg.verifiedIn, Literal(str(row["evidence"]))),
                           _t(axiom, arkg.referenceRow, Literal(str(row["name"])))])
    banner = f"# GENERATED by `arkg curate` from graphs/curation/{LINKS_FILE}; edit that file, not this one.\n"
    return Output(graphs / "entities" / "links.ttl", turtle(banner, blocks))


def compile_all(curation_dir: Path, corpus: Path, graphs: Path) -> list[Output]:
    """Compile every ``*.yaml`` under ``curation_dir`` (and the links file); deterministic order."""
    outputs: list[Output] = []
    links = curation_dir / LINKS_FILE
    if links.is_file():
        try:
            outputs.append(compile_links(yaml.safe_load(links.read_text(encoding="utf-8")), graphs))
        except (KeyError, TypeError) as exc:
            raise CurationError(f"{LINKS_FILE}: malformed record ({exc!r})") from exc
    for path in sorted(curation_dir.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            outputs.extend(compile_article(doc, corpus, graphs))
        except (KeyError, TypeError) as exc:
            raise CurationError(f"{path.name}: malformed record ({exc!r})") from exc
        except CurationError as exc:
            raise CurationError(f"{path.name}: {exc}") from exc
    return outputs


def stale(outputs: list[Output]) -> list[Path]:
    """The outputs whose file differs: missing, changed, or present but due to go."""
    found = []
    for out in outputs:
        exists = out.path.exists()
        if out.text is None:
            if exists:
                found.append(out.path)
        elif not exists or out.path.read_text(encoding="utf-8") != out.text:
            found.append(out.path)
    return found


def write(outputs: list[Output]) -> list[Path]:
    """Write outputs whose content changed and delete those due to go; return their paths."""
    changed = stale(outputs)
    for out in outputs:
        if out.path not in changed:
            continue
        if out.text is None:
            out.path.unlink()
        else:
            out.path.parent.mkdir(parents=True, exist_ok=True)
            out.path.write_text(out.text, encoding="utf-8")
    return changed
