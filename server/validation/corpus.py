"""Checks that need the article texts: each text's SHA-256 against arkg:sha256, and every
quote verbatim at its code-point offsets with its prefix before and suffix after it.

The texts are not published with the data, so these checks run only when a corpus
directory is given (``arkg validate --corpus DIR``).

>>> from .loading import load
>>> check(load(), paths.default_corpus_dir()) if paths.default_corpus_dir().is_dir() else []
[]
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from server import paths
from server.model.namespaces import sparql_prefixes
from server.validation.loading import Inputs
from server.validation.violations import Violation, short

_ARTICLES = sparql_prefixes() + """
SELECT ?article ?file ?sha WHERE {
    ?article a/rdfs:subClassOf* schema:NewsArticle ; arkg:sourceFile ?file .
    OPTIONAL { ?article arkg:sha256 ?sha }
}"""

_QUOTES = sparql_prefixes() + """
SELECT ?claim ?article ?exact ?prefix ?suffix ?start ?end WHERE {
    ?claim arkg:evidence ?evidence .
    ?evidence oa:hasSource ?article ; oa:hasSelector ?quote, ?position .
    ?quote oa:exact ?exact .
    ?position oa:start ?start ; oa:end ?end .
    OPTIONAL { ?quote oa:prefix ?prefix }
    OPTIONAL { ?quote oa:suffix ?suffix }
}"""

_TIME_TEXTS = sparql_prefixes() + """
SELECT ?claim ?article ?path ?phrase WHERE {
    ?claim a arkg:Claim ; arkg:evidence/oa:hasSource ?article ; ?path ?phrase .
    FILTER (?path IN (arkg:eventTimeText, arkg:statementTimeText))
}"""


def check(inputs: Inputs, corpus: Path) -> list[Violation]:
    """Every mismatch between the graph and the texts in ``corpus``."""
    found: list[Violation] = []
    texts: dict[str, str] = {}

    def problem(node: str, path: str, message: str) -> None:
        found.append(Violation(file=inputs.origin(node) or "", focus=short(node), path=path,
                               message=message, shape="corpus check"))

    for row in inputs.store.query(_ARTICLES):
        article, name = row["article"].value, row["file"].value
        seed = corpus / name
        if not seed.is_file():
            problem(article, "arkg:sourceFile", f"Article {short(article)}: its seed file {name} is not in the corpus {corpus}.")
            continue
        data = seed.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if row["sha"] is None or row["sha"].value.lower() != digest:
            problem(article, "arkg:sha256", f"Article {short(article)}: arkg:sha256 is "
                    f"{row['sha'].value if row['sha'] else 'missing'} but {name} hashes to {digest}: "
                    "the text changed or the hash is wrong.")
            continue
        texts[article] = data.decode("utf-8")

    for row in inputs.store.query(_QUOTES):
        claim, article = row["claim"].value, row["article"].value
        if article not in texts:
            continue  # reported above (or not an article: the shapes report that)
        text, exact = texts[article], row["exact"].value
        start, end = int(row["start"].value), int(row["end"].value)
        where = f"in {short(article)}"
        if text[start:end] != exact:
            at = text.find(exact)
            hint = f"the quote occurs at {at}" if at >= 0 else "the quote occurs nowhere in the text"
            problem(claim, "oa:exact", f"Claim {short(claim)}: the quote {exact!r} is not at oa:start {start} .. "
                    f"oa:end {end} {where} (found {text[start:end]!r} there; {hint}); recompile with `arkg curate`.")
            continue
        for part, expected, actual in (("oa:prefix", row["prefix"], text[max(0, start - _len(row["prefix"])):start]),
                                       ("oa:suffix", row["suffix"], text[end:end + _len(row["suffix"])])):
            if expected is not None and expected.value != actual:
                problem(claim, part, f"Claim {short(claim)}: {part} {expected.value!r} does not match the text "
                        f"{where} next to the quote ({actual!r}); recompile with `arkg curate`.")

    for row in inputs.store.query(_TIME_TEXTS):
        claim, article, phrase = row["claim"].value, row["article"].value, row["phrase"].value
        if article in texts and phrase not in texts[article]:
            problem(claim, short(row["path"].value), f"Claim {short(claim)}: {short(row['path'].value)} "
                    f"{phrase!r} is not verbatim in the text of {short(article)}.")
    return sorted(found)


def _len(literal) -> int:
    return len(literal.value) if literal is not None else 0
