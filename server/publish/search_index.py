"""Build the search index (``BuildLayout.search_index``): SQLite FTS5 beside the store.

Oxigraph has no text index, so the build writes one, read-only at serving time
(server/views/search.py). Tables:

- ``entities``: one row per person, organisation, place, event, group or anonymous agent:
  IRI, kind, label, description and how many claims mention it (as subject, object or
  claimant), the popularity that orders hits within a rank.
- ``names``: every spelling of an entity, as written, folded and as an ASCII key
  (server/model/search_text.py): ``rdfs:label``, each ``skos:altLabel`` and the identifier's
  local name. Rows are inserted from the most to the least mentioned entity, so FTS5, which
  returns matches in rowid order, yields the most mentioned first: a type-ahead query reads
  only as many matches as it shows, never sorts them all.
- ``names_words`` (FTS5, prefix indexes) for type-ahead and ``names_tri`` (FTS5 trigram) for
  substrings and fuzzy candidates, both over the ASCII key, in two columns: labels and
  alternative labels (``label_key``), identifiers (``id_key``), so a query for names never
  wades through identifiers (every synthetic slug starts with "bench"); ``name_grams`` says in how many
  names each trigram occurs, so a query reads the lists of its rarest trigrams only.
- ``quotes`` and ``quotes_fts``: each claim's verbatim evidence quote (``oa:exact``), with its
  words folded (``quotes.words``) and ``quote_terms`` (in how many quotes each word occurs):
  the query side computes bm25 from these over a bounded set of candidates, because FTS5's
  own ``bm25()`` recounts every query word's quotes on each query (a scan of the whole list:
  60-300 ms at 5M triples for words found in every quote).

The file is written beside ``out`` and renamed over it when complete, so a server never
opens a half-built index and a rebuild replaces it in one step.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

from server.model.namespaces import ARKG, ID, PREFIXES
from server.model.search_text import INDEX_SCHEMA, KINDS, ascii_key, fold, quote_words, slug_words

RDF, RDFS, SKOS, SCHEMA, OA = (PREFIXES[p] for p in ("rdf", "rdfs", "skos", "schema", "oa"))
SOURCE_RANK = {"label": 0, "alias": 1, "entityId": 2}  # which spelling wins when an entity matches twice

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE entities (id INTEGER PRIMARY KEY, iri TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
                       label TEXT NOT NULL, description TEXT NOT NULL, claims INTEGER NOT NULL);
CREATE TABLE names (id INTEGER PRIMARY KEY, entity INTEGER NOT NULL REFERENCES entities(id), kind TEXT NOT NULL,
                    name TEXT NOT NULL, folded TEXT NOT NULL, key TEXT NOT NULL, source TEXT NOT NULL,
                    label_key TEXT NOT NULL, id_key TEXT NOT NULL);
CREATE INDEX names_by_name ON names(name);
CREATE INDEX names_by_key ON names(key);
CREATE INDEX names_by_folded ON names(folded);
CREATE VIRTUAL TABLE names_words USING fts5(label_key, id_key, content='names', content_rowid='id',
                                            tokenize='unicode61', prefix='1 2 3 4');
CREATE VIRTUAL TABLE names_tri USING fts5(label_key, id_key, content='names', content_rowid='id', tokenize='trigram');
CREATE TABLE name_grams (gram TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE quotes (id INTEGER PRIMARY KEY, claim TEXT NOT NULL, label TEXT NOT NULL, quote TEXT NOT NULL,
                     words TEXT NOT NULL);
CREATE TABLE quote_terms (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
CREATE VIRTUAL TABLE quotes_fts USING fts5(quote, content='quotes', content_rowid='id',
                                           tokenize='unicode61 remove_diacritics 2');
"""


@dataclass(frozen=True)
class IndexBuilt:
    path: Path
    entities: int
    names: int
    quotes: int
    seconds: float


def _kind(iri: str) -> str | None:
    if not iri.startswith(ID):
        return None
    kind, _, slug = iri[len(ID):].partition("/")
    return kind if kind in KINDS and slug and "#" not in slug else None


def _select(store: ox.Store, query: str):
    """Rows of a SPARQL SELECT over every graph. Joins, filters and counts run in the engine:
    at 5M triples, reading the same quads one by one into Python took most of the build."""
    prefixes = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in ("rdf", "rdfs", "skos", "schema", "oa"))
    return store.query(prefixes + f"PREFIX arkg: <{ARKG}>\n" + query, use_default_graph_as_union=True)


def _entity_filter(var: str) -> str:
    return "FILTER(" + " || ".join(f'STRSTARTS(STR({var}), "{ID}{kind}/")' for kind in KINDS) + ")"


def _entities(store: ox.Store):
    labels: dict[str, str] = {}
    for row in _select(store, f"SELECT ?e ?l WHERE {{ ?e rdfs:label ?l . {_entity_filter('?e')} FILTER(isLiteral(?l)) }}"):
        iri, term = row["e"].value, row["l"]
        if _kind(iri) and (iri not in labels or (term.language == "en" and term.value < labels[iri])):
            labels[iri] = term.value  # one label per entity: English first, then the least; the same every build
    aliases: dict[str, set[str]] = defaultdict(set)
    for row in _select(store, f"SELECT ?e ?l WHERE {{ ?e skos:altLabel ?l . {_entity_filter('?e')} FILTER(isLiteral(?l)) }}"):
        if row["e"].value in labels:
            aliases[row["e"].value].add(row["l"].value)
    descriptions: dict[str, str] = {}
    for row in _select(store, f"SELECT ?e ?d WHERE {{ ?e schema:description ?d . {_entity_filter('?e')} FILTER(isLiteral(?d)) }}"):
        iri, term = row["e"].value, row["d"]
        if iri in labels and (iri not in descriptions or (term.language == "en" and term.value < descriptions[iri])):
            descriptions[iri] = term.value
    claims = {}
    # Claims only: a proposition (derived graph) has an rdf:subject and rdf:object too, and
    # counting it showed Ahmad Massoud with 173 claims instead of 108.
    for row in _select(store, "SELECT ?e (COUNT(DISTINCT ?c) AS ?n) WHERE { "
                              "?c rdf:subject|rdf:object|arkg:claimant ?e ; a arkg:Claim . FILTER(isIRI(?e)) } GROUP BY ?e"):
        if row["e"].value in labels:
            claims[row["e"].value] = int(row["n"].value)
    return labels, aliases, descriptions, claims


def _quotes(store: ox.Store):
    """(claim IRI, claim label, quote) for every claim's evidence quote."""
    rows = set()
    for row in _select(store, "SELECT ?c ?l ?q WHERE { ?c arkg:evidence/oa:hasSelector/oa:exact ?q . "
                              "OPTIONAL { ?c rdfs:label ?l } FILTER(isIRI(?c) && isLiteral(?q)) }"):
        claim = row["c"].value
        label = row["l"].value if row["l"] is not None else claim.rsplit("/", 1)[-1]
        rows.add((claim, label, row["q"].value))
    return sorted(rows)


def _write(db: sqlite3.Connection, store: ox.Store) -> tuple[int, int, int]:
    labels, aliases, descriptions, claims = _entities(store)
    # Most mentioned first: rowids carry popularity (see the module docstring).
    order = sorted(labels, key=lambda iri: (-claims.get(iri, 0), iri))
    names = 0
    for number, iri in enumerate(order, start=1):
        kind = _kind(iri)
        db.execute("INSERT INTO entities VALUES (?, ?, ?, ?, ?, ?)",
                   (number, iri, kind, labels[iri], descriptions.get(iri) or "", claims.get(iri, 0)))
        spellings = [(labels[iri], "label")] + [(a, "alias") for a in sorted(aliases[iri]) if a != labels[iri]]
        spellings.append((slug_words(iri), "entityId"))
        seen = set()
        for name, source in spellings:
            if name in seen or not ascii_key(name):
                continue
            seen.add(name)
            key = ascii_key(name)
            db.execute("INSERT INTO names (entity, kind, name, folded, key, source, label_key, id_key) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (number, kind, name, fold(name), key, source,
                                                         "" if source == "entityId" else key, key if source == "entityId" else ""))
            names += 1
    quotes = _quotes(store)
    terms: Counter[str] = Counter()
    rows, lengths = [], 0
    for claim, label, quote in quotes:
        words = quote_words(quote)
        terms.update(set(words))
        lengths += len(words)
        rows.append((claim, label, quote, " ".join(words)))
    db.executemany("INSERT INTO quotes (claim, label, quote, words) VALUES (?, ?, ?, ?)", rows)
    db.executemany("INSERT INTO quote_terms VALUES (?, ?)", sorted(terms.items()))
    for table in ("names_words", "names_tri", "quotes_fts"):
        db.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
        db.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    db.execute("CREATE VIRTUAL TABLE temp.grams USING fts5vocab(main, names_tri, row)")
    db.execute("INSERT INTO name_grams SELECT term, doc FROM temp.grams")
    db.execute("DROP TABLE temp.grams")
    db.execute("INSERT INTO meta VALUES ('quote_words_mean', ?)", (str(lengths / len(rows) if rows else 1.0),))
    return len(order), names, len(quotes)


def build_search_index(store: ox.Store, out: Path, *, version: str = "") -> IndexBuilt:
    """Index the entities and quotes of ``store`` into a new SQLite file at ``out`` (replaced atomically)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        db = sqlite3.connect(tmp)
        try:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.executescript(_SCHEMA)
            with db:
                entities, names, quotes = _write(db, store)
                db.executemany("INSERT INTO meta VALUES (?, ?)", [
                    ("schema", str(INDEX_SCHEMA)), ("version", version), ("entities", str(entities)),
                    ("names", str(names)), ("quotes", str(quotes)), ("built", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))])
            db.execute("ANALYZE")
            db.execute("VACUUM")
        finally:
            db.close()
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return IndexBuilt(out, entities, names, quotes, time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    """``python -m server.publish.search_index STORE_DIR OUT``: index an on-disk store (bench, manual builds)."""
    import argparse

    parser = argparse.ArgumentParser(description="Build ARKG's search index from an on-disk pyoxigraph store.")
    parser.add_argument("store", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    built = build_search_index(ox.Store.read_only(str(args.store)), args.out)
    print(f"{built.path}: {built.entities} entities, {built.names} names, {built.quotes} quotes in {built.seconds:.1f} s")


if __name__ == "__main__":
    main()
